"""End to end: real Beam runs into tmp_path, tables read back with DuckDB."""
import gzip
import io
import json
import pathlib

import duckdb
import pytest

from pipeline.main import UsageError, run
from pipeline.sql import connect

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = str(ROOT / "seeds")

BOILERPLATE = [
    "ADVERTISEMENT",
    "UNITED24 - Make a charitable donation in support of Ukraine!",
    "Weapons of Mass Destruction (WMD)",
    "Join the GlobalSecurity.org mailing list",
]


def _run(*argv):
    out = io.StringIO()
    row = run(list(argv), out=out)
    return row, out.getvalue()


@pytest.fixture(scope="module")
def seeds_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("seeds_out")
    row, printed = _run("--input", SEEDS, "--output", str(out))
    return out, row, printed


def test_seeds_make_one_story_of_three_clean_articles(seeds_run):
    out, row, printed = seeds_run
    con = connect(str(out))
    arts = con.sql("SELECT source_uri, title, published_at, text, story_id, is_canonical, duplicate_of FROM articles").fetchall()
    assert len(arts) == 3
    assert len({a[4] for a in arts}) == 1, "the three seeds are one story"
    assert sum(a[5] for a in arts) == 1 and all(a[6] is None for a in arts)
    titled = {pathlib.Path(a[0]).name: a[1] for a in arts if a[1]}
    assert set(titled) == {"000_9051c3f7e67cba65.txt", "002_ed5482e186733a7c.txt"}
    assert titled["000_9051c3f7e67cba65.txt"] == "U.S. Suspends Negotiations With Russia on Syrian Ceasefire"
    assert titled["002_ed5482e186733a7c.txt"] == "US suspends negotiations with Russia over Syria ceasefire"
    dated = {pathlib.Path(a[0]).name: a[2].date().isoformat() for a in arts if a[2]}
    assert dated == {"000_9051c3f7e67cba65.txt": "2016-10-03", "002_ed5482e186733a7c.txt": "2016-10-03"}
    for _, title, _, text, *_ in arts:
        for junk in BOILERPLATE:
            assert junk not in text
        assert not text.rstrip().endswith("Comments")
        assert "This is not a decision that was taken lightly" in text
        assert title is None or title not in text
    stories = con.sql("SELECT article_count, canonical_article_id FROM stories").fetchall()
    assert len(stories) == 1 and stories[0][0] == 3
    assert "inputs          3  = 3 articles + 0 rejects" in printed


def test_seeds_body_sentences_all_kept(seeds_run):
    """Every sentence-like line of the seeds that is not boilerplate survives in the text."""
    out, _, _ = seeds_run
    rows = connect(str(out)).sql("SELECT source_uri, text FROM articles").fetchall()
    texts = {pathlib.Path(u).name: " ".join(t.split()) for u, t in rows}  # whitespace (incl. NBSP) is normalised
    for path in pathlib.Path(SEEDS).glob("*.txt"):
        for line in path.read_text().splitlines():
            line = " ".join(line.split())
            if len(line.split()) >= 10 and line.endswith((".", '"', "”")):
                assert line in texts[path.name], line[:60]


def test_boilerplate_is_auditable(seeds_run):
    out, _, _ = seeds_run
    rows = connect(str(out)).sql(
        "SELECT r.line, r.rule FROM (SELECT unnest(boilerplate_removed) line, unnest(boilerplate_rules) rule FROM articles) r"
    ).fetchall()
    removed = dict(rows)
    for junk in BOILERPLATE + ["Comments"]:
        assert junk in removed, junk
    assert removed["ADVERTISEMENT"] == "ad_marker"


def test_runs_table_and_commit_layout(seeds_run):
    out, row, _ = seeds_run
    con = connect(str(out))
    runs = con.sql("SELECT run_id, input_count, article_count, story_count, reject_count, unique_article_count FROM runs").fetchall()
    assert runs == [(row["run_id"], 3, 3, 1, 0, 3)]
    assert not (out / "_staging" / row["run_id"]).exists()
    for table in ("articles", "stories", "rejects", "runs"):
        assert list((out / table / row["run_id"]).glob("*.parquet")), table
    opts = json.loads(con.execute("SELECT options FROM runs").fetchall()[0][0])
    assert opts["newsbeam"]["stories"]["window_days"] == 3.0  # effective settings (pipeline/run_options.py)


HTML_PAGE = """<html lang="en"><head><title>Port strike ends | Harbour News</title>
<meta property="og:site_name" content="Harbour News"><meta name="author" content="Ana Lopez">
<meta property="article:published_time" content="2024-03-05T08:00:00Z"></head>
<body><nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Port strike ends after nine days</h1>
<p>Dock workers at the country's largest container port voted on Monday to end a nine-day strike that had left
dozens of ships waiting offshore and shelves empty in several cities.</p>
<p>The union said members had accepted a revised offer that raises wages by eleven percent over three years and
limits the use of automated cranes at the busiest terminals.</p>
<p>Port authorities expect the backlog of vessels to clear within two weeks, although shipping companies warned
that delivery schedules would remain disrupted until the end of the month.</p>
</article><footer>Copyright 2024 Harbour News. All rights reserved.</footer></body></html>"""


def _mixed_inputs(d: pathlib.Path):
    (d / "page.html").write_text(HTML_PAGE)
    (d / "page-copy.html.gz").write_bytes(gzip.compress(HTML_PAGE.encode()))
    records = [
        {"id": "r1", "url": "https://www.example.org/a?utm_source=feed", "title": "Central bank raises rates",
         "text": "The central bank raised its main interest rate on Thursday for the third time this year, pointing to "
                 "persistent inflation in services. Economists had expected the move.", "published": "2024-03-07T10:00:00Z",
         "source": "Example Org"},
        {"id": "r2", "url": "https://example.org/a", "title": "Central bank raises rates again",
         "text": "Updated: the central bank raised its main interest rate on Thursday.", "published": "2024-03-07T12:00:00Z",
         "source": "Example Org"},
        "this line is not json",
        {"id": "r4", "url": "https://example.org/nothing-here"},
        {"id": "r5", "title": "Dock workers end nine-day port strike", "published": "2024-03-05T09:00:00Z"},
        {"id": "r6", "title": "Wildfire forces evacuations in mountain towns", "published": "2024-03-05T09:00:00Z"},
    ]
    (d / "feed.jsonl").write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    (d / "notes.docx").write_bytes(b"PK\x03\x04")


def test_mixed_inputs_every_input_accounted_for(tmp_path):
    inp, out = tmp_path / "in", tmp_path / "out"
    inp.mkdir()
    _mixed_inputs(inp)
    row, printed = _run("--input", str(inp), "--output", str(out))
    con = connect(str(out))
    arts = {r[0]: r for r in con.sql(
        "SELECT coalesce(input_id, regexp_extract(source_uri, '[^/]+$')), title, site, author, published_at, language, "
        "duplicate_of IS NOT NULL, duplicate_kind, url, canonical_url, input_format FROM articles").fetchall()}
    rejects = con.sql("SELECT regexp_extract(source_uri, '[^/]+$'), input_id, stage, reason FROM rejects ORDER BY 1").fetchall()
    assert sorted(arts) == ["page-copy.html.gz", "page.html", "r1", "r2", "r5", "r6"]
    assert rejects == [("feed.jsonl:3", None, "read", "invalid_json"), ("feed.jsonl:4", "r4", "read", "no_content"),
                       ("notes.docx", None, "read", "unsupported_format")]
    # The HTML page keeps its metadata; its gzipped copy is an exact duplicate of it.
    page = arts["page.html"]
    assert page[1] == "Port strike ends after nine days" and page[2] == "Harbour News" and page[3] == "Ana Lopez"
    assert page[4].date().isoformat() == "2024-03-05" and page[5] == "en" and page[10] == "html"
    assert {arts["page.html"][6], arts["page-copy.html.gz"][6]} == {True, False}
    # One canonical URL (tracking parameter and www. dropped), but the texts do not agree: two articles, no copy
    # (a shared URL is an identity signal only when the texts agree).
    assert arts["r1"][9] == arts["r2"][9] == "https://example.org/a"
    assert not arts["r2"][6] and not arts["r1"][6]
    # Headline-only records are articles with an empty body, and two different headlines are not copies.
    assert arts["r5"][10] == arts["r6"][10] == "jsonl_title" and not arts["r5"][6] and not arts["r6"][6]
    heads = con.sql("SELECT text, word_count, content_hash FROM articles WHERE input_id IN ('r5', 'r6')").fetchall()
    assert [h[:2] for h in heads] == [("", 0), ("", 0)] and heads[0][2] != heads[1][2]
    assert row["input_count"] == len(arts) + len(rejects) == 9
    assert row["exact_duplicate_count"] == 1 and row["unique_article_count"] == 5
    assert "inputs          9  = 6 articles + 3 rejects" in printed
    assert "invalid_json" in printed
    # Unique articles and canonical ones are one query away.
    assert con.execute("SELECT count(*) FROM articles WHERE duplicate_of IS NULL").fetchall()[0][0] == 5
    assert con.execute("SELECT count(*) FROM articles WHERE is_canonical").fetchall()[0][0] == con.execute("SELECT count(*) FROM stories").fetchall()[0][0]


VIEW_QUERIES = ("SELECT * FROM articles ORDER BY article_id", "SELECT * FROM stories ORDER BY story_id",
                "SELECT * FROM rejects ORDER BY source_uri")


def _views(out):
    con = connect(str(out))
    return [con.sql(q).fetchall() for q in VIEW_QUERIES]


def test_rerun_is_idempotent_and_standalone_rerun_keeps_one_row_per_article(tmp_path, seeds_run):
    out = tmp_path / "out"
    first, _ = _run("--input", SEEDS, "--output", str(out))
    once = _views(out)
    second, printed = _run("--input", SEEDS, "--output", str(out))
    assert first["run_id"] != second["run_id"]
    assert second["input_count"] == 0 and "3 skipped: read by earlier runs" in printed
    assert _views(out) == once  # the same command twice gives the same dataset as once
    third, _ = _run("--input", SEEDS, "--output", str(out), "--standalone")
    assert third["article_count"] == 3  # a stand-alone run reads everything again ...
    con = connect(str(out))
    per_run = con.sql("SELECT run_id, list(article_id ORDER BY article_id) FROM article_rows GROUP BY 1 ORDER BY 1").fetchall()
    assert len(per_run) == 2 and per_run[0][1] == per_run[1][1]  # ... with the same stable article ids
    assert con.sql("SELECT count(*) FROM articles").fetchall() == [(3,)]  # and the articles view has each once
    with pytest.raises(UsageError, match="already exists"):
        _run("--input", SEEDS, "--output", str(out), "--run_id", first["run_id"])


def test_what_a_killed_run_left_is_invisible_and_removed_by_the_next_run(tmp_path):
    out = tmp_path / "out"
    _run("--input", SEEDS, "--output", str(out), "--run_id", "r1")
    before = _views(out)
    dead = "20240101T000000Z-dead00"
    staged = out / "_staging" / dead / "articles" / "part-0.parquet"
    staged.parent.mkdir(parents=True)
    staged.write_bytes(b"x" * 1000)
    # A run killed after moving its files into the tables, before its runs row: a copy of r1's articles.
    moved = out / "articles" / dead
    moved.mkdir()
    duckdb.sql(f"COPY (SELECT * REPLACE ('{dead}' AS run_id) FROM read_parquet('{out}/articles/r1/*.parquet')) "
               f"TO '{moved}/part-0.parquet' (FORMAT parquet)")
    assert _views(out) == before  # not published: no view shows it
    assert connect(str(out)).sql("SELECT count(*) FROM article_rows").fetchall() == [(3,)]
    row, printed = _run("--input", SEEDS, "--output", str(out), "--run_id", "r2")
    assert f"removed what 1 run(s) that never finished left in {out} ({dead})" in printed, printed
    assert not staged.exists() and not moved.exists()
    assert row["input_count"] == 0 and _views(out) == before


@pytest.mark.parametrize("bad", ["bad/name", "../../victim", ".hidden", "a b", "x" * 200])
def test_unsafe_run_ids_are_refused_before_any_work(tmp_path, bad):
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="not a safe name"):
        _run("--input", SEEDS, "--output", str(out), "--run_id", bad)
    assert not out.exists()


def test_multi_processing_runner_gives_the_same_result(tmp_path, seeds_run):
    """Workers in separate processes (as on a real runner): DoFns and elements must pickle."""
    out = tmp_path / "mp"
    _run("--input", SEEDS, "--output", str(out), "--direct_running_mode=multi_processing", "--direct_num_workers=2")
    ref = connect(str(seeds_run[0])).sql("SELECT article_id, story_id, text FROM articles ORDER BY 1").fetchall()
    got = connect(str(out)).sql("SELECT article_id, story_id, text FROM articles ORDER BY 1").fetchall()
    assert got == ref


@pytest.mark.parametrize(
    "argv,message",
    [
        ([], "at least one --input"),
        (["--input", "/nonexistent/dir/*.txt"], "matches no files"),
        (["--input", SEEDS, "--near_threshold", "1.5"], "near-duplicate threshold"),
        (["--input", SEEDS, "--story_window_days", "0"], "story window"),
    ],
    ids=["no-input", "no-match", "bad-threshold", "bad-window"],
)
def test_usage_errors_are_clear(tmp_path, argv, message):
    with pytest.raises(UsageError, match=message):
        _run(*argv, "--output", str(tmp_path / "o"))


def test_sql_views_exist_even_for_empty_tables(tmp_path):
    con = connect(str(tmp_path))
    for table in ("articles", "stories", "rejects", "runs"):
        assert con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0] == 0
    with pytest.raises(duckdb.Error):
        con.sql("SELECT no_such_column FROM articles").fetchall()


@pytest.mark.parametrize(
    "counts,read_records,problem",
    [
        ({"entered_cleaning": 5, "articles": 4, "rejects_at.extract": 1}, 5, None),
        ({"entered_cleaning": 5, "articles": 4, "rejects_at.extract": 1, "rejects_at.read": 2}, None, None),
        ({"entered_cleaning": 7, "articles": 7}, 5, None),  # two more were fetched from the web
        ({"entered_cleaning": 5, "articles": 3, "rejects_at.extract": 1}, 5, "5 articles entered"),
        ({"entered_cleaning": 4, "articles": 4}, 100, "emitted 100 records"),
    ],
    ids=["all-accounted", "no-metrics", "fetched-too", "lost-after-cleaning", "lost-before-cleaning"],
)
def test_check_accounted_fails_a_run_that_lost_input(counts, read_records, problem):
    from pipeline.commit import check_accounted

    if problem is None:
        check_accounted(counts, read_records)
    else:
        with pytest.raises(RuntimeError, match=problem):
            check_accounted(counts, read_records)


def test_the_reader_record_metric_is_reported_so_the_check_can_use_it(tmp_path):
    """check_accounted compares the readers' `records` metric with what reached cleaning; on the
    DirectRunner the metric must be there, or the check would quietly do nothing."""
    import apache_beam as beam

    from pipeline.commit import read_records_metric as _read_records
    from transforms.read import ReadArticles

    p = beam.Pipeline()
    p | ReadArticles([SEEDS + "/*"])
    result = p.run()
    result.wait_until_finish()
    assert _read_records(result) == 3


def test_check_written_compares_staged_rows_with_counts():
    from pipeline.commit import check_written

    check_written({"articles": 3, "stories": 1, "rejects": 0}, {"articles": 3, "stories": 1, "rejects": 0})
    with pytest.raises(RuntimeError, match="articles: 2 rows written, 3 counted"):
        check_written({"articles": 3, "stories": 1}, {"articles": 2, "stories": 1, "rejects": 0})
