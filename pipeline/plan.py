"""A run's plan: the options checked into validated settings, then the input files listed, before any work."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import secrets

from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import incremental, local
from pipeline.commit import compaction_markers, published_runs
from pipeline.options import NewsbeamOptions, configs, fetch_config
from schemas.layout import (
    FEED_POLLS_STATE,
    INGESTED_STATE,
    SIGNATURES_STATE,
    STORY_TERMS_STATE,
    VALIDATORS_STATE,
    OutputLayout,
    StagingLayout,
)
from schemas.records import UTC
from transforms.clean import CleanConfig
from transforms.copies import CopyConfig
from transforms.fetch import FetchConfig, FetchSources
from transforms.stories import StoryConfig


class UsageError(Exception):
    """A problem with the command line, reported without a traceback."""


# A run id names folders under the output: no separators, no '..', nothing a shell or a URL would mangle.
RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


def new_run_id(now: dt.datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def _is_dir(path: str) -> bool:
    return "://" not in path and os.path.isdir(path)


def expand_inputs(inputs: list[str]) -> tuple[list[str], dict[str, incremental.FileMeta]]:
    """Patterns to read (a directory becomes dir/**) and the files they match, {path: (size in bytes,
    modification time)}; fails on a pattern that matches nothing, except an existing directory: an empty inbox
    is a run of 0 inputs (a scheduled run or a follow cycle with nothing new), not an error."""
    patterns, files = [], {}
    for raw in inputs:
        is_dir = _is_dir(raw)
        pattern = raw.rstrip("/") + "/**" if is_dir else raw
        matched = FileSystems.match([pattern])[0].metadata_list
        if not matched and not is_dir:
            raise UsageError(f"--input {raw!r} matches no files")
        patterns.append(pattern)
        files.update((_identity(m.path), (m.size_in_bytes or 0, float(m.last_updated_in_seconds or 0.0))) for m in matched)
    return patterns, files


def _identity(path: str) -> str:
    """A file's identity: its resolved absolute path (local), so `seeds`, `./seeds/` and an absolute glob name one
    file once; object-store paths as they are."""
    return path if "://" in path else os.path.realpath(path)


def _check_fetch_sources(sources: FetchSources) -> None:
    for path in (*sources.feeds, *sources.urls):
        if "://" in path and path.split("://", 1)[0] in ("http", "https"):
            continue
        if not FileSystems.exists(path):
            raise UsageError(f"{path!r} does not exist (give --feeds an OPML/text file or a feed URL, --urls a text file)")
    for url in sources.sitemaps:
        if not url.lower().startswith(("http://", "https://")):
            raise UsageError(f"--sitemap {url!r} is not an http(s) URL")


@dataclasses.dataclass(frozen=True)
class Settings:
    """What the command line asks for, checked: the run's identity, output, sources and algorithm configs."""

    run_id: str
    started: dt.datetime
    layout: OutputLayout
    inputs: tuple[str, ...]
    sources: FetchSources
    clean: CleanConfig
    copies: CopyConfig
    stories: StoryConfig
    fetch: FetchConfig
    max_input_bytes: int
    incremental: bool
    workers: int  # cores as requested (--workers): 0 = automatic
    max_failed_share: float | None = None  # above it a run exits 4 (pipeline/status.py)
    refresh: bool = False  # request pages earlier runs ingested again
    poll_hints: bool = False  # skip feeds whose own hints say they are not due (follow mode)
    input_format: str = "auto"  # the kind of every input file, or "auto": by extension (transforms/read/formats.py)

    @property
    def output(self) -> str:
        return self.layout.root


def settings_from(options: PipelineOptions) -> Settings:
    """Validated settings from the parsed options; raises UsageError with a readable message."""
    nb = options.view_as(NewsbeamOptions)
    sources = FetchSources(tuple(nb.feeds or ()), tuple(nb.urls or ()), tuple(nb.sitemaps or ()))
    if not nb.inputs and not sources:
        raise UsageError("give at least one --input (a file, directory or glob), --feeds, --urls or --sitemap")
    try:
        clean, copies, stories = configs(nb)
        fetch_cfg = fetch_config(nb)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    output = nb.output.rstrip("/") or "."
    if "://" not in output:
        output = os.path.abspath(output)
        if os.path.exists(output) and not os.path.isdir(output):
            raise UsageError(f"--output {nb.output!r} exists and is not a directory")
    if nb.max_failed_share is not None and not 0.0 <= nb.max_failed_share <= 1.0:
        raise UsageError(f"--max_failed_share must be between 0 and 1, got {nb.max_failed_share}")
    layout = OutputLayout(output)
    started = dt.datetime.now(UTC)
    run_id = nb.run_id or new_run_id(started)
    if not RUN_ID.fullmatch(run_id):
        raise UsageError(f"--run_id {run_id!r} is not a safe name: use letters, digits, '.', '_' and '-' (at most 128, "
                         "not starting with '.' or '-')")
    if FileSystems.match([layout.run_table_dir("runs", run_id) + "/*"])[0].metadata_list or run_id in {
            r for _, r in compaction_markers(layout)}:
        raise UsageError(f"run {run_id!r} already exists in {output}: choose another --run_id")
    return Settings(run_id, started, layout, tuple(nb.inputs or ()), sources, clean, copies, stories, fetch_cfg,
                    nb.max_input_bytes, not nb.standalone, nb.workers, nb.max_failed_share, nb.refresh, nb.poll_hints,
                    nb.input_format)


@dataclasses.dataclass(frozen=True)
class RunPlan:
    """Everything `build()` needs: the settings, the files to read, and where earlier state is."""

    settings: Settings
    patterns: tuple[str, ...]
    files: dict  # {path: (size, mtime)} of the files this run reads
    skipped_files: int  # files an earlier run read unchanged (incremental runs)
    workers: int  # Beam worker processes newsbeam starts itself (1: in this process); 0 when the runner options decide
    has_history: bool = False  # the output holds published runs this run continues

    @property
    def staging(self) -> StagingLayout:
        return StagingLayout(self.settings.layout.staging(self.settings.run_id))

    @property
    def input_bytes(self) -> int:
        return sum(size for size, _ in self.files.values())

    @property
    def validators_glob(self) -> str:
        return self.settings.layout.state_glob(VALIDATORS_STATE)

    @property
    def ingested_glob(self) -> str | None:
        """Earlier runs' ingested pages, when this run skips them (incremental, not --refresh)."""
        if not self.settings.incremental or self.settings.refresh:
            return None
        return self.settings.layout.state_glob(INGESTED_STATE)

    @property
    def polls_glob(self) -> str | None:
        """Earlier runs' feed polls, when this run honours the feeds' hints (--poll_hints, as follow sets)."""
        if not (self.settings.incremental and self.settings.poll_hints):
            return None
        return self.settings.layout.state_glob(FEED_POLLS_STATE)

    @property
    def earlier_globs(self) -> tuple[str, str, str] | None:
        """(articles, signatures, story terms) of earlier runs, when this run compares with them."""
        if not (self.settings.incremental and self.has_history):
            return None
        lay = self.settings.layout
        return lay.run_files_glob("articles"), lay.state_glob(SIGNATURES_STATE), lay.state_glob(STORY_TERMS_STATE)


def local_work(options: PipelineOptions, requested: int, input_bytes: int) -> local.LocalWork | None:
    """The processes a local run starts (see pipeline/local.py); None when the runner options decide."""
    try:
        return local.local_work(options, requested, input_bytes)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def plan_run(options: PipelineOptions, settings: Settings) -> RunPlan:
    """List the input files (skipping those earlier runs read, for an incremental run) and choose the workers.
    Called while the run holds the output's lock."""
    patterns, files = expand_inputs(list(settings.inputs)) if settings.inputs else ([], {})
    skipped = 0
    if settings.incremental and files:
        new = incremental.only_unread(files, incremental.read_before(settings.layout))
        skipped, files = len(files) - len(new), new
    _check_fetch_sources(settings.sources)
    work = local_work(options, settings.workers, sum(size for size, _ in files.values()))
    if work is not None:  # the cleaning processes are part of the cleaner's config: each worker's DoFns start them
        clean = dataclasses.replace(settings.clean, clean_processes=work.clean_processes, clean_in_flight=work.clean_in_flight)
        settings = dataclasses.replace(settings, clean=clean)
    has_history = settings.incremental and bool(published_runs(settings.layout))
    return RunPlan(settings, tuple(patterns), files, skipped, work.beam_workers if work else 0, has_history)
