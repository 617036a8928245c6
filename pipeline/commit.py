"""Committing a run: the accounting checks on what it staged, moving its files into place, its `runs` row."""
from __future__ import annotations

import io
import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from schemas import counts as c
from schemas.layout import PARQUET_STATES, OutputLayout, StagingLayout, is_compacted
from schemas.rejects import Stage
from schemas.tables import RUN_TABLES, RUNS_SCHEMA
from transforms.parquet import read_table


def check_accounted(counts: dict, read_records: int | None) -> None:
    """Fail the run when articles went missing inside it, instead of committing a short table.

    Every article entering boilerplate removal leaves as an article row or an extract-stage reject;
    every record the file reader emitted (its metric, when the runner reports metrics) must have entered.
    """
    entered = counts.get(c.ENTERED_CLEANING, 0)
    left = counts.get(c.ARTICLES, 0) + counts.get(c.REJECTS_AT_STAGE + Stage.EXTRACT.value, 0)
    problems = []
    if left != entered:
        problems.append(f"{entered} articles entered boilerplate removal but {left} came out as articles or rejects")
    if read_records is not None and read_records > entered:
        problems.append(f"the readers emitted {read_records} records but only {entered} reached boilerplate removal")
    if problems:
        raise RuntimeError("input went missing inside the pipeline, so this run is not committed: " + "; ".join(problems))


def staged_rows(staging: StagingLayout, table: str) -> int:
    """Rows in a table's staged Parquet files, from their footers."""
    total = 0
    for m in FileSystems.match([staging.table_glob(table)])[0].metadata_list:
        with FileSystems.open(m.path) as f:
            total += pq.ParquetFile(f).metadata.num_rows
    return total


def check_written(counts: dict, written: dict) -> None:
    """Fail the run when the staged files do not hold the rows the pipeline counted."""
    short = [f"{table}: {written[table]} rows written, {counts.get(table, 0)} counted" for table in written
             if written[table] != counts.get(table, 0)]
    if short:
        raise RuntimeError("the staged tables do not match the run's counts, so this run is not committed: " + "; ".join(short))


def read_records_metric(result) -> int | None:
    """The file reader's `records` counter from the pipeline result, or None when the runner reports no metrics."""
    try:
        from apache_beam.metrics.metric import MetricsFilter

        found = result.metrics().query(MetricsFilter().with_namespace("read").with_name("records"))["counters"]
    except (NotImplementedError, AttributeError, KeyError):
        return None
    return sum(x.committed or 0 for x in found) if found else None


def read_staged_json(path: str, required: bool) -> dict:
    """A JSON object the pipeline wrote into the staging folder; {} when an optional one is absent."""
    if not required and not FileSystems.exists(path):
        return {}
    with FileSystems.open(path) as f:
        text = f.read().decode("utf-8").strip()
    return json.loads(text) if text else {}


def check_staged(staging: StagingLayout, counts: dict, read_records: int | None) -> None:
    """Both accounting checks on a finished pipeline's staging folder."""
    check_accounted(counts, read_records)
    check_written(counts, {table: staged_rows(staging, table) for table in RUN_TABLES})


def commit(layout: OutputLayout, staging: StagingLayout, run_id: str) -> None:
    """Move this run's staged files into `<output>/<table>/<run_id>/` and `_state/`, then drop the staging folder."""
    for table in RUN_TABLES:
        src = [m.path for m in FileSystems.match([staging.table_glob(table)])[0].metadata_list]
        dest_dir = layout.run_table_dir(table, run_id)
        FileSystems.mkdirs(dest_dir)
        FileSystems.rename(src, [f"{dest_dir}/{s.rsplit('/', 1)[1]}" for s in src])
    # The files this run read, for later incremental runs, and its requests per host (follow's cycle lines).
    for staged, kept in ((staging.listing, layout.files_listing(run_id)), (staging.host_counts, layout.fetch_hosts(run_id))):
        if FileSystems.exists(staged):
            folder = kept.rsplit("/", 1)[0]
            if not FileSystems.exists(folder):
                FileSystems.mkdirs(folder)
            FileSystems.rename([staged], [kept])
    # State for later runs: conditional-GET validators, the kept articles' MinHash signatures, story term counts.
    for state in PARQUET_STATES:
        files = sorted(m.path for m in FileSystems.match([staging.state_glob(state)])[0].metadata_list)
        if files:
            if not FileSystems.exists(layout.state_dir(state)):
                FileSystems.mkdirs(layout.state_dir(state))
            names = [f"{run_id}.parquet"] if len(files) == 1 else [f"{run_id}-{i}.parquet" for i in range(len(files))]
            FileSystems.rename(files, [f"{layout.state_dir(state)}/{n}" for n in names])
    FileSystems.delete([staging.root])


def runs_row(counts: dict, **fields) -> dict:
    """The `runs` row from the pipeline's counts plus the driver's own fields (run_id, times, inputs, ...)."""
    rejects_by_reason = {k[len(c.REJECTS_BY_REASON):]: v for k, v in sorted(counts.items()) if k.startswith(c.REJECTS_BY_REASON)}
    articles = counts.get(c.ARTICLES, 0)
    exact, near = counts.get(c.EXACT_COPIES, 0), counts.get(c.NEAR_COPIES, 0)
    return {
        "run_id": fields["run_id"],
        "started_at": fields["started_at"],
        "ended_at": fields["ended_at"],
        "input_count": articles + counts.get(c.REJECTS, 0),
        "article_count": articles,
        "unique_article_count": articles - exact - near,
        "exact_duplicate_count": exact,
        "near_duplicate_count": near,
        "story_count": counts.get(c.STORIES, 0),
        "reject_count": counts.get(c.REJECTS, 0),
        "rejects_by_reason": list(rejects_by_reason.items()),
        "inputs": fields["inputs"],
        "file_count": fields["file_count"],
        "skipped_file_count": fields["skipped_file_count"],
        "earlier_copy_count": counts.get(c.EARLIER_COPIES, 0),
        "continued_story_count": counts.get(c.CONTINUED_STORIES, 0),
        "output": fields["output"],
        "options": fields["options"],
        "newsbeam_version": fields["newsbeam_version"],
        "status": fields.get("status"),
    }


def write_atomically(path: str, data: bytes) -> None:
    """Write `data` aside and rename it into place, so a reader (or a kill) sees the whole file or none."""
    folder, name = path.rsplit("/", 1)
    if not FileSystems.exists(folder):
        FileSystems.mkdirs(folder)
    aside = f"{folder}/.{name}.writing"
    with FileSystems.create(aside) as f:
        f.write(data)
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([aside], [path])


def write_views(layout: OutputLayout) -> None:
    """The output's views.sql, for the files it holds now (after a publish or a compaction)."""
    from pipeline.sql import tables_present
    from pipeline.views import views_sql

    write_atomically(layout.views_file, views_sql(layout, tables_present(layout)).encode("utf-8"))


def publish(layout: OutputLayout, row: dict) -> str:
    """Publish a committed run: write its `runs` row (the one step that makes the run visible to every view),
    then the output's views.sql. Until the row exists, the run's files are not part of the dataset."""
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([row], schema=RUNS_SCHEMA), buf, compression="zstd")
    path = layout.run_row(row["run_id"])
    write_atomically(path, buf.getvalue())
    write_views(layout)
    return path


def compaction_markers(layout: OutputLayout, published_before: float | None = None) -> list[tuple[str, str]]:
    """(compacted folder, run id) of every published compaction marker (pipeline/compact.py); with
    `published_before` (a Unix time), only of the markers written before then."""
    pairs = []
    for m in FileSystems.match([layout.compaction_markers_glob()])[0].metadata_list:
        if published_before is not None and m.last_updated_in_seconds >= published_before:
            continue
        with FileSystems.open(m.path) as f:
            t = read_table(f, columns=["folder", "run_id"])
        pairs.extend(zip(t["folder"].to_pylist(), t["run_id"].to_pylist()))
    return pairs


def published_runs(layout: OutputLayout) -> set[str]:
    """The run ids whose `runs` row exists in their own folder or in a published compaction."""
    prefix = layout.table_dir("runs") + "/"
    own = {m.path[len(prefix):].split("/", 1)[0] for m in FileSystems.match([layout.run_row("*")])[0].metadata_list}
    return {r for r in own if not is_compacted(r)} | {run_id for _, run_id in compaction_markers(layout)}


def _state_file_run(name: str, published: set[str]) -> str:
    """The run a state file `<run_id>.parquet` or `<run_id>-<n>.parquet` belongs to (a compacted one: its folder name)."""
    numbered = re.fullmatch(r"(.+)-\d+", name)
    if name in published or numbered is None or is_compacted(name):
        return name
    return numbered.group(1)


def unpublished_files(layout: OutputLayout, published: set[str]) -> dict[str, set[str]]:
    """{run id: paths} of what runs that never published left in the output: their table folders, state files,
    file listing and staging folder (a run killed between moving its files and writing its `runs` row, or before)."""
    left: dict[str, set[str]] = {}
    marked = {folder for folder, _ in compaction_markers(layout)}

    def add(run_id: str, path: str) -> None:
        if is_compacted(run_id):  # a compaction's folder or state file: left over when no marker names it
            if run_id not in marked:
                left.setdefault(run_id, set()).add(path)
        elif run_id and run_id not in published:
            left.setdefault(run_id, set()).add(path)

    for table in (*RUN_TABLES, "runs"):
        prefix = layout.table_dir(table) + "/"
        for m in FileSystems.match([layout.run_files_glob(table)])[0].metadata_list:
            run_id = m.path[len(prefix):].split("/", 1)[0]
            add(run_id, layout.run_table_dir(table, run_id))
    for state in PARQUET_STATES:
        for m in FileSystems.match([layout.state_glob(state)])[0].metadata_list:
            add(_state_file_run(m.path.rsplit("/", 1)[1][: -len(".parquet")], published), m.path)
    for m in FileSystems.match([layout.files_listings_glob()])[0].metadata_list:
        add(m.path.rsplit("/", 1)[1][: -len(".jsonl")], m.path)
    for m in FileSystems.match([layout.fetch_hosts_glob()])[0].metadata_list:
        add(m.path.rsplit("/", 1)[1][: -len(".json")], m.path)
    prefix = layout.staging_root + "/"
    for m in FileSystems.match([prefix + "**"])[0].metadata_list:
        if "/" in m.path[len(prefix):]:
            run_id = m.path[len(prefix):].split("/", 1)[0]
            add(run_id, layout.staging(run_id))
    return left


def remove_unpublished(layout: OutputLayout) -> dict[str, int]:
    """Delete what runs that never published left behind; {run id: files and folders removed}. Call it only while holding the
    output's lock: then no other run is between staging and publishing."""
    left = unpublished_files(layout, published_runs(layout))
    for paths in left.values():
        FileSystems.delete(sorted(paths))
    return {run_id: len(paths) for run_id, paths in left.items()}
