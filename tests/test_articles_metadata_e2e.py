"""End to end: the golden pages and a headline feed through `run`, the new columns read back with DuckDB, and an
articles file written before `host`/`metadata_source` existed still read by the views."""
from __future__ import annotations

import io
import json
import pathlib
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.main import run
from pipeline.sql import connect
from schemas.tables import ARTICLES_SCHEMA

GOLDEN = pathlib.Path(__file__).parent / "golden"
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def golden_run(tmp_path_factory):
    inputs = tmp_path_factory.mktemp("inputs")
    for page in (GOLDEN / "pages").glob("*.html"):
        shutil.copy(page, inputs / page.name)
    feed = [{"id": f"h{i}", "title": t, "text": t, "published": "2014-03-10T16:52:00Z"}
            for i, t in enumerate(["Quake hits coast", "Markets fall on rate fears"])]
    feed.append({"id": "bad-date", "title": "Ferry strike ends", "text": "The ferry strike ended on Monday after the "
                 "crews accepted a new pay offer from the operator, the union said.", "published": "soon"})
    (inputs / "feed.jsonl").write_text("\n".join(json.dumps(r) for r in feed) + "\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("out")
    run(["--input", str(inputs), "--output", str(out), "--run_id", "golden"], out=io.StringIO())
    return out


def test_html_pages_get_host_site_time_and_sources(golden_run):
    con = connect(str(golden_run))
    rows = {pathlib.Path(uri).stem: (host, site, ts, src) for uri, host, site, ts, src in con.sql(
        "SELECT source_uri, host, site, published_at, metadata_source FROM articles WHERE input_format = 'html'").fetchall()}
    host, site, ts, src = rows["en_jsonld_newsarticle"]
    assert (host, site) == ("riverside-courier.example", "The Riverside Courier")
    assert (ts.hour, ts.minute) == (11, 0)
    assert "published=json_ld" in src and "text=trafilatura" in src
    assert rows["en_no_structured_data"][1] is None  # no publication name on the page: NULL, not the host or title
    removed = con.sql("SELECT boilerplate_rules FROM articles WHERE source_uri LIKE '%en_jsonld_newsarticle%'").fetchall()[0][0]
    assert "html_navigation" in removed and "html_footer" in removed


def test_headline_feed_records_are_articles_and_a_bad_date_is_undated(golden_run):
    con = connect(str(golden_run))
    rows = {i: (fmt, title, text, ts, src) for i, fmt, title, text, ts, src in con.sql(
        "SELECT input_id, input_format, title, text, published_at, metadata_source FROM articles WHERE input_id IS NOT NULL").fetchall()}
    assert rows["h0"][:3] == ("jsonl_title", "Quake hits coast", "")
    assert rows["h1"][:3] == ("jsonl_title", "Markets fall on rate fears", "")
    assert rows["bad-date"][3] is None and "published=unparsed" in rows["bad-date"][4]
    assert con.sql("SELECT count(*) FROM rejects").fetchall()[0][0] == 0


def test_an_articles_file_from_before_the_new_columns_still_reads(golden_run):
    """Rows written before `host` and `metadata_source` existed read beside new ones, as NULL (union_by_name)."""
    run_dir = golden_run / "articles" / "golden"
    current = pq.read_table(next(run_dir.glob("*.parquet")))
    old_schema = pa.schema([f for f in ARTICLES_SCHEMA if f.name not in ("host", "metadata_source")])
    old = current.select(old_schema.names).cast(old_schema)
    old = old.set_column(0, "article_id", pa.array(["old-" + a for a in old.column("article_id").to_pylist()]))
    pq.write_table(old, run_dir / "zz-older.parquet")
    con = connect(str(golden_run))
    rows = con.sql("SELECT article_id LIKE 'old-%' AS older, count(*), count(host), count(metadata_source) "
                   "FROM articles GROUP BY older ORDER BY older").fetchall()
    assert rows[0][0] is False and rows[0][2] > 0 and rows[0][3] == rows[0][1]
    assert rows[1][0] is True and rows[1][1] == rows[0][1] and rows[1][2:] == (0, 0)
