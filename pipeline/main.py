"""Wire the stages into one Beam pipeline (`build`) and run it: plan, pipeline, checks, commit, summary (`run`)."""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import tempfile
import time

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import __version__, commit, compact, incremental, local
from pipeline.options import checked_argv
from pipeline.plan import RunPlan, UsageError, plan_run, settings_from
from pipeline.run_options import options_json
from pipeline.status import EXIT_CODES, FAILED, INTERRUPTED, USAGE, run_status
from pipeline.summary import print_summary
from schemas import counts as c
from schemas.records import UTC
from transforms import progress
from transforms.clean import StripBoilerplate
from transforms.copies import FindCopies, MarkEarlierCopies
from transforms.fetch import FetchArticles, WriteFetchState
from transforms.progress import LOG_SOURCE, CountProgress, ReportProgress
from transforms.progress import LOGGER as PROGRESS_LOGGER
from transforms.read import ReadArticles
from transforms.rejecting import REJECTS
from transforms.stories import GroupStories
from transforms.write import WriteRunState, WriteTables

__all__ = ["UsageError", "build", "command", "run"]


def build(p: beam.Pipeline, plan: RunPlan) -> None:
    """(ReadArticles + FetchArticles) -> StripBoilerplate [-> MarkEarlierCopies] -> FindCopies -> GroupStories -> WriteTables.

    Reads the files the run's listing names, fetches the feeds, URL lists and sitemaps, and stages every table
    and state file under the plan's staging folder (the driver commits them).
    """
    s, staging = plan.settings, plan.staging
    read = p | "ReadArticles" >> ReadArticles(max_bytes=s.max_input_bytes, listing=staging.listing,
                                                  input_format=s.input_format)
    # (label, PCollection[RawArticle]) for each source of raw articles: "Files" are read where they are cleaned
    # (one-article files, parts of JSONL and WARC files), "Records" spread after reading (.jsonl.gz lines)
    sources = [("Files", read["files"]), ("Records", read["records"])]
    early_rejects = [read[REJECTS]]
    if s.sources:
        fetched = p | "FetchArticles" >> FetchArticles(s.sources, s.fetch, plan.validators_glob, s.max_input_bytes,
                                                       plan.ingested_glob, plan.polls_glob)
        fetched | "WriteFetchState" >> WriteFetchState(staging.root, s.run_id)
        sources.append(("Fetched", fetched["articles"]))
        early_rejects.append(fetched[REJECTS])
    # Each source enters cleaning on its own (no Flatten of raw pages: see ReadArticles), and is counted.
    raw = tuple(pc | f"ReportProgress{name}" >> ReportProgress(progress.READ) for name, pc in sources)
    entered = [pc | f"CountEntering{name}" >> beam.Map(lambda _: c.ENTERED_CLEANING) for (name, _), pc in zip(sources, raw)]
    entered = entered | "AllEntering" >> beam.Flatten()
    cleaned = raw | "StripBoilerplate" >> StripBoilerplate(s.clean)
    articles = cleaned["articles"]
    articles | "CountCleaned" >> CountProgress(progress.CLEANED)
    terms_glob = None
    earlier = plan.earlier_globs
    if earlier is not None:
        articles_glob, signatures_glob, terms_glob = earlier
        marked = articles | "MarkEarlierCopies" >> MarkEarlierCopies(articles_glob, signatures_glob, s.copies)
        articles = marked["new"]
    copies = articles | "FindCopies" >> FindCopies(s.copies)
    stories = {"articles": articles, "copies": copies["copies"]} | "GroupStories" >> GroupStories(s.stories, terms_glob)
    rows = stories["articles"]
    # State for later incremental runs: the kept articles' signatures (near copies) and term counts (stories).
    {"articles": rows, "signatures": copies["signatures"], "terms": stories["terms"]} | "WriteRunState" >> WriteRunState(
        staging.root, s.run_id, s.copies.signature_setting, s.stories.vocab_bits
    )
    counts = entered
    if earlier is not None:
        rows = (rows, marked["copies"]) | "WithEarlierCopies" >> beam.Flatten()
        earlier_copies = marked["copies"] | "CountEarlierCopies" >> beam.Map(lambda _: c.EARLIER_COPIES)
        counts = (entered, earlier_copies) | "AllCounted" >> beam.Flatten()
    rejects = (*early_rejects, cleaned[REJECTS]) | "AllRejects" >> beam.Flatten()
    rows | "CountWritten" >> CountProgress(progress.WRITTEN)
    {"articles": rows, "stories": stories["stories"], "rejects": rejects, "counts": counts} | "WriteTables" >> WriteTables(
        staging.root, s.run_id, s.started
    )


def run(argv: list[str] | None = None, out=sys.stdout) -> dict:
    """Run the whole job; returns the `runs` row. Raises UsageError for bad options."""
    try:
        argv = checked_argv(list(argv or []))
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    options = PipelineOptions(argv)
    settings = settings_from(options)
    try:
        with incremental.output_lock(settings.layout, settings.run_id, out):
            removed = commit.remove_unpublished(settings.layout)
            if removed:
                print(f"note: removed what {len(removed)} run(s) that never finished left in {settings.output} "
                      f"({', '.join(sorted(removed))})", file=out, flush=True)
            compact.remove_replaced(settings.layout, compact.GRACE_S)  # what a compaction replaced, once its grace is over
            return _execute(options, plan_run(options, settings), out)
    except incremental.LockHeld as exc:
        raise UsageError(str(exc)) from exc


def _runner(options: PipelineOptions, plan: RunPlan, worker_log: str, stack: contextlib.ExitStack):
    """The runner for this run: in process, newsbeam's own worker processes, or whatever the options name."""
    if plan.workers == 1:
        return local.in_process_runner(options)
    if plan.workers > 1:
        stack.enter_context(local.relayed_worker_logs(PROGRESS_LOGGER, LOG_SOURCE))
        return local.process_runner(options, plan.workers, worker_log)
    return None


def _announce(plan: RunPlan, out) -> None:
    s = plan.settings
    workers = plan.workers
    cleaners = s.clean.clean_processes
    where = (f"{workers} worker processes" if workers > 1 else "runner-managed workers" if workers < 1
             else f"in-process, {cleaners} cleaning processes" if cleaners > 1 else "in-process")
    also = f" ({plan.skipped_files} more skipped: read by earlier runs)" if plan.skipped_files else ""
    print(f"newsbeam {s.run_id}: {len(plan.files)} file(s){also} from {len(plan.patterns)} input pattern(s) -> {s.output} ({where})",
          file=out, flush=True)


def _execute(options: PipelineOptions, plan: RunPlan, out) -> dict:
    """Run the pipeline of `plan`, check what it staged, commit it and print the summary."""
    from apache_beam.io.filesystems import FileSystems

    s, staging = plan.settings, plan.staging
    _announce(plan, out)
    t0 = time.monotonic()
    worker_log = os.path.join(tempfile.gettempdir(), f"newsbeam-{s.run_id}-workers.log")
    try:
        with contextlib.ExitStack() as stack:
            p = beam.Pipeline(runner=_runner(options, plan, worker_log, stack), options=options)
            incremental.write_listing(staging.listing, plan.files)
            build(p, plan)
            stack.enter_context(progress.progress_board(sys.stderr, None if s.sources else progress.expected_inputs(plan.files)))
            result = p.run()
            result.wait_until_finish()
        counts = commit.read_staged_json(staging.counts, required=True)
        commit.check_staged(staging, counts, commit.read_records_metric(result) if plan.files else None)
        fetch_hosts = commit.read_staged_json(staging.host_counts, required=False)  # host -> {requests, ok, not_modified, failed}
        commit.commit(s.layout, staging, s.run_id)
    except BaseException:
        # Nothing of a failed run reaches the tables; drop what it staged.
        if FileSystems.exists(staging.root):
            FileSystems.delete([staging.root])
        if os.path.exists(worker_log):
            print(f"newsbeam {s.run_id}: the worker processes' own output is in {worker_log}", file=sys.stderr)
        raise
    if os.path.exists(worker_log):
        os.remove(worker_log)
    status, status_text = run_status(counts, s.max_failed_share)
    row = commit.runs_row(
        counts,
        status=status,
        run_id=s.run_id,
        started_at=s.started,
        ended_at=dt.datetime.now(UTC),
        inputs=list(s.inputs) + list(s.sources.feeds) + list(s.sources.urls) + list(s.sources.sitemaps),
        file_count=len(plan.files),
        skipped_file_count=plan.skipped_files,
        output=s.output,
        options=options_json(options, plan),
        newsbeam_version=__version__,
    )
    commit.publish(s.layout, row)
    print_summary(row, time.monotonic() - t0, out, fetch_hosts, status_text)
    return row


class Interrupted(BaseException):
    """SIGTERM, treated like Ctrl-C: the run stops and nothing of it is committed."""


def _on_sigterm(signum, frame):
    raise Interrupted()


def _quiet_shutdown() -> None:
    """After an interrupt, Beam's threads and gRPC channels die noisily: keep their tracebacks off the terminal."""
    import logging
    import threading

    logging.disable(logging.CRITICAL)
    threading.excepthook = lambda args: None


def command(argv: list[str]) -> int:
    """`newsbeam run ...`; the exit statuses are in pipeline/status.py (0 ok, 1 failed, 2 usage, 3/4 sources
    failed, 5 internal error, 130 interrupted)."""
    import signal
    import traceback

    if any(a in ("-h", "--help") for a in argv):
        from pipeline.options import help_parser

        help_parser("newsbeam run").print_help()
        return 0
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        row = run(argv)
    except UsageError as exc:
        print(f"newsbeam run: error: {exc}", file=sys.stderr)
        return USAGE
    except (KeyboardInterrupt, Interrupted):
        _quiet_shutdown()
        print("\nnewsbeam run: interrupted; nothing of this run was committed", file=sys.stderr)
        return INTERRUPTED
    except Exception as exc:  # a failed run: one line here, the traceback in a file
        path = os.path.join(tempfile.gettempdir(), f"newsbeam-error-{os.getpid()}.txt")
        with open(path, "w", encoding="utf-8") as f:
            traceback.print_exc(file=f)
        print(f"newsbeam run: failed, nothing was committed: {type(exc).__name__}: {str(exc)[:500]}\n"
              f"  (traceback in {path})", file=sys.stderr)
        return FAILED
    finally:
        signal.signal(signal.SIGTERM, previous)
    return EXIT_CODES.get(row.get("status") or "ok", 0)
