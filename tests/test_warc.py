"""WARC input: a small WARC written here with warcio, read record by record and end to end."""
import datetime as dt
import io
import pathlib

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.main import run
from pipeline.sql import connect
from schemas.records import RawArticle
from schemas.rejects import Reject
from transforms.read.formats import detect_format
from transforms.read.warc import Skipped, iter_warc

WEB = pathlib.Path(__file__).resolve().parent / "fixtures" / "web"


def write_warc(path: pathlib.Path, gz: bool = True) -> pathlib.Path:
    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=gz)
        w.write_record(w.create_warcinfo_record(path.name, {"software": "newsbeam tests"}))

        def response(uri, status, ctype, body, date):
            http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
            rec = w.create_warc_record(uri, "response", payload=io.BytesIO(body), http_headers=http,
                                       warc_headers_dict={"WARC-Date": date})
            w.write_record(rec)

        response("https://news.example.org/a5.html", "200 OK", "text/html; charset=utf-8",
                 (WEB / "articles/a5.html").read_bytes(), "2024-03-09T12:00:00Z")
        response("https://news.example.org/a1.html", "200 OK", "text/html", (WEB / "articles/a1.html").read_bytes(), "2024-03-09T12:00:01Z")
        response("https://news.example.org/logo.png", "200 OK", "image/png", b"\x89PNG\r\n\x1a\n", "2024-03-09T12:00:02Z")
        response("https://news.example.org/gone.html", "404 Not Found", "text/html", b"<p>gone</p>", "2024-03-09T12:00:03Z")
        req = w.create_warc_record("https://news.example.org/a1.html", "request", payload=io.BytesIO(b"GET /a1.html HTTP/1.1\r\n\r\n"))
        w.write_record(req)
    return path


@pytest.mark.parametrize("gz", [True, False], ids=["warc.gz", "warc"])
def test_iter_warc_records(tmp_path, gz):
    path = write_warc(tmp_path / ("crawl.warc.gz" if gz else "crawl.warc"), gz)
    with open(path, "rb") as f:
        items = list(iter_warc(str(path), f, 1_000_000))
    arts = [i for i in items if isinstance(i, RawArticle)]
    rejects = [i for i in items if isinstance(i, Reject)]
    skipped = sorted(i.rec_type for i in items if isinstance(i, Skipped))
    assert [a.url for a in arts] == ["https://news.example.org/a5.html", "https://news.example.org/a1.html"]
    assert arts[0].fallback_published_at == dt.datetime(2024, 3, 9, 12, 0, tzinfo=dt.UTC)
    assert arts[0].published_at is None  # the WARC date is only a fallback for the page's own date
    assert "Bakery cooperative" in arts[0].content and arts[0].input_format == "warc"
    assert sorted(r.reason for r in rejects) == ["http_404", "not_html"]
    assert skipped == ["request", "warcinfo"]


def test_too_large_record(tmp_path):
    path = write_warc(tmp_path / "crawl.warc.gz")
    with open(path, "rb") as f:
        items = list(iter_warc(str(path), f, 100))
    assert {i.reason for i in items if isinstance(i, Reject)} == {"too_large", "http_404", "not_html"}


def test_corrupt_warc_is_unreadable(tmp_path):
    path = tmp_path / "bad.warc"
    path.write_bytes(b"this is not a WARC file at all\r\n\r\n")
    with open(path, "rb") as f:
        items = list(iter_warc(str(path), f, 1000))
    assert [i.reason for i in items] == ["unreadable"]


def test_detect_format():
    assert detect_format("x/CC-NEWS-2024.warc.gz") == ("warc", True)
    assert detect_format("x/crawl.warc") == ("warc", False)


@pytest.mark.e2e
def test_newsbeam_run_on_warc_end_to_end(tmp_path):
    path = write_warc(tmp_path / "crawl.warc.gz")
    out = tmp_path / "out"
    row = run(["--input", str(path), "--output", str(out)], out=io.StringIO())
    con = connect(str(out))
    arts = con.sql("SELECT url, published_at, title FROM articles ORDER BY url").fetchall()
    assert [a[0] for a in arts] == ["https://news.example.org/a1.html", "https://news.example.org/a5.html"]
    # a1 has its own date; a5 has none, so the WARC-Date fills in.
    assert arts[0][1].date() == dt.date(2024, 3, 4)
    assert arts[1][1] == dt.datetime(2024, 3, 9, 12, 0, tzinfo=dt.UTC)
    assert sorted(r[0] for r in con.sql("SELECT reason FROM rejects").fetchall()) == ["http_404", "not_html"]
    assert row["article_count"] == 2
