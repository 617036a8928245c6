"""The Python API (`import newsbeam`): run over paths and URLs, the views in DuckDB, stories and articles as Arrow
tables; and the runs.options row it leaves."""
from __future__ import annotations

import json
import pathlib

import duckdb
import pyarrow as pa
import pytest

import newsbeam

ROOT = pathlib.Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def seeds_output(tmp_path_factory):
    out = tmp_path_factory.mktemp("api") / "out"
    row = newsbeam.run(str(ROOT / "seeds"), output=str(out), workers=1)
    return str(out), row


def test_run_returns_the_runs_row(seeds_output):
    out, row = seeds_output
    assert row["input_count"] == row["article_count"] == 3 and row["reject_count"] == 0
    assert newsbeam.sql(out, "SELECT run_id FROM runs").column("run_id").to_pylist() == [row["run_id"]]


def test_connect_gives_the_views_read_only(seeds_output):
    out, _ = seeds_output
    con = newsbeam.connect(out)
    assert con.sql("SELECT count(*) FROM articles").fetchall() == [(3,)]
    with pytest.raises(duckdb.Error, match="disabled by configuration"):
        con.sql("SELECT * FROM read_text('/etc/passwd')").fetchall()
    with pytest.raises(duckdb.Error, match="only reads"):
        newsbeam.sql(out, "COPY (SELECT 1) TO 'x.csv'")


def test_stories_and_articles_are_arrow_tables_matching_the_views(seeds_output):
    out, _ = seeds_output
    stories = newsbeam.stories(out)
    assert isinstance(stories, pa.Table)
    expected = newsbeam.connect(out).sql("SELECT story_id, article_count FROM stories ORDER BY article_count DESC").fetchall()
    assert list(zip(stories.column("story_id").to_pylist(), stories.column("article_count").to_pylist())) == expected
    arts = newsbeam.articles(out, columns=["article_id", "title", "published_at"])
    assert arts.column_names == ["article_id", "title", "published_at"] and arts.num_rows == 3
    assert newsbeam.articles(out, since="2016-10-03T12:00:00+00:00").num_rows == 2  # one seed is undated: ingested now
    assert newsbeam.stories(out, since="2030-01-01").num_rows == 0


def test_run_over_urls_fetches_the_pages(web, tmp_path):
    out = tmp_path / "out"
    row = newsbeam.run([web.url("/articles/a1.html"), web.url("/articles/a2.html")], output=str(out),
                       allow_private_addresses=True, rate_per_host=50.0, workers=1)
    assert row["input_count"] == 2
    urls = newsbeam.sql(str(out), "SELECT url FROM articles UNION ALL SELECT source_uri FROM rejects").column(0).to_pylist()
    assert sorted(urls) == sorted([web.url("/articles/a1.html"), web.url("/articles/a2.html")])
    assert {s.path for s in web.seen()} >= {"/articles/a1.html", "/articles/a2.html"}


def test_bad_options_raise_usage_error(tmp_path):
    with pytest.raises(newsbeam.UsageError):
        newsbeam.run([], output=str(tmp_path / "out"))


def test_runs_options_keep_what_was_given_and_the_effective_settings(seeds_output):
    out, row = seeds_output
    options = json.loads(row["options"])
    assert set(options) == {"given", "newsbeam", "runner"}
    assert options["given"] == {"inputs": [str(ROOT / "seeds")], "output": out, "workers": 1}
    settings = options["newsbeam"]
    assert settings["worker_processes"] == 1 and settings["copies"]["threshold"] == 0.7 and settings["input_format"] == "auto"
    assert {"clean", "copies", "stories"} <= set(settings) and "fetch" not in settings  # no fetching, no fetch config
    assert len(row["options"]) < 2500  # was 5.6 KB of Beam's defaults
    assert "beam_services" not in row["options"] and "sdk_location" not in row["options"]


def test_report_from_the_api(seeds_output, tmp_path):
    out, _ = seeds_output
    path = newsbeam.report(out, to=str(tmp_path / "r.html"))
    assert pathlib.Path(path).read_text().count('data-key="articles"><b>3</b>') == 1
