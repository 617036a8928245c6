"""Incremental runs (the default): a run reads only the files no earlier run into the same output has read,
marks copies of earlier articles and continues earlier stories."""
import io
import json
import os
import pathlib
import shutil

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.main import UsageError, run
from pipeline.sql import connect
from schemas.layout import FILES_STATE as FILES_DIR
from schemas.layout import LOCK as LOCK_FILE
from schemas.layout import SIGNATURES_STATE as SIGNATURES_DIR
from transforms.read import ReadArticles

SEEDS = pathlib.Path(__file__).resolve().parent.parent / "seeds"
NEW_ARTICLE = (
    "Storm closes schools along the coast\n\n"
    "Thousands of residents were evacuated on Tuesday as the storm approached the northern coast of the island.\n"
    "Officials said the evacuation would continue through the night and schools would stay closed on Wednesday.\n"
)


def _run(*argv) -> tuple[dict, str]:
    printed = io.StringIO()
    row = run(list(argv), out=printed)
    return row, printed.getvalue()


def _sources(out: pathlib.Path, run_id: str) -> list[str]:
    q = "SELECT source_uri FROM article_rows WHERE run_id = ? UNION ALL SELECT source_uri FROM rejects WHERE run_id = ?"
    return sorted(pathlib.Path(u).name for (u,) in connect(str(out)).execute(q, [run_id, run_id]).fetchall())


def test_incremental_reads_new_and_changed_files_and_skips_the_rest(tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    seeds = sorted(SEEDS.glob("*.txt"))[:2]
    for s in seeds:
        shutil.copy(s, inbox / s.name)

    first, _ = _run("--input", str(inbox), "--output", str(out))  # a plain run lists what it read, too
    assert first["input_count"] == 2
    listed = [json.loads(line)["path"] for line in (out / FILES_DIR / f"{first['run_id']}.jsonl").read_text().splitlines()]
    assert sorted(pathlib.Path(p).name for p in listed) == [s.name for s in seeds]

    second, printed = _run("--input", str(inbox), "--output", str(out))
    assert (second["input_count"], second["article_count"]) == (0, 0)
    assert "files read      0  (2 skipped: read by earlier runs)" in printed
    runs = connect(str(out)).execute("SELECT file_count, skipped_file_count FROM runs ORDER BY run_id").fetchall()
    assert runs == [(2, 0), (0, 2)]

    (inbox / "storm [1].txt").write_text(NEW_ARTICLE, encoding="utf-8")  # a name that is not a valid glob
    (inbox / "notes.pdf").write_bytes(b"%PDF-1.4")  # new files that become rejects are new files too
    touched = inbox / seeds[0].name
    os.utime(touched, (1_600_000_000, 1_600_000_000))  # a changed modification time: read again
    third, printed = _run("--input", str(inbox), "--output", str(out))
    assert _sources(out, third["run_id"]) == sorted(["notes.pdf", "storm [1].txt", seeds[0].name])
    assert "(1 skipped: read by earlier runs)" in printed
    assert third["exact_duplicate_count"] == 1  # the touched file's article, read again, is a copy of its earlier self

    fourth, _ = _run("--input", str(inbox), "--output", str(out), "--only-new")  # the old flag is still accepted
    assert fourth["input_count"] == 0
    # A stand-alone run reads every file again, and compares nothing with earlier runs.
    fifth, _ = _run("--input", str(inbox), "--output", str(out), "--standalone")
    assert (fifth["input_count"], fifth["exact_duplicate_count"]) == (4, 0)


def test_incremental_marks_copies_of_earlier_runs_articles(tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    seed = sorted(SEEDS.glob("*.txt"))[0]
    shutil.copy(seed, inbox / seed.name)
    first, _ = _run("--input", str(inbox), "--output", str(out))
    con = connect(str(out))
    (earlier_id, earlier_story), = con.execute("SELECT article_id, story_id FROM articles").fetchall()

    shutil.copy(seed, inbox / "the same story again.txt")  # syndicated again, under another name
    (inbox / "storm.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    second, printed = _run("--input", str(inbox), "--output", str(out))
    assert (second["article_count"], second["exact_duplicate_count"], second["story_count"]) == (2, 1, 1)
    assert connect(str(out)).execute("SELECT earlier_copy_count FROM runs ORDER BY run_id").fetchall() == [(0,), (1,)]
    rows = connect(str(out)).execute(
        "SELECT source_uri, story_id, is_canonical, duplicate_of, duplicate_kind FROM articles WHERE run_id = ? ORDER BY 1",
        [second["run_id"]],
    ).fetchall()
    (storm_uri, storm_story, storm_canonical, storm_of, _), (copy_uri, copy_story, copy_canonical, copy_of, kind) = rows
    assert copy_uri.endswith("the same story again.txt") and storm_uri.endswith("storm.txt")
    assert (copy_story, copy_canonical, copy_of, kind) == (earlier_story, False, earlier_id, "exact")
    assert storm_canonical and storm_of is None and storm_story != earlier_story


def test_incremental_marks_near_copies_of_earlier_runs_articles_in_their_story(tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    seed = sorted(SEEDS.glob("*.txt"))[0]
    shutil.copy(seed, inbox / seed.name)
    first, _ = _run("--input", str(inbox), "--output", str(out))  # a plain run keeps its signatures too
    (earlier_id, earlier_story), = connect(str(out)).execute("SELECT article_id, story_id FROM articles").fetchall()
    assert (out / SIGNATURES_DIR / f"{first['run_id']}.parquet").exists()

    # The same wire story, edited by another outlet: a sentence reworded, one added, its furniture gone.
    text = seed.read_text(encoding="utf-8").replace("ADVERTISEMENT", "").replace("according to the State Department",
                                                                                "the State Department said")
    (inbox / "edited copy.txt").write_text(text + "\nThe State Department did not say when talks could resume.\n", encoding="utf-8")
    (inbox / "storm.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    second, printed = _run("--input", str(inbox), "--output", str(out))
    assert (second["article_count"], second["near_duplicate_count"], second["story_count"]) == (2, 1, 1)
    assert second["earlier_copy_count"] == 1 and "1 of the copies are of articles earlier runs wrote" in printed
    rows = connect(str(out)).execute(
        "SELECT source_uri, story_id, is_canonical, duplicate_of, duplicate_kind FROM articles WHERE run_id = ? ORDER BY 1",
        [second["run_id"]],
    ).fetchall()
    (copy_uri, copy_story, copy_canonical, copy_of, kind), (storm_uri, storm_story, *_) = rows
    assert copy_uri.endswith("edited copy.txt") and storm_uri.endswith("storm.txt")
    assert (copy_story, copy_canonical, copy_of, kind) == (earlier_story, False, earlier_id, "near")
    assert storm_story != earlier_story
    # Only kept articles are remembered: the storm article, not the near copy.
    kept = connect(str(out)).execute(
        f"SELECT article_id FROM read_parquet('{out / SIGNATURES_DIR}/{second['run_id']}.parquet')").fetchall()
    assert [k for (k,) in kept] == [a for (a,) in connect(str(out)).execute(
        "SELECT article_id FROM articles WHERE run_id = ? AND duplicate_of IS NULL", [second["run_id"]]).fetchall()]


def test_incremental_continues_an_earlier_runs_story_with_other_outlets_articles(tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    first_seed, *others = sorted(SEEDS.glob("*.txt"))  # one event, three outlets
    shutil.copy(first_seed, inbox / first_seed.name)
    _run("--input", str(inbox), "--output", str(out))
    (earlier_id, earlier_story), = connect(str(out)).execute("SELECT article_id, story_id FROM articles").fetchall()

    for s in others:
        shutil.copy(s, inbox / s.name)
    (inbox / "storm.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    second, printed = _run("--input", str(inbox), "--output", str(out))
    assert (second["article_count"], second["story_count"], second["continued_story_count"]) == (3, 2, 1)
    assert "(1 continue stories of earlier runs)" in printed
    con = connect(str(out))
    rows = con.execute("SELECT source_uri, story_id, is_canonical, duplicate_of FROM articles WHERE run_id = ? ORDER BY 1",
                       [second["run_id"]]).fetchall()
    joined = [r for r in rows if not r[0].endswith("storm.txt")]
    assert [(story, canonical, of) for _, story, canonical, of in joined] == [(earlier_story, False, None)] * 2
    (storm_story,) = [story for uri, story, _, _ in rows if uri.endswith("storm.txt")]
    assert storm_story != earlier_story
    stories = con.execute("SELECT story_id, canonical_article_id, article_count, continued FROM story_rows WHERE run_id = ? ORDER BY 4",
                          [second["run_id"]]).fetchall()
    assert stories == [(storm_story, storm_story[1:], 1, False), (earlier_story, earlier_id, 2, True)]
    # One canonical article per story over all runs, and the stories view counts the story's articles over all runs.
    assert con.execute("SELECT count(*) FROM articles WHERE story_id = ? AND is_canonical", [earlier_story]).fetchall() == [(1,)]
    whole = con.execute("SELECT canonical_article_id, article_count, run_count FROM stories WHERE story_id = ?", [earlier_story]).fetchall()
    assert whole == [(earlier_id, 3, 2)]


def test_a_standalone_run_clusters_alone(tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    first_seed, *others = sorted(SEEDS.glob("*.txt"))
    shutil.copy(first_seed, inbox / first_seed.name)
    _run("--input", str(inbox), "--output", str(out))
    later = tmp_path / "later"
    later.mkdir()
    for s in others:
        shutil.copy(s, later / s.name)
    second, _ = _run("--input", str(later), "--output", str(out), "--standalone")
    assert second["continued_story_count"] == 0
    assert len(connect(str(out)).execute("SELECT DISTINCT story_id FROM articles").fetchall()) == 2


def test_read_articles_from_a_listing_reads_each_named_file_once(tmp_path):
    names = ["a [1].txt", "b*.txt"]
    for n in names:
        (tmp_path / n).write_text(NEW_ARTICLE, encoding="utf-8")
    listing = tmp_path / "files.jsonl"
    listing.write_text("".join(json.dumps({"path": str(tmp_path / n)}) + "\n" for n in [*names, names[0]]))
    with TestPipeline() as p:
        out = p | ReadArticles(listing=str(listing))
        assert_that(out["files"] | beam.Map(lambda a: pathlib.Path(a.source_uri).name), equal_to(names))


def _write_lock(out: pathlib.Path, pid: int, host: str | None = None) -> pathlib.Path:
    import socket

    lock = out / LOCK_FILE
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(json.dumps({"run_id": "r-holder", "pid": pid, "host": host or socket.gethostname(),
                                "started_at": "2026-11-21T00:00:00+00:00"}), encoding="utf-8")
    return lock


def test_incremental_stops_while_another_only_new_run_holds_the_output(tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    (inbox / "storm.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    import fcntl

    lock = _write_lock(out, os.getpid())  # a run still going: it holds the flock
    with open(lock, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(UsageError, match="another run \\(r-holder"):
            _run("--input", str(inbox), "--output", str(out))
        assert lock.exists() and not (out / "runs").exists()  # the holder's lock is left alone, nothing committed
        assert [p.name for p in lock.parent.iterdir()] == [lock.name]  # and the stopped run left nothing of its own
        with pytest.raises(UsageError, match="r-holder"):  # every run into the output takes the lock, stand-alone too
            _run("--input", str(inbox), "--output", str(out), "--standalone")
    other_host = _write_lock(out, 1, host="some-other-host")  # a shared folder's holder on another host: stops
    with pytest.raises(UsageError, match="another host"):
        _run("--input", str(inbox), "--output", str(out))
    assert other_host.exists()


def _race_for_lock(root, barrier, results, release):
    import io as _io

    from pipeline.incremental import LockHeld, output_lock
    from schemas.layout import OutputLayout

    barrier.wait()
    try:
        with output_lock(OutputLayout(root), f"r{os.getpid()}", _io.StringIO()):
            results.put("won")
            release.wait(30)
    except LockHeld:
        results.put("held")


def test_four_runs_racing_for_a_stale_lock_give_one_winner(tmp_path):
    import multiprocessing

    out = tmp_path / "out"
    gone = multiprocessing.get_context("fork").Process(target=lambda: None)
    gone.start()
    gone.join()
    _write_lock(out, gone.pid)  # a killed run's lock, which all four would take over
    ctx = multiprocessing.get_context("fork")
    barrier, results, release = ctx.Barrier(4), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_race_for_lock, args=(str(out), barrier, results, release)) for _ in range(4)]
    for proc in procs:
        proc.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    release.set()
    for proc in procs:
        proc.join(60)
    assert sorted(outcomes) == ["held", "held", "held", "won"]


def test_incremental_takes_over_the_lock_of_a_killed_run_and_releases_its_own(tmp_path):
    import subprocess
    import sys

    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    (inbox / "storm.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid now names no process
    lock = _write_lock(out, gone.pid)
    row, printed = _run("--input", str(inbox), "--output", str(out))
    assert row["article_count"] == 1 and "taking over the lock of run r-holder" in printed
    assert lock.read_text() == ""  # released: the file stays, naming no holder
    again, printed = _run("--input", str(inbox), "--output", str(out))
    assert again["input_count"] == 0 and "taking over" not in printed and lock.read_text() == ""
