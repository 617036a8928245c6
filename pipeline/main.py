"""Wire the stages into one Beam pipeline (`build`) and run it with a commit step and a summary (`run`)."""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import secrets
import socket
import sys
import tempfile
import time

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import __version__, local
from pipeline.options import NewsbeamOptions, configs, fetch_config
from schemas.layout import SIGNATURES_STATE as SIGNATURES_DIR
from schemas.layout import STORY_TERMS_STATE as STORY_TERMS_DIR
from schemas.records import UTC
from schemas.tables import RUNS_SCHEMA
from transforms.boilerplate import CleanConfig, StripBoilerplate
from transforms.copies import CopyConfig, FindCopies, MarkEarlierCopies
from transforms.fetch import HOST_COUNTS_FILE, VALIDATORS_DIR, FetchArticles, FetchConfig, FetchSources, WriteFetchState
from transforms.progress import LOGGER as PROGRESS_LOGGER, ReportProgress
from transforms.read import REJECTS, ReadArticles
from transforms.stories import GroupStories, StoryConfig
from transforms.stories.state import WriteRunState
from transforms.write import COUNTS_FILE, REJECTS_AT, WriteTables

TABLES = ("articles", "stories", "rejects")
STAGING = "_staging"
ENTERED = "entered_cleaning"  # counter: articles that entered boilerplate removal (each must leave as an article or a reject)
EARLIER_COPIES = "earlier_copies"  # counter: articles --only_new marked as copies of earlier runs' articles


class UsageError(Exception):
    """A problem with the command line, reported without a traceback."""


def new_run_id(now: dt.datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def expand_inputs(inputs: list[str]) -> tuple[list[str], dict[str, tuple[int, float]]]:
    """Patterns to read (a directory becomes dir/**) and the files they match, {path: (size in bytes,
    modification time)}; fails on a pattern that matches nothing."""
    patterns, files = [], {}
    for raw in inputs:
        pattern = raw.rstrip("/") + "/**" if _is_dir(raw) else raw
        matched = FileSystems.match([pattern])[0].metadata_list
        if not matched:
            raise UsageError(f"--input {raw!r} matches no files")
        patterns.append(pattern)
        files.update((m.path, (m.size_in_bytes or 0, float(m.last_updated_in_seconds or 0.0))) for m in matched)
    return patterns, files


# Every committed run lists the files it read here (<run_id>.jsonl: {"path", "size", "mtime"} per line);
# --only_new skips a file listed with the same path, size and modification time.
FILES_DIR = "_state/files"
LISTING_FILE = "files.jsonl"


def read_before(output: str) -> set[tuple[str, int, float]]:
    """(path, size, mtime) of every file an earlier committed run into `output` read."""
    seen = set()
    for m in FileSystems.match([f"{output}/{FILES_DIR}/*.jsonl"])[0].metadata_list:
        with FileSystems.open(m.path) as f:
            for line in f.read().decode("utf-8").splitlines():
                if line.strip():
                    rec = json.loads(line)
                    seen.add((rec["path"], int(rec["size"]), float(rec["mtime"])))
    return seen


def write_listing(staging: str, files: dict[str, tuple[int, float]]) -> str:
    """The run's file list in its staging folder; the pipeline reads the files it names."""
    path = f"{staging}/{LISTING_FILE}"
    if not FileSystems.exists(staging):
        FileSystems.mkdirs(staging)
    lines = (json.dumps({"path": p, "size": size, "mtime": mtime}) + "\n" for p, (size, mtime) in sorted(files.items()))
    with FileSystems.create(path) as f:
        f.write("".join(lines).encode("utf-8"))
    return path


def leftover_staging(output: str) -> dict[str, int]:
    """{run id: bytes} of the staging folders in `output`: runs still going, or killed before they could
    remove what they staged (a failed run removes its own)."""
    left: dict[str, int] = {}
    prefix = f"{output}/{STAGING}/"
    for m in FileSystems.match([f"{prefix}**"])[0].metadata_list:
        if m.path.startswith(prefix) and "/" in m.path[len(prefix):]:
            run = m.path[len(prefix):].split("/", 1)[0]
            left[run] = left.get(run, 0) + (m.size_in_bytes or 0)
    return left


LOCK_FILE = "_state/only_new.lock"


def _lock_holder_alive(holder: dict) -> bool:
    """Whether the run that wrote a lock file may still be going: its process exists on this host, or it ran on
    another host (which this one cannot check)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, TypeError, ValueError):
        return True
    return True


def _take_lock(mine: str, path: str, output: str, out) -> None:
    """Hard-link the written lock file `mine` into place at `path`, which fails if `path` exists, so a lock
    appears whole or not at all; a lock left by a process that is gone is removed and taken once."""
    for _ in range(2):
        try:
            os.link(mine, path)
            return
        except FileExistsError:
            pass
        try:
            with open(path, encoding="utf-8") as f:
                holder = json.load(f)
        except (OSError, ValueError):
            holder = {}
        if holder and _lock_holder_alive(holder):
            raise UsageError(
                f"another --only_new run ({holder.get('run_id')}, pid {holder.get('pid')} on {holder.get('host')}, "
                f"started {holder.get('started_at')}) is writing to {output}; this run would read the same new "
                f"files, so it stops. If no such run is going, remove {path}."
            )
        print(f"note: taking over the lock of run {holder.get('run_id', '?')}, whose process is gone ({path})",
              file=out, flush=True)
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
    raise UsageError(f"could not take the lock {path}: another run keeps taking it")


@contextlib.contextmanager
def only_new_lock(output: str, run_id: str, out):
    """Hold `<output>/_state/only_new.lock` from reading the earlier runs' state to committing.

    Two --only_new runs into one output at once (a scheduled run that outlasts its interval) would read the
    same new files and both commit them, neither seeing the other's articles. The second one stops with a
    UsageError instead. A lock whose process is gone (killed run) is taken over. Local outputs only: object
    stores have no atomic create through Beam's FileSystems, so there the scheduler must not overlap runs.
    """
    if "://" in output:
        yield
        return
    path = os.path.join(output, LOCK_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mine = f"{path}.{os.getpid()}.{run_id}"
    with open(mine, "w", encoding="utf-8") as f:
        json.dump({"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
                   "started_at": dt.datetime.now(UTC).isoformat()}, f)
    try:
        _take_lock(mine, path, output, out)
    finally:
        os.remove(mine)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def _local_workers(options: PipelineOptions, requested: int, input_bytes: int) -> int:
    """Worker processes newsbeam starts itself (see pipeline/local.py); 0 when the runner options decide."""
    if not local.is_local_default(options):
        if requested:
            raise UsageError("--workers applies to the default DirectRunner; with --runner or --direct_running_mode "
                             "set that runner's own worker options instead")
        return 0
    try:
        return local.choose_workers(requested, input_bytes)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc


def _is_dir(path: str) -> bool:
    return "://" not in path and os.path.isdir(path)


def build(p: beam.Pipeline, listing: str, staging: str, run_id: str, started: dt.datetime,
          clean: CleanConfig, dedup: CopyConfig, story: StoryConfig, max_bytes: int,
          fetch: tuple[FetchSources, FetchConfig, str] | None = None, earlier: tuple[str, str, str] | None = None) -> None:
    """(ReadArticles + FetchArticles) -> StripBoilerplate [-> MarkEarlierCopies] -> FindCopies -> GroupStories -> WriteTables.

    `listing` names the input files (see write_listing); `fetch` is (sources, config, glob of earlier runs'
    validator files) when feeds/URLs/sitemaps are given; `earlier` is the globs of earlier runs' articles,
    signatures and story_terms files when copies and stories of them are looked for (--only_new).
    """
    read = p | "ReadArticles" >> ReadArticles(max_bytes=max_bytes, listing=listing)
    # (label, what its progress lines call it, PCollection[RawArticle]) for each source of raw articles
    sources = [("Files", "articles from files", read["files"]), ("Records", "JSONL/WARC records", read["records"])]
    early_rejects = [read[REJECTS]]
    if fetch is not None:
        fetch_sources, fetch_cfg, state_glob = fetch
        fetched = p | "FetchArticles" >> FetchArticles(fetch_sources, fetch_cfg, state_glob, max_bytes)
        fetched | "WriteFetchState" >> WriteFetchState(staging, run_id)
        sources.append(("Fetched", "fetched pages", fetched["articles"]))
        early_rejects.append(fetched[REJECTS])
    # Each source enters cleaning on its own (no Flatten of raw pages: see ReadArticles), and is counted.
    raw = tuple(pc | f"ReportProgress{name}" >> ReportProgress(f"{what} entering boilerplate removal") for name, what, pc in sources)
    entered = [pc | f"CountEntering{name}" >> beam.Map(lambda _: ENTERED) for (name, _, _), pc in zip(sources, raw)] | "AllEntering" >> beam.Flatten()
    cleaned = raw | "StripBoilerplate" >> StripBoilerplate(clean)
    articles = cleaned["articles"]
    terms_glob = None
    if earlier is not None:
        articles_glob, signatures_glob, terms_glob = earlier
        marked = articles | "MarkEarlierCopies" >> MarkEarlierCopies(articles_glob, signatures_glob, dedup)
        articles = marked["new"]
    copies = articles | "FindCopies" >> FindCopies(dedup)
    stories = {"articles": articles, "copies": copies["copies"]} | "GroupStories" >> GroupStories(story, terms_glob)
    rows = stories["articles"]
    # State for later --only_new runs: the kept articles' signatures (near copies) and term counts (stories).
    {"articles": rows, "signatures": copies["signatures"], "terms": stories["terms"]} | "WriteRunState" >> WriteRunState(
        staging, run_id, dedup.signature_setting, story.vocab_bits
    )
    counts = entered
    if earlier is not None:
        rows = (rows, marked["copies"]) | "WithEarlierCopies" >> beam.Flatten()
        counts = (entered, marked["copies"] | "CountEarlierCopies" >> beam.Map(lambda _: EARLIER_COPIES)) | "AllCounted" >> beam.Flatten()
    rejects = (*early_rejects, cleaned[REJECTS]) | "AllRejects" >> beam.Flatten()
    {"articles": rows, "stories": stories["stories"], "rejects": rejects, "counts": counts} | "WriteTables" >> WriteTables(
        staging, run_id, started
    )


def check_accounted(counts: dict, read_records: int | None) -> None:
    """Fail the run when articles went missing inside it, instead of committing a short table.

    Every article entering boilerplate removal leaves as an article row or an extract-stage reject;
    every record the file reader emitted (its metric, when the runner reports metrics) must have entered.
    """
    entered = counts.get(ENTERED, 0)
    left = counts.get("articles", 0) + counts.get(f"{REJECTS_AT}extract", 0)
    problems = []
    if left != entered:
        problems.append(f"{entered} articles entered boilerplate removal but {left} came out as articles or rejects")
    if read_records is not None and read_records > entered:
        problems.append(f"the readers emitted {read_records} records but only {entered} reached boilerplate removal")
    if problems:
        raise RuntimeError("input went missing inside the pipeline, so this run is not committed: " + "; ".join(problems))


def staged_rows(staging: str, table: str) -> int:
    """Rows in a table's staged Parquet files, from their footers."""
    total = 0
    for m in FileSystems.match([f"{staging}/{table}/*.parquet"])[0].metadata_list:
        with FileSystems.open(m.path) as f:
            total += pq.ParquetFile(f).metadata.num_rows
    return total


def check_written(counts: dict, written: dict) -> None:
    """Fail the run when the staged files do not hold the rows the pipeline counted."""
    short = [f"{table}: {written[table]} rows written, {counts.get(table, 0)} counted" for table in written
             if written[table] != counts.get(table, 0)]
    if short:
        raise RuntimeError("the staged tables do not match the run's counts, so this run is not committed: " + "; ".join(short))


def _read_records(result) -> int | None:
    """The file reader's `records` counter from the pipeline result, or None when the runner reports no metrics."""
    try:
        from apache_beam.metrics.metric import MetricsFilter

        found = result.metrics().query(MetricsFilter().with_namespace("read").with_name("records"))["counters"]
    except (NotImplementedError, AttributeError, KeyError):
        return None
    return sum(c.committed or 0 for c in found) if found else None


def _read_staged_json(staging: str, name: str, required: bool) -> dict:
    """A JSON object the pipeline wrote into the staging folder; {} when an optional one is absent."""
    path = f"{staging}/{name}"
    if not required and not FileSystems.exists(path):
        return {}
    with FileSystems.open(path) as f:
        text = f.read().decode("utf-8").strip()
    return json.loads(text) if text else {}


def commit(output: str, staging: str, run_id: str) -> None:
    """Move this run's staged files into `<output>/<table>/<run_id>/`, then drop the staging folder."""
    for table in TABLES:
        src = [m.path for m in FileSystems.match([f"{staging}/{table}/*.parquet"])[0].metadata_list]
        dest_dir = f"{output}/{table}/{run_id}"
        FileSystems.mkdirs(dest_dir)
        FileSystems.rename(src, [f"{dest_dir}/{s.rsplit('/', 1)[1]}" for s in src])
    # The files this run read: <output>/_state/files/<run_id>.jsonl, for --only_new in later runs.
    if FileSystems.exists(f"{staging}/{LISTING_FILE}"):
        if not FileSystems.exists(f"{output}/{FILES_DIR}"):
            FileSystems.mkdirs(f"{output}/{FILES_DIR}")
        FileSystems.rename([f"{staging}/{LISTING_FILE}"], [f"{output}/{FILES_DIR}/{run_id}.jsonl"])
    # State for later runs: conditional-GET validators (<output>/_state/http_validators/<run_id>.parquet), the
    # kept articles' MinHash signatures (_state/signatures/) and their story term counts (_state/story_terms/).
    for state_dir in (VALIDATORS_DIR, SIGNATURES_DIR, STORY_TERMS_DIR):
        state = sorted(m.path for m in FileSystems.match([f"{staging}/{state_dir}/*.parquet"])[0].metadata_list)
        if state:
            if not FileSystems.exists(f"{output}/{state_dir}"):
                FileSystems.mkdirs(f"{output}/{state_dir}")
            names = [f"{run_id}.parquet"] if len(state) == 1 else [f"{run_id}-{i}.parquet" for i in range(len(state))]
            FileSystems.rename(state, [f"{output}/{state_dir}/{n}" for n in names])
    FileSystems.delete([staging])


def _check_fetch_sources(sources: FetchSources) -> None:
    for path in (*sources.feeds, *sources.urls):
        if "://" in path and path.split("://", 1)[0] in ("http", "https"):
            continue
        if not FileSystems.exists(path):
            raise UsageError(f"{path!r} does not exist (give --feeds an OPML/text file or a feed URL, --urls a text file)")
    for url in sources.sitemaps:
        if not url.lower().startswith(("http://", "https://")):
            raise UsageError(f"--sitemap {url!r} is not an http(s) URL")


def write_run_row(output: str, row: dict) -> str:
    path = f"{output}/runs/{row['run_id']}/run.parquet"
    FileSystems.mkdirs(f"{output}/runs/{row['run_id']}")
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([row], schema=RUNS_SCHEMA), buf, compression="zstd")
    with FileSystems.create(path) as f:
        f.write(buf.getvalue())
    return path


def run(argv: list[str] | None = None, out=sys.stdout) -> dict:
    """Run the whole job; returns the `runs` row. Raises UsageError for bad options."""
    options = PipelineOptions(argv or [])
    nb = options.view_as(NewsbeamOptions)
    sources = FetchSources(tuple(nb.feeds or ()), tuple(nb.urls or ()), tuple(nb.sitemaps or ()))
    if not nb.inputs and not sources:
        raise UsageError("give at least one --input (a file, directory or glob), --feeds, --urls or --sitemap")
    try:
        clean, dedup, story = configs(nb)
        fetch_cfg = fetch_config(nb)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    output = nb.output.rstrip("/") or "."
    if "://" not in output:
        output = os.path.abspath(output)
        if os.path.exists(output) and not os.path.isdir(output):
            raise UsageError(f"--output {nb.output!r} exists and is not a directory")
    started = dt.datetime.now(UTC)
    run_id = nb.run_id or new_run_id(started)
    if FileSystems.match([f"{output}/runs/{run_id}/*"])[0].metadata_list:
        raise UsageError(f"run {run_id!r} already exists in {output}: choose another --run_id")
    with only_new_lock(output, run_id, out) if nb.only_new else contextlib.nullcontext():
        return _run_job(options, nb, sources, (clean, dedup, story, fetch_cfg), output, started, run_id, out)


def _run_job(options, nb, sources: FetchSources, cfgs: tuple, output: str, started: dt.datetime, run_id: str, out) -> dict:
    """`run` once its options are checked (and, with --only_new, the output's lock is held)."""
    clean, dedup, story, fetch_cfg = cfgs
    patterns, files = expand_inputs(nb.inputs) if nb.inputs else ([], {})
    skipped = 0
    if nb.only_new and files:
        seen = read_before(output)
        new = {path: meta for path, meta in files.items() if (path, *meta) not in seen}
        skipped, files = len(files) - len(new), new
    n_files, n_bytes = len(files), sum(size for size, _ in files.values())
    _check_fetch_sources(sources)
    staging = f"{output}/{STAGING}/{run_id}"
    workers = _local_workers(options, nb.workers, n_bytes)
    where = f"{workers} worker processes" if workers > 1 else "in-process" if workers == 1 else "runner-managed workers"
    also = f" ({skipped} more skipped: read by earlier runs)" if skipped else ""
    print(f"newsbeam {run_id}: {n_files} file(s){also} from {len(patterns)} input pattern(s) -> {output} ({where})",
          file=out, flush=True)
    left = leftover_staging(output)
    if left:
        print(f"note: {output}/{STAGING}/ holds files of {len(left)} other run(s) that did not finish "
              f"({', '.join(sorted(left))}; {sum(left.values()) / 1e6:.1f} MB): still running, or killed. Nothing of "
              "them is in the tables; remove those folders when no such run is going.", file=out, flush=True)
    t0 = time.monotonic()
    worker_log = os.path.join(tempfile.gettempdir(), f"newsbeam-{run_id}-workers.log")
    try:
        with contextlib.ExitStack() as stack:
            runner = local.in_process_runner(options) if workers == 1 else None
            if workers > 1:
                runner = local.process_runner(options, workers, worker_log)
                stack.enter_context(local.relayed_worker_logs(PROGRESS_LOGGER, os.path.join("transforms", "progress.py")))
            p = beam.Pipeline(runner=runner, options=options)
            fetch = (sources, fetch_cfg, f"{output}/{VALIDATORS_DIR}/*.parquet") if sources else None
            listing = write_listing(staging, files)
            earlier = ((f"{output}/articles/*/*.parquet", f"{output}/{SIGNATURES_DIR}/*.parquet",
                        f"{output}/{STORY_TERMS_DIR}/*.parquet") if nb.only_new else None)
            build(p, listing, staging, run_id, started, clean, dedup, story, nb.max_input_bytes, fetch, earlier)
            result = p.run()
            result.wait_until_finish()
        counts = _read_staged_json(staging, COUNTS_FILE, required=True)
        check_accounted(counts, _read_records(result) if files else None)
        check_written(counts, {table: staged_rows(staging, table) for table in TABLES})
        fetch_hosts = _read_staged_json(staging, HOST_COUNTS_FILE, required=False)  # host -> {requests, ok, not_modified, failed}
        commit(output, staging, run_id)
    except BaseException:
        # Nothing of a failed run reaches the tables; drop what it staged.
        if FileSystems.exists(staging):
            FileSystems.delete([staging])
        if os.path.exists(worker_log):
            print(f"newsbeam {run_id}: the worker processes' own output is in {worker_log}", file=sys.stderr)
        raise
    if os.path.exists(worker_log):
        os.remove(worker_log)
    ended = dt.datetime.now(UTC)
    rejects_by_reason = {k.split(".", 1)[1]: v for k, v in sorted(counts.items()) if k.startswith("rejects.")}
    articles = counts.get("articles", 0)
    exact, near = counts.get("exact_duplicates", 0), counts.get("near_duplicates", 0)
    row = {
        "run_id": run_id,
        "started_at": started,
        "ended_at": ended,
        "input_count": articles + counts.get("rejects", 0),
        "article_count": articles,
        "unique_article_count": articles - exact - near,
        "exact_duplicate_count": exact,
        "near_duplicate_count": near,
        "story_count": counts.get("stories", 0),
        "reject_count": counts.get("rejects", 0),
        "rejects_by_reason": list(rejects_by_reason.items()),
        "inputs": list(nb.inputs or ()) + list(sources.feeds) + list(sources.urls) + list(sources.sitemaps),
        "file_count": n_files,
        "skipped_file_count": skipped,
        "earlier_copy_count": counts.get(EARLIER_COPIES, 0),
        "continued_story_count": counts.get("continued_stories", 0),
        "output": output,
        "options": json.dumps(options.get_all_options(drop_default=False, retain_unknown_options=True), default=str, sort_keys=True),
        "newsbeam_version": __version__,
    }
    write_run_row(output, row)
    print_summary(row, rejects_by_reason, n_files, time.monotonic() - t0, out, fetch_hosts, skipped)
    return row


def print_summary(row: dict, rejects_by_reason: dict, n_files: int, seconds: float, out, fetch_hosts: dict | None = None,
                  skipped: int = 0) -> None:
    w = out.write
    w(f"\nrun {row['run_id']} finished in {seconds:.1f}s\n")
    w(f"  files read      {n_files}" + (f"  ({skipped} skipped: read by earlier runs, --only_new)" if skipped else "") + "\n")
    w(f"  inputs          {row['input_count']}  = {row['article_count']} articles + {row['reject_count']} rejects\n")
    w(
        f"  articles        {row['article_count']}  ({row['unique_article_count']} unique, "
        f"{row['exact_duplicate_count']} exact copies, {row['near_duplicate_count']} near copies)\n"
    )
    if row.get("earlier_copy_count"):
        w(f"                  {row['earlier_copy_count']} of the copies are of articles earlier runs wrote (--only_new)\n")
    w(f"  stories         {row['story_count']}"
      + (f"  ({row['continued_story_count']} continue stories of earlier runs)" if row.get("continued_story_count") else "") + "\n")
    if fetch_hosts:
        total = {k: sum(h.get(k, 0) for h in fetch_hosts.values()) for k in ("requests", "ok", "not_modified", "failed")}
        w(f"  fetched         {total['requests']} requests to {len(fetch_hosts)} host(s): {total['ok']} ok, "
          f"{total['not_modified']} not modified (304), {total['failed']} failed\n")
        w(f"    {'host':<40}{'requests':>9}{'ok':>6}{'304':>6}{'failed':>8}\n")
        ranked = sorted(fetch_hosts.items(), key=lambda kv: (-kv[1].get("requests", 0), kv[0]))
        for host, c in ranked[:20]:
            w(f"    {host[:39]:<40}{c.get('requests', 0):>9}{c.get('ok', 0):>6}{c.get('not_modified', 0):>6}{c.get('failed', 0):>8}\n")
        if len(ranked) > 20:
            w(f"    ... and {len(ranked) - 20} more hosts\n")
    w(f"  rejects         {row['reject_count']}\n")
    for reason, n in rejects_by_reason.items():
        w(f"    {reason:<22}{n}\n")
    w(f"  tables          {row['output']}/{{articles,stories,rejects,runs}}/\n")
    w(f"\nquery with: newsbeam sql --output {row['output']} \"SELECT title, story_id FROM articles WHERE run_id = '{row['run_id']}'\"\n")
    out.flush()
