"""`newsbeam compact`: every view's result and every state row survive; a compaction cut short is invisible."""
from __future__ import annotations

import io
import os
import pathlib
import shutil

import duckdb
import pytest

from pipeline import commit
from pipeline import compact as compact_module
from pipeline.compact import compact
from pipeline.main import run
from pipeline.sql import connect
from pipeline.views import VIEW_NAMES
from schemas.layout import PARQUET_STATES, OutputLayout

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
pytestmark = pytest.mark.e2e


def _views(out: pathlib.Path) -> dict:
    con = connect(str(out))
    return {v: sorted(map(repr, con.sql(f"SELECT * FROM {v}").fetchall())) for v in VIEW_NAMES}


def _state(out: pathlib.Path) -> dict:
    found = {}
    for state in PARQUET_STATES:
        files = sorted((out / state).glob("*.parquet"))
        rows = duckdb.sql(f"SELECT * FROM read_parquet({[str(f) for f in files]}, union_by_name = true)").fetchall() if files else []
        found[state] = sorted(map(repr, rows))
    return found


def _parquet_files(out: pathlib.Path) -> int:
    return sum(1 for _ in out.glob("*/*/*.parquet")) + sum(1 for _ in out.glob("_state/*/*.parquet"))


def _runs_into(out: pathlib.Path, inbox: pathlib.Path, files) -> None:
    for f in files:
        shutil.copy(f, inbox / f.name)
        run(["--input", str(inbox), "--output", str(out)], out=io.StringIO())


def test_compaction_keeps_every_view_and_state_row_and_survives_being_cut_short(tmp_path):
    out, inbox = tmp_path / "out", tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "notes.pdf").write_bytes(b"%PDF-1.4")  # a reject in the first run
    _runs_into(out, inbox, SEEDS)  # three runs, whose stories continue across them
    views, state = _views(out), _state(out)
    assert len(views["runs"]) == 3 and len(views["article_rows"]) == 3 and len(views["rejects"]) == 1
    before = _parquet_files(out)
    saved = tmp_path / "saved"
    shutil.copytree(out / "articles", saved)  # the per-run folders, to put one back below

    done = compact(str(out), out=io.StringIO(), grace_s=0)
    assert done["runs"] == 3 and done["days"] == 1
    assert _views(out) == views and _state(out) == state
    assert _parquet_files(out) < before
    assert not [p for p in (out / "articles").iterdir() if not p.name.startswith("c~")]  # replaced folders removed
    assert [p.name.startswith("c~") for p in (out / "_state" / "files").iterdir()] == [True]  # one listing for the day
    # views.sql in the output gives plain DuckDB the same answers
    con = duckdb.connect()
    con.execute((out / "views.sql").read_text())
    assert sorted(map(repr, con.sql("SELECT * FROM stories").fetchall())) == views["stories"]

    # Killed after the marker, before deleting what it replaced: a per-run folder is back, and no view shows it twice.
    first = sorted(saved.iterdir())[0]
    shutil.copytree(first, out / "articles" / first.name)
    assert _views(out) == views
    # Killed before the marker: a compacted folder no marker names is invisible, and the next run removes it.
    live = next((out / "articles").glob("c~*"))
    shutil.copytree(live, out / "articles" / (live.name[:-6] + "zzzzzz"))
    assert _views(out) == views
    layout = OutputLayout(str(out))
    left = commit.unpublished_files(layout, commit.published_runs(layout))
    assert list(left) == [live.name[:-6] + "zzzzzz"]

    # Runs continue after a compaction, and compacting again merges the day's compacted folder with the new run.
    (inbox / "late.txt").write_text("Ferry service resumes\n\nThe island ferry resumed its timetable on Friday after "
                                    "engineers replaced a damaged propeller shaft at the mainland yard.\n", encoding="utf-8")
    row = run(["--input", str(inbox), "--output", str(out)], out=io.StringIO())
    assert row["file_count"] == 1 and row["skipped_file_count"] == 4  # the listings still know what was read
    views2, state2 = _views(out), _state(out)
    assert len(views2["runs"]) == 4 and len(views2["article_rows"]) == 4
    done = compact(str(out), out=io.StringIO(), grace_s=0)
    assert done["runs"] == 4
    assert _views(out) == views2 and _state(out) == state2
    assert len(list((out / "articles").iterdir())) == 1 and len(list((out / "runs").iterdir())) == 1
    assert compact(str(out), out=io.StringIO(), grace_s=0)["runs"] == 0  # nothing left to merge
    assert _views(out) == views2


def test_columns_an_earlier_version_did_not_write_are_null_in_the_compacted_file():
    import pyarrow as pa

    from pipeline.compact import _as

    schema = pa.schema([pa.field("run_id", pa.string(), nullable=False), pa.field("status", pa.string()),
                        pa.field("n", pa.int32())])
    out = _as(pa.table({"n": pa.array([1, 2], pa.int64()), "run_id": ["a", "b"]}), schema)
    assert out.schema == schema and out.to_pylist() == [{"run_id": "a", "status": None, "n": 1}, {"run_id": "b", "status": None, "n": 2}]


def test_replaced_files_outlive_the_switch_by_the_grace_then_the_next_run_deletes_them(tmp_path):
    out, inbox = tmp_path / "out", tmp_path / "inbox"
    inbox.mkdir()
    _runs_into(out, inbox, SEEDS[:2])
    own = sorted(p.name for p in (out / "articles").iterdir())
    views = _views(out)

    done = compact(str(out), out=io.StringIO())  # the default grace: a query that listed the old files can read them
    assert done["runs"] == 2 and done["removed"] == 0
    assert set(own) < {p.name for p in (out / "articles").iterdir()}
    assert _views(out) == views  # both layouts on disk, each row shown once
    _runs_into(out, inbox, SEEDS[2:])  # a run inside the grace leaves them too
    assert set(own) < {p.name for p in (out / "articles").iterdir()}
    views = _views(out)

    marker = next((out / "_compactions").glob("*.parquet"))
    aged = marker.stat().st_mtime - compact_module.GRACE_S - 1
    os.utime(marker, (aged, aged))  # the switch was longer ago than the grace
    (inbox / "late.txt").write_text("Ferry service resumes\n\nThe island ferry resumed its timetable on Friday after "
                                    "engineers replaced a damaged propeller shaft at the mainland yard.\n", encoding="utf-8")
    run(["--input", str(inbox), "--output", str(out)], out=io.StringIO())
    left = {p.name for p in (out / "articles").iterdir()}
    assert not set(own) & left and any(n.startswith("c~") for n in left)
    assert len(_views(out)["article_rows"]) == len(views["article_rows"]) + 1
