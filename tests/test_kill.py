"""A run SIGKILLed at several points (the test kills its own child process) leaves nothing any view shows and no
lock that blocks the next run, which reads the inputs again: the views then equal those of a clean run."""
from __future__ import annotations

import io
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from pipeline.main import run
from pipeline.sql import connect

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = str(ROOT / "seeds")
pytestmark = pytest.mark.e2e

QUERIES = (
    "SELECT article_id, story_id, content_hash, duplicate_of, duplicate_kind, is_canonical FROM articles ORDER BY ALL",
    "SELECT story_id, canonical_article_id, title, article_count, unique_article_count, site_count FROM stories ORDER BY ALL",
    "SELECT source_uri, reason FROM rejects ORDER BY ALL",
)


def _views(out: pathlib.Path) -> list:
    con = connect(str(out))
    return [con.sql(q).fetchall() for q in QUERIES]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "out"
    run(["--input", SEEDS, "--output", str(out)], out=io.StringIO())
    return _views(out)


def _kill_when(out: pathlib.Path, appears: str) -> int:
    """Start a run into `out`, SIGKILL its process group as soon as a path matching `appears` exists; its exit code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "run", "--input", SEEDS, "--output", str(out), "--run_id", "killed"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    deadline = time.monotonic() + 300
    while proc.poll() is None and not list(out.glob(appears)) and time.monotonic() < deadline:
        time.sleep(0.005)  # polling the child's files: nothing else says when it reaches the point
    assert proc.poll() is None, f"the run ended before {appears} appeared"
    os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()


@pytest.mark.parametrize("appears", ["_state/only_new.lock", "_staging/killed/files.jsonl", "_staging/killed/articles/*.parquet"],
                         ids=["holding-lock", "listing-written", "tables-staged"])
def test_a_run_killed_leaves_nothing_and_the_rerun_equals_a_clean_run(tmp_path, clean, appears):
    out = tmp_path / "out"
    assert _kill_when(out, appears) == -signal.SIGKILL
    assert (out / "_state" / "only_new.lock").exists() or appears != "_state/only_new.lock"
    if (out / "views.sql").exists() or (out / "runs").exists():
        assert connect(str(out)).sql("SELECT count(*) FROM runs").fetchall() == [(0,)]  # nothing published
    printed = io.StringIO()
    row = run(["--input", SEEDS, "--output", str(out)], out=printed)
    assert "taking over the lock of run killed" in printed.getvalue()
    assert row["file_count"] == 3  # the killed run's files are read again
    assert _views(out) == clean
    assert not list((out / "_staging").glob("*/*"))
    assert connect(str(out)).sql("SELECT count(*) FROM runs").fetchall() == [(1,)]
