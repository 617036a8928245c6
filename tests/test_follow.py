"""`newsbeam follow` and fetching only what is new: feed poll hints, the interval, and follow end to end against
the loopback server of conftest.py (cycles read from its stdout; the test stops it with SIGTERM)."""
from __future__ import annotations

import datetime as dt
import os
import pathlib
import signal
import subprocess
import sys

import pytest
from conftest import Reply

from pipeline.follow import cycle_line, parse_interval
from pipeline.sql import connect
from transforms.fetch.hints import body_hints, header_hints, is_due, poll_row

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("10m", 600), ("1h", 3600), ("1.5h", 5400), ("90", 90), ("2d", 172800)],
                         ids=["seconds", "minutes", "hours", "fraction", "bare", "days"])
def test_parse_interval(text, seconds):
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "10 minutes", "-1m", "0s", "m"], ids=["empty", "words", "negative", "zero", "unit-only"])
def test_parse_interval_refuses_nonsense(text):
    with pytest.raises(ValueError):
        parse_interval(text)


@pytest.mark.parametrize("body, seconds", [
    (b"<rss><channel><ttl>60</ttl><item/></channel></rss>", 3600),
    (b"<rss xmlns:sy='x'><channel><sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>", 1800),
    (b"<rdf><channel><syn:updatePeriod>daily</syn:updatePeriod></channel>", 86400),
    (b"<rss><channel><title>no hints</title></channel></rss>", None),
    (b"<rss><channel><sy:updatePeriod>sometimes</sy:updatePeriod></channel>", None),
], ids=["ttl", "sy-frequency", "syn-prefix-daily", "none", "unknown-period"])
def test_body_hints(body, seconds):
    found = body_hints(body)
    assert (max(s for s, _ in found) if found else None) == seconds


def test_header_hints_max_age_and_retry_after_only_on_overload():
    assert header_hints({"cache-control": "public, max-age=900"}, 200, NOW) == [(900.0, "max-age 900s")]
    assert header_hints({"cache-control": "no-cache, max-age=900"}, 200, NOW) == []
    assert header_hints({"retry-after": "120"}, 503, NOW) == [(120.0, "retry-after 120s")]
    assert header_hints({"retry-after": "120"}, 200, NOW) == []


def test_poll_row_takes_the_longest_hint_capped_and_due_follows_it():
    row = poll_row("https://www.example.com/feed.xml#x", 200, {"cache-control": "max-age=60"}, b"<ttl>30</ttl>", NOW)
    assert row["url"] == "https://example.com/feed.xml" and row["hint"] == "ttl 30m"
    assert row["next_poll_at"] == NOW + dt.timedelta(minutes=30)
    polls = {row["url"]: row}
    assert not is_due("https://example.com/feed.xml", polls, NOW + dt.timedelta(minutes=29))
    assert is_due("https://example.com/feed.xml", polls, NOW + dt.timedelta(minutes=30))
    assert is_due("https://example.com/other.xml", polls, NOW)
    week = poll_row("https://example.com/f", 200, {}, b"<sy:updatePeriod>weekly</sy:updatePeriod>", NOW)
    assert week["next_poll_at"] == NOW + dt.timedelta(days=1)  # capped: polled at least daily
    plain = poll_row("https://example.com/f", 200, {}, b"<rss/>", NOW)
    assert plain["next_poll_at"] == NOW and plain["hint"] is None


def test_cycle_line_counts():
    row = {"run_id": "r", "article_count": 5, "exact_duplicate_count": 1, "near_duplicate_count": 1, "story_count": 3,
           "continued_story_count": 1, "reject_count": 2}
    hosts = {"a": {"requests": 4, "not_modified": 1}, "b": {"requests": 2, "not_modified": 2}}
    assert cycle_line(7, row, hosts, 1.25) == ("cycle 7 r: 3 new articles, 2 copies, 2 new stories, 1 continued, 2 rejects, "
                                               "6 requests, 3 not modified (304), 1.2s")


# ---------------------------------------------------------------------------------------------
# End to end: a follower process against the loopback server
# ---------------------------------------------------------------------------------------------

def _rss(base: str, pages: list[str], extra: str = "") -> bytes:
    items = "".join(f"<item><title>{p}</title><link>{base}/articles/{p}.html</link></item>" for p in pages)
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Live</title>{extra}{items}</channel></rss>'.encode()


def _follower(out: pathlib.Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "pipeline", "follow", "--output", str(out), "--allow-private-addresses",
           "--rate-per-host", "50", "--retries", "0", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)


def _cycle_lines(proc: subprocess.Popen, n: int) -> list[str]:
    """Read the follower's stdout until its n-th cycle line (a blocking read: no sleeping)."""
    lines = []
    while len(lines) < n:
        line = proc.stdout.readline()
        assert line, f"follower ended early: {proc.stderr.read()}"
        if line.startswith("cycle "):
            lines.append(line.strip())
    return lines


@pytest.mark.e2e
def test_follow_cycles_fetch_only_new_pages_survive_a_server_down_and_stop_cleanly(web, tmp_path):
    # The live feed, by how often it was requested: two entries; then the server is down (503); then a third entry.
    live = [["a1", "a2"], None, ["a1", "a2", "a3"]]

    def feed(count: int, headers: dict) -> Reply:
        pages = live[min(count, len(live) - 1)]
        if pages is None:
            return Reply(503, {"Content-Type": "text/plain"}, b"down for maintenance")
        return Reply(200, {"Content-Type": "application/rss+xml"}, _rss(web.base, pages))

    web.route("/live.xml", feed)
    # A feed that asks to be polled at most hourly: requested in the first cycle only.
    web.route("/slow.xml", lambda count, headers: Reply(200, {"Content-Type": "application/rss+xml"},
                                                        _rss(web.base, ["a4"], "<ttl>60</ttl>")))
    out = tmp_path / "out"
    proc = _follower(out, "--feeds", web.url("/live.xml"), "--feeds", web.url("/slow.xml"), "--every", "0.1s")
    try:
        lines = _cycle_lines(proc, 4)
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and "Traceback" not in stdout
    assert "follow stopped after" in stdout
    assert " 3 new articles," in lines[0]  # a1, a2 from the live feed, a4 from the slow one
    assert " 0 new articles," in lines[1] and " 1 rejects," in lines[1]  # the 503: a reject, the cycle commits
    assert " 1 new articles," in lines[2]  # a3: the server is back
    assert " 0 new articles," in lines[3]
    assert len(web.seen("/slow.xml")) == 1  # its <ttl> asked for an hour
    assert len(web.seen("/live.xml")) >= 4  # a fifth cycle may have begun before the SIGTERM
    for page in ("a1", "a2", "a3", "a4"):  # every page requested once: ingested pages are not requested again
        assert len(web.seen(f"/articles/{page}.html")) == 1, page
    con = connect(str(out))
    assert con.sql("SELECT count(*), count(DISTINCT url) FROM articles").fetchall() == [(4, 4)]
    assert con.sql("SELECT count(*) FROM runs").fetchall()[0][0] >= 4
    assert con.sql("SELECT reason FROM rejects").fetchall() == [("http_5xx",)]
    assert not list((out / "_staging").glob("*/*"))  # an abandoned cycle left nothing


@pytest.mark.e2e
def test_follow_over_an_empty_inbox_is_quiet_and_a_failing_cycle_is_reported(tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    proc = _follower(out, "--input", str(inbox), "--every", "0.1s", "--cycles", "1")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert " 0 new articles," in _only_cycle(stdout)
    inbox.rmdir()  # the inbox is gone: every cycle fails (usage error), the follower goes on and reports each
    proc = _follower(out, "--input", str(inbox), "--every", "0.1s", "--cycles", "2")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    failed = [line for line in stdout.splitlines() if line.startswith("cycle ")]
    assert len(failed) == 2 and all("failed (exit 2)" in f and "matches no files" in f for f in failed), stdout


def _only_cycle(stdout: str) -> str:
    lines = [line for line in stdout.splitlines() if line.startswith("cycle ")]
    assert len(lines) == 1, stdout
    return lines[0]


def test_follow_refuses_per_run_options(tmp_path, capsys):
    from pipeline.follow import command

    assert command(["--input", str(tmp_path), "--output", str(tmp_path / "o"), "--run_id", "x"]) == 2
    assert command(["--input", str(tmp_path), "--output", str(tmp_path / "o"), "--every", "soon"]) == 2
    err = capsys.readouterr().err
    assert "--run_id is not a follow option" in err and "is not an interval" in err


@pytest.mark.e2e
def test_pages_of_an_output_without_ingested_state_are_asked_once_more_then_never(web, tmp_path):
    import io
    import shutil

    from pipeline.main import run

    urls, out = tmp_path / "urls.txt", tmp_path / "out"
    urls.write_text(web.url("/articles/a1.html") + "\n")
    args = ["--urls", str(urls), "--output", str(out), "--allow-private-addresses", "--rate-per-host", "50"]
    run(args, out=io.StringIO())
    shutil.rmtree(out / "_state" / "ingested_urls")  # as an output written before ingested_urls existed
    run(args, out=io.StringIO())
    assert [s.status for s in web.seen("/articles/a1.html")] == [200, 304]  # conditional GET: unchanged, so ingested
    run(args, out=io.StringIO())
    assert len(web.seen("/articles/a1.html")) == 2
    run([*args, "--refresh"], out=io.StringIO())
    assert len(web.seen("/articles/a1.html")) == 3  # --refresh asks again
