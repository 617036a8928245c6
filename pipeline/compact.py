"""`newsbeam compact --output out/`: merge the per-run files of each UTC day into one file per table and state.

Months of 10-minute cycles leave thousands of small files, and every query opens them all. Compaction writes,
for each day (the runs' `started_at`) with more than one folder, `<table>/c~<day>~<gen>/part-0.parquet` (the
runs table: `run.parquet`), `_state/<state>/c~<day>~<gen>.parquet` and `_state/files/c~<day>~<gen>.jsonl`, holding exactly the live rows of those
runs, then publishes one marker `_compactions/<gen>.parquet` naming the folder of every run it covers. The views
(pipeline/views.py) read each run's rows from its newest marked folder, or from its own folder when no marker
names it, so before the marker a reader sees the old layout, after it the new one, never both. The replaced
files are deleted once their marker is `--grace` seconds old (default 600), by the first run or compaction
after that: a query that listed the files just before the switch can still read them meanwhile. All of it
under the output's lock (no run reads state meanwhile); a kill at any point leaves at most unmarked compacted
files (removed by the next run or compaction) or replaced files (removed later, as above), neither visible
to any view.
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import io
import os
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from pipeline import commit, incremental
from pipeline.plan import new_run_id
from pipeline.sql import connect
from schemas.layout import (
    COMPACTED_PREFIX,
    FEED_POLLS_STATE,
    INGESTED_STATE,
    PARQUET_STATES,
    SIGNATURES_STATE,
    STORY_TERMS_STATE,
    VALIDATORS_STATE,
    OutputLayout,
    is_compacted,
)
from schemas.records import UTC
from schemas.state import FEED_POLLS_SCHEMA, INGESTED_SCHEMA, SIGNATURES_SCHEMA, STORY_TERMS_SCHEMA, VALIDATORS_SCHEMA
from schemas.tables import ARTICLES_SCHEMA, REJECTS_SCHEMA, RUNS_SCHEMA, STORIES_SCHEMA
from transforms.parquet import read_table

# table -> (the view of its live per-run rows, its schema, the file name inside a folder)
TABLES = {
    "articles": ("article_rows", ARTICLES_SCHEMA, "part-0.parquet"),
    "stories": ("story_rows", STORIES_SCHEMA, "part-0.parquet"),
    "rejects": ("rejects", REJECTS_SCHEMA, "part-0.parquet"),
    "runs": ("runs", RUNS_SCHEMA, "run.parquet"),
}
STATE_SCHEMAS = {VALIDATORS_STATE: VALIDATORS_SCHEMA, SIGNATURES_STATE: SIGNATURES_SCHEMA, STORY_TERMS_STATE: STORY_TERMS_SCHEMA,
                 INGESTED_STATE: INGESTED_SCHEMA, FEED_POLLS_STATE: FEED_POLLS_SCHEMA}
assert set(STATE_SCHEMAS) == set(PARQUET_STATES)
# Sort order of a compacted state file: what its readers filter on, so row groups can be skipped by their min/max.
STATE_ORDER = {STORY_TERMS_STATE: "ts, run_id, article_id", INGESTED_STATE: "url, run_id"}
# Seconds a compaction's replaced files are kept after its switch, for queries that listed them just before it.
GRACE_S = 600.0
MARKER_SCHEMA = pa.schema([pa.field("folder", pa.string(), nullable=False), pa.field("run_id", pa.string(), nullable=False),
                           pa.field("day", pa.string(), nullable=False)])


def _write(path: str, table: pa.Table) -> None:
    folder = path.rsplit("/", 1)[0]
    if not FileSystems.exists(folder):
        FileSystems.mkdirs(folder)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", row_group_size=64 * 1024)
    commit.write_atomically(path, buf.getvalue())


def _as(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table`'s columns in `schema`'s order and types (DuckDB's result types are close, not exact); a column that
    files written by an earlier version lack is NULL, as the views show it."""
    columns = [table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
               for f in schema]
    return pa.Table.from_arrays(columns, schema=schema)


def live_folders(layout: OutputLayout, runs: list[str], markers: list[tuple[str, str]] | None = None) -> dict[str, str]:
    """run id -> the folder that holds its rows now: the newest marked compacted folder, or its own (`markers`:
    the (folder, run id) pairs to go by, by default every published marker's)."""
    newest: dict[str, str] = {}
    for folder, run_id in commit.compaction_markers(layout) if markers is None else markers:
        newest[run_id] = max(folder, newest.get(run_id, folder))
    return {r: newest.get(r, r) for r in runs}


def _state_files(layout: OutputLayout, state: str) -> list[str]:
    return sorted(m.path for m in FileSystems.match([layout.state_glob(state)])[0].metadata_list)


def _state_file_folder(path: str) -> str:
    return path.rsplit("/", 1)[1][: -len(".parquet")]


def remove_replaced(layout: OutputLayout, grace_s: float = 0.0) -> int:
    """Delete the table folders and state files no view reads any more: a compacted run's own folder, and
    compacted folders superseded by a newer marker; then markers whose every run a newer one covers. Only what
    markers published at least `grace_s` seconds ago replaced is deleted, so a query that listed the files before
    a switch can still open them; the rest waits for a later compaction."""
    every = commit.compaction_markers(layout)
    markers = every if grace_s <= 0 else commit.compaction_markers(layout, published_before=time.time() - grace_s)
    read_now = set(live_folders(layout, [r for _, r in every], every).values())
    live = set(live_folders(layout, [r for _, r in markers], markers).values()) | read_now
    compacted_runs = {r for _, r in markers}
    marked = {fo for fo, _ in markers}

    def replaced(name: str) -> bool:
        return (is_compacted(name) and name not in live and name in marked) or name in compacted_runs

    gone = []
    for table in TABLES:
        prefix = layout.table_dir(table) + "/"
        folders = {m.path[len(prefix):].split("/", 1)[0] for m in FileSystems.match([layout.run_files_glob(table)])[0].metadata_list}
        gone += [layout.run_table_dir(table, f) for f in folders if replaced(f)]
    for state in PARQUET_STATES:
        for path in _state_files(layout, state):
            name = _state_file_folder(path)
            if replaced(name) or commit._state_file_run(name, compacted_runs) in compacted_runs:
                gone.append(path)
    for m in FileSystems.match([layout.files_listings_glob()])[0].metadata_list:
        if replaced(m.path.rsplit("/", 1)[1][: -len(".jsonl")]):
            gone.append(m.path)
    if gone:
        FileSystems.delete(sorted(gone))
    for m in FileSystems.match([layout.compaction_markers_glob()])[0].metadata_list:
        with FileSystems.open(m.path) as f:
            folders = set(read_table(f, columns=["folder"])["folder"].to_pylist())
        if not folders & live and folders <= marked:
            FileSystems.delete([m.path])
    return len(gone)


def plan_days(layout: OutputLayout, con) -> dict[str, list[str]]:
    """day -> its runs, for the days whose runs' rows are in more than one folder (the others are compact already)."""
    by_day = collections.defaultdict(list)
    for run_id, started in con.execute("SELECT run_id, started_at FROM runs ORDER BY started_at, run_id").fetchall():
        by_day[started.astimezone(UTC).strftime("%Y-%m-%d")].append(run_id)
    folders = live_folders(layout, [r for runs in by_day.values() for r in runs])
    return {day: runs for day, runs in by_day.items() if len({folders[r] for r in runs}) > 1}


def compact(output: str, out=sys.stdout, grace_s: float = GRACE_S) -> dict:
    """Compact the output at `output`; returns {days, runs, files_before, files_after, removed}. What it replaces
    is deleted at its end only with `grace_s` 0; otherwise by the first run or compaction `grace_s` later."""
    layout = OutputLayout(output if "://" in output else os.path.abspath(output))
    gen = new_run_id(dt.datetime.now(UTC))
    with incremental.output_lock(layout, f"compact-{gen}", out):
        commit.remove_unpublished(layout)  # killed runs' and compactions' leftovers
        removed = remove_replaced(layout, grace_s)  # what earlier compactions replaced, once their grace is over
        before = _count_files(layout)
        con = connect(layout.root, read_only=False)  # it reads _state/ too, and writes temp tables
        days = plan_days(layout, con)
        marker_rows = []
        for day, runs in sorted(days.items()):
            folder = f"{COMPACTED_PREFIX}{day}~{gen}"
            con.execute("CREATE OR REPLACE TEMP TABLE _these AS SELECT unnest(?::VARCHAR[]) AS run_id", [runs])
            for table, (view, schema, name) in TABLES.items():
                rows = con.sql(f"SELECT * FROM {view} WHERE run_id IN (SELECT run_id FROM _these) ORDER BY run_id").to_arrow_table()
                if rows.num_rows or table == "runs":
                    _write(f"{layout.run_table_dir(table, folder)}/{name}", _as(rows, schema))
            for state, schema in STATE_SCHEMAS.items():
                files = _state_files(layout, state)
                if not files:
                    continue
                rows = con.sql("SELECT * FROM read_parquet($files, union_by_name = true) WHERE run_id IN (SELECT run_id FROM _these) "
                               f"ORDER BY {STATE_ORDER.get(state, 'run_id')}", params={"files": files}).to_arrow_table()
                if rows.num_rows:
                    _write(layout.compacted_state(state, folder), _as(rows, schema))
            _merge_listings(layout, runs, folder)
            marker_rows += [{"folder": folder, "run_id": r, "day": day} for r in runs]
        con.close()
        if marker_rows:
            # The switch: from this rename on, every view reads the compacted folders of these runs.
            _write(layout.compaction_marker(gen), pa.Table.from_pylist(marker_rows, schema=MARKER_SCHEMA))
        commit.write_views(layout)
        removed += remove_replaced(layout, grace_s)
        after = _count_files(layout)
    return {"days": len(days), "runs": len(marker_rows), "files_before": before, "files_after": after, "removed": removed}


def _merge_listings(layout: OutputLayout, runs: list[str], folder: str) -> None:
    """The files the runs read (`_state/files/`), from each run's live listing, into `<folder>.jsonl`."""
    sources = sorted({layout.files_listing(f) for f in live_folders(layout, runs).values()})
    parts = []
    for path in sources:
        if FileSystems.exists(path):
            with FileSystems.open(path) as f:
                text = f.read().decode("utf-8")
            parts.append(text if text.endswith("\n") or not text else text + "\n")
    if parts:
        commit.write_atomically(layout.files_listing(folder), "".join(parts).encode("utf-8"))


def _count_files(layout: OutputLayout) -> int:
    n = sum(len(FileSystems.match([layout.run_files_glob(t)])[0].metadata_list) for t in TABLES)
    n += len(FileSystems.match([layout.files_listings_glob()])[0].metadata_list)
    return n + sum(len(_state_files(layout, s)) for s in PARQUET_STATES)


def command(argv: list[str]) -> int:
    """`newsbeam compact --output DIR`: 0 when compacted, 2 when another run holds the output's lock."""
    parser = argparse.ArgumentParser(
        prog="newsbeam compact",
        description="Merge the per-run Parquet files of the tables and of _state/ into one file per UTC day, "
        "keeping every row and every view's result; readers see the old or the new layout, never a mix.",
    )
    parser.add_argument("--output", default="out", help="The output directory of `newsbeam run` (default: out).")
    parser.add_argument("--grace", type=float, default=GRACE_S, metavar="SECONDS",
                        help="Keep the files a compaction replaces this long after its switch, so that queries "
                        "running across it finish; the first run or compaction after that deletes them. 0 deletes "
                        f"them at once (default: {GRACE_S:.0f}).")
    args = parser.parse_args(argv)
    if args.grace < 0:
        parser.error("--grace must be 0 or more seconds")
    if "://" not in args.output and not os.path.isdir(args.output):
        print(f"newsbeam compact: error: output directory {args.output!r} does not exist", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    try:
        done = compact(args.output, grace_s=args.grace)
    except incremental.LockHeld as exc:
        print(f"newsbeam compact: error: {exc}", file=sys.stderr)
        return 2
    print(f"compacted {done['runs']} run(s) of {done['days']} day(s) in {time.monotonic() - t0:.1f}s: "
          f"{done['files_before']} -> {done['files_after']} files ({done['removed']} replaced files removed)")
    return 0
