"""Every path under `--output`, in one place: the tables, the state kept for later runs, a run's staging folder.

    <output>/<table>/<run_id>/*.parquet            articles, stories, rejects (committed runs)
    <output>/runs/<run_id>/run.parquet              one row per committed run, written last
    <output>/_state/files/<run_id>.jsonl            the files each run read (path, size, mtime)
    <output>/_state/fetch_hosts/<run_id>.json       requests per host of each run that fetched (follow's cycle lines)
    <output>/_state/<state>/<run_id>[-N].parquet    http_validators, signatures, story_terms, ingested_urls, feed_polls
    <output>/_state/only_new.lock                   held by an incremental run from reading state to commit
    <output>/_staging/<run_id>/...                  what a run writes before it commits (same names inside)
    <output>/views.sql                              the SQL views of the current state (pipeline/views.py)
    <output>/<table>/c~<day>~<gen>/part-0.parquet  (runs: run.parquet) many runs' rows merged by `newsbeam compact`
    <output>/_state/<state>/c~<day>~<gen>.parquet   the same for state
    <output>/_compactions/<gen>.parquet             which runs each compacted folder holds: written last, the switch

Paths are strings joined with '/', so they work for local folders and for Beam's object stores (gs://, s3://).
"""
from __future__ import annotations

import dataclasses

STAGING = "_staging"
STATE = "_state"
FILES_STATE = f"{STATE}/files"
FETCH_HOSTS_STATE = f"{STATE}/fetch_hosts"
VALIDATORS_STATE = f"{STATE}/http_validators"
SIGNATURES_STATE = f"{STATE}/signatures"
STORY_TERMS_STATE = f"{STATE}/story_terms"
INGESTED_STATE = f"{STATE}/ingested_urls"
FEED_POLLS_STATE = f"{STATE}/feed_polls"
PARQUET_STATES = (VALIDATORS_STATE, SIGNATURES_STATE, STORY_TERMS_STATE, INGESTED_STATE, FEED_POLLS_STATE)
LOCK = f"{STATE}/only_new.lock"
RUNS_TABLE = "runs"
COMPACTIONS = "_compactions"
# Folders (and state files) of compacted runs start with this: '~' is in no run id, so they never clash.
COMPACTED_PREFIX = "c~"


def is_compacted(name: str) -> bool:
    """True for the name of a compacted folder or state file (without .parquet)."""
    return name.startswith(COMPACTED_PREFIX)
VIEWS_FILE = "views.sql"  # the SQL views of the current state, for plain DuckDB

# Names inside a run's staging folder.
LISTING_FILE = "files.jsonl"  # the run's input files, one JSON object per line
COUNTS_FILE = "_counts.json"  # element counts the pipeline wrote (accounting and summary)
HOST_COUNTS_FILE = "_fetch_hosts.json"  # requests per host (fetch summary)


@dataclasses.dataclass(frozen=True)
class OutputLayout:
    """The paths of one output folder (`root`, without a trailing slash)."""

    root: str

    def __post_init__(self):
        object.__setattr__(self, "root", self.root.rstrip("/") or "/")

    def _join(self, *parts: str) -> str:
        return "/".join((self.root, *parts))

    # Committed tables.
    def table_dir(self, table: str) -> str:
        return self._join(table)

    def table_glob(self, table: str) -> str:
        """Every committed Parquet file of a table (DuckDB reads it with ** as any depth)."""
        return self._join(table, "**", "*.parquet")

    def run_table_dir(self, table: str, run_id: str) -> str:
        return self._join(table, run_id)

    def run_row(self, run_id: str) -> str:
        return self._join(RUNS_TABLE, run_id, "run.parquet")

    def run_files_glob(self, table: str) -> str:
        """Each committed run's Parquet files of a table (one level of run folders)."""
        return self._join(table, "*", "*.parquet")

    # State for later runs.
    def state_dir(self, state: str) -> str:
        return self._join(state)

    def state_glob(self, state: str) -> str:
        return self._join(state, "*.parquet")

    def files_listing(self, run_id: str) -> str:
        return self._join(FILES_STATE, f"{run_id}.jsonl")

    def files_listings_glob(self) -> str:
        return self._join(FILES_STATE, "*.jsonl")

    def fetch_hosts(self, run_id: str) -> str:
        """A committed run's requests per host (JSON: host -> {requests, ok, not_modified, failed})."""
        return self._join(FETCH_HOSTS_STATE, f"{run_id}.json")

    def fetch_hosts_glob(self) -> str:
        return self._join(FETCH_HOSTS_STATE, "*.json")

    # Compaction.
    def compaction_marker(self, gen: str) -> str:
        return self._join(COMPACTIONS, f"{gen}.parquet")

    def compaction_markers_glob(self) -> str:
        return self._join(COMPACTIONS, "*.parquet")

    def compacted_state(self, state: str, folder: str) -> str:
        return self._join(state, f"{folder}.parquet")

    @property
    def views_file(self) -> str:
        return self._join(VIEWS_FILE)

    @property
    def lock(self) -> str:
        return self._join(LOCK)

    # Staging.
    @property
    def staging_root(self) -> str:
        return self._join(STAGING)

    def staging(self, run_id: str) -> str:
        return self._join(STAGING, run_id)


@dataclasses.dataclass(frozen=True)
class StagingLayout:
    """The paths inside one run's staging folder (`root`): the same table and state names as the output."""

    root: str

    def __post_init__(self):
        object.__setattr__(self, "root", self.root.rstrip("/"))

    def table_prefix(self, table: str) -> str:
        """File name prefix of a staged table's Parquet shards."""
        return f"{self.root}/{table}/part"

    def table_glob(self, table: str) -> str:
        return f"{self.root}/{table}/*.parquet"

    def state_prefix(self, state: str) -> str:
        return f"{self.root}/{state}/part"

    def state_glob(self, state: str) -> str:
        return f"{self.root}/{state}/*.parquet"

    @property
    def listing(self) -> str:
        return f"{self.root}/{LISTING_FILE}"

    @property
    def counts(self) -> str:
        return f"{self.root}/{COUNTS_FILE}"

    @property
    def host_counts(self) -> str:
        return f"{self.root}/{HOST_COUNTS_FILE}"
