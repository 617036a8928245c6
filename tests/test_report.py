"""`newsbeam report` and `newsbeam stories`: the report's numbers equal the views', it is one offline file, and it
renders in a real browser (headless Chromium) without script errors."""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from pipeline.main import run
from pipeline.report import build_report, parse_since
from pipeline.sql import connect
from pipeline.stories import story_lines, top_stories
from schemas.records import UTC

ROOT = pathlib.Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e

HEADLINES = [
    ("Volcano erupts on remote island, villages evacuated", "lava.example", "2024-03-01T08:00:00+00:00"),
    ("Remote island volcano erupts; villages are evacuated", "news.example", "2024-03-01T10:30:00+00:00"),
    ("Villages evacuated as volcano erupts on remote island", "daily.example", "2024-03-02T07:15:00+00:00"),
    ("Central bank raises interest rates by half a point", "money.example", "2024-03-02T12:00:00+00:00"),
    ("Interest rates raised by half a point at the central bank", "news.example", "2024-03-03T09:00:00+00:00"),
    ("Local team wins the cup after extra time", "sport.example", "2024-03-04T20:00:00+00:00"),
]


def write_inputs(folder: pathlib.Path) -> pathlib.Path:
    """Seeds (HTML with boilerplate), dated headlines from several sites, a bad JSONL line and an unsupported file."""
    folder.mkdir()
    for f in (ROOT / "seeds").iterdir():
        shutil.copy(f, folder / f.name)
    lines = [json.dumps({"id": f"h{i}", "title": t, "text": (t + ". ") * 12, "site": s, "published": p, "url": f"https://{s}/{i}"})
             for i, (t, s, p) in enumerate(HEADLINES)]
    (folder / "headlines.jsonl").write_text("\n".join(lines + ["{not json"]) + "\n")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4 not an article")
    return folder


@pytest.fixture(scope="module")
def output(tmp_path_factory) -> str:
    base = tmp_path_factory.mktemp("report")
    inputs = write_inputs(base / "in")
    out = str(base / "out")
    run(["--input", str(inputs), "--output", out], out=io.StringIO())
    return out


def report_data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def scalar(con, sql: str):
    return con.sql(sql).fetchall()[0][0]


def test_parse_since():
    now = dt.datetime(2024, 3, 10, 12, tzinfo=UTC)
    assert parse_since("7d", now) == now - dt.timedelta(days=7)
    assert parse_since("12h", now) == now - dt.timedelta(hours=12)
    assert parse_since("2024-03-01", now) == dt.datetime(2024, 3, 1, tzinfo=UTC)
    assert parse_since(None, now) is None
    with pytest.raises(ValueError, match="duration"):
        parse_since("last tuesday", now)


def test_report_numbers_equal_the_views(output):
    page = build_report(output)
    data = report_data(page)
    con = connect(output)
    totals = data["totals"][0]
    assert totals["articles"] == scalar(con, "SELECT count(*) FROM articles") == 3 + len(HEADLINES)
    assert totals["stories"] == scalar(con, "SELECT count(*) FROM stories")
    assert totals["rejects"] == scalar(con, "SELECT count(*) FROM rejects") == 2
    assert totals["unique_articles"] == scalar(con, "SELECT count(*) FROM articles WHERE duplicate_of IS NULL")
    top = con.sql("SELECT story_id, article_count, unique_article_count, site_count FROM stories "
                  "ORDER BY article_count DESC, site_count DESC, last_published DESC NULLS LAST, story_id LIMIT 20").fetchall()
    assert [(s["story_id"], s["article_count"], s["unique_article_count"], s["site_count"]) for s in data["top_stories"]] == top
    rejects = con.sql("SELECT stage, reason, count(*) FROM rejects GROUP BY ALL ORDER BY 3 DESC, 1, 2").fetchall()
    assert [(r["stage"], r["reason"], r["rejects"]) for r in data["rejects"]] == rejects
    per_day = con.sql("SELECT count(*) FROM articles WHERE published_at IS NOT NULL").fetchall()[0][0]
    assert sum(d["articles"] for d in data["per_day"]) == per_day == sum(d["articles"] for d in data["per_period"])
    rules = dict(con.sql("SELECT r, count(*) FROM (SELECT unnest(boilerplate_rules) r FROM articles) GROUP BY r").fetchall())
    assert {r["rule"]: r["lines"] for r in data["boilerplate"]} == rules and rules
    runs = con.sql("SELECT run_id, input_count, article_count, story_count, reject_count FROM runs").fetchall()
    assert [(r["run_id"], r["inputs"], r["articles"], r["stories"], r["rejects"]) for r in data["runs"]] == runs
    # The same numbers are what a reader sees: the totals cards and the top stories table.
    cards = dict(re.findall(r'<div class="card" data-key="([^"]+)"><b>([\d,]+)</b>', page))
    assert cards["articles"] == str(totals["articles"]) and cards["rejects"] == "2"
    first_row = re.search(r"<tr data-story='([^']+)'>(.*?)</tr>", page, re.S)
    assert first_row.group(1) == top[0][0]
    assert f"<td class=n>{top[0][1]:,}</td>" in first_row.group(2)


def test_report_sections_and_offline(output, tmp_path):
    page = build_report(output)
    for heading in ("Stories over time", "Top 20 stories", "Articles per (day|week|month) and per site",
                    "Languages and input formats", "Rejects by stage and reason", "Boilerplate removed by rule", "Run history"):
        assert re.search(f"<h2>{heading}</h2>", page), heading
    # One file: no script, style or font loaded from elsewhere.
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)\s*=", page)
    assert "@import" not in page and "@font-face" not in page
    assert page.count("Plotly.newPlot") == len(re.findall(r'class="plotly-graph-div"', page)) >= 5


def test_report_since_leaves_out_older_articles(output):
    data = report_data(build_report(output, since=dt.datetime(2024, 3, 2, tzinfo=UTC)))
    con = connect(output)
    newer = scalar(con, "SELECT count(*) FROM articles WHERE coalesce(published_at, ingested_at) >= TIMESTAMPTZ '2024-03-02 00:00:00+00'")
    assert data["totals"][0]["articles"] == newer
    assert newer < 3 + len(HEADLINES)  # the two headlines of 1 March are out


def test_report_command_writes_the_file(output, tmp_path):
    to = tmp_path / "r.html"
    res = subprocess.run([sys.executable, "-m", "pipeline", "report", "--output", output, "--to", str(to)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert to.read_text().startswith("<!DOCTYPE html>")
    res = subprocess.run([sys.executable, "-m", "pipeline", "report", "--output", output, "--since", "soon"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "--since" in res.stderr and "Traceback" not in res.stderr


def test_stories_lines_fit_100_columns(output):
    columns, rows = top_stories(connect(output), top=5)
    lines = story_lines(rows, width=100)
    assert all(len(line) <= 100 for line in lines)
    biggest = scalar(connect(output), "SELECT max(article_count) FROM stories")
    assert lines[2].split()[1] == str(biggest)
    long = [(r[0], "word " * 60, *r[2:]) for r in rows]
    assert story_lines(long, width=100)[2].endswith("…") and all(len(x) <= 100 for x in story_lines(long, width=100))


def test_stories_command_formats(output):
    def stories(*args):
        return subprocess.run([sys.executable, "-m", "pipeline", "stories", "--output", output, *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "100"})
    res = stories("--top", "3", "--format", "json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert len(rows) == 3 and rows[0]["article_count"] >= rows[1]["article_count"]
    res = stories("--top", "3")
    assert res.returncode == 0 and len(res.stdout.splitlines()) == 5
    assert max(len(line) for line in res.stdout.splitlines()) <= 100
    res = stories("--since", "2000-01-01", "--sort", "newest", "--format", "csv")
    assert res.stdout.splitlines()[0].startswith("story_id,title,article_count")


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def headless(browser: str, profile: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium as this machine needs it: no sandbox (root), no GPU, no background network."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
             "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage",
             f"--user-data-dir={profile}", "--virtual-time-budget=15000"]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=180)


@pytest.mark.skipif(chromium() is None, reason="Chromium is not installed (apt-get install chromium; .ci/run installs it)")
def test_report_renders_in_headless_chromium_without_script_errors(output, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(build_report(output), encoding="utf-8")
    res = headless(chromium(), tmp_path / "profile", "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    root = re.search(r"<html[^>]*>", res.stdout).group(0)
    plots = re.search(r'data-report-plots="(\d+)/(\d+)"', root)
    assert 'data-report-status="ok"' in root, (root, res.stderr[-2000:])
    assert plots and plots.group(1) == plots.group(2) and int(plots.group(2)) >= 5
    assert "Uncaught" not in res.stderr
    assert '<div class="main-svg"' in res.stdout or 'class="main-svg"' in res.stdout  # plotly drew its SVG
