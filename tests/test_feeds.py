"""Pure parsing of discovery documents (transforms/fetch/documents.py): feeds, OPML, URL lists, sitemaps (no network)."""
import datetime as dt
import gzip
import pathlib

import pytest

from schemas.rejects import Reason
from transforms.fetch import documents
from transforms.fetch.documents import DocumentError

WEB = pathlib.Path(__file__).resolve().parent / "fixtures" / "web"
BASE = "http://news.example.org"
UTC = dt.UTC


def fixture(name: str) -> bytes:
    return (WEB / name).read_bytes().replace(b"{{BASE}}", BASE.encode())


def test_rss2_resolves_relative_links_and_reads_entry_metadata():
    links, problems = documents.parse_feed(fixture("feeds/rss.xml"), BASE + "/feeds/rss.xml")
    assert [lk.url for lk in links] == [
        BASE + "/articles/a1.html",
        BASE + "/articles/a2.html?utm_source=rss&utm_medium=feed",
        BASE + "/private/secret.html",
        BASE + "/missing.html",
    ]
    first = links[0]
    assert first.title == "Harbour town opens new tidal energy plant"
    assert first.published_at == dt.datetime(2024, 3, 4, 8, 0, tzinfo=UTC)
    assert first.author == "Ann Writer"
    assert first.language == "en"
    assert first.site == "Example Gazette"  # the channel title: the publication's name
    assert problems == []


def test_atom_resolves_links_against_xml_base():
    links, _ = documents.parse_feed(fixture("feeds/atom.xml"), BASE + "/feeds/atom.xml")
    assert [lk.url for lk in links] == [BASE + "/articles/a3.html", BASE + "/articles/a5.html"]
    assert links[1].author == "Baker Reporter"
    assert links[1].published_at == dt.datetime(2024, 3, 8, 6, 45, tzinfo=UTC)


def test_rdf_rss1():
    links, _ = documents.parse_feed(fixture("feeds/rdf.xml"), BASE + "/feeds/rdf.xml")
    assert [lk.url for lk in links] == [BASE + "/articles/a4.html"]
    assert links[0].published_at == dt.datetime(2024, 3, 7, 10, 0, tzinfo=UTC)


def test_malformed_feed_with_entries_is_used():
    links, _ = documents.parse_feed(fixture("feeds/sloppy.xml"), BASE + "/feeds/sloppy.xml")
    assert [lk.url for lk in links] == [BASE + "/articles/a1.html"]


def test_malformed_feed_without_entries_raises_with_feedparsers_reason():
    with pytest.raises(DocumentError, match="not well-formed") as exc:
        documents.parse_feed(fixture("feeds/broken.xml"), BASE + "/feeds/broken.xml")
    assert exc.value.reason == Reason.FEED_MALFORMED  # a RejectError: caught as one where rejects are emitted


def test_html_page_is_not_a_feed():
    with pytest.raises(DocumentError):
        documents.parse_feed(fixture("articles/a1.html"), BASE + "/articles/a1.html")


def test_well_formed_empty_feed_is_not_an_error():
    data = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    assert documents.parse_feed(data, BASE + "/quiet.xml") == ([], [])


def test_entry_without_link_is_reported():
    data = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>No link</title></item></channel></rss>'
    links, problems = documents.parse_feed(data, BASE + "/f.xml")
    assert links == [] and len(problems) == 1 and "No link" in problems[0]


def test_opml_nested_outlines():
    urls = documents.parse_feed_list(fixture("feeds.opml"))
    assert urls == [BASE + p for p in ("/feeds/rss.xml", "/feeds/atom.xml", "/feeds/rdf.xml", "/feeds/sloppy.xml", "/feeds/broken.xml", "/feeds/gone.xml")]


@pytest.mark.parametrize(
    "data,expected",
    [
        (b"# my feeds\nhttp://a.example/rss\n\n  https://b.example/atom  \n", ["http://a.example/rss", "https://b.example/atom"]),
        (b"\xef\xbb\xbfhttp://bom.example/feed\n", ["http://bom.example/feed"]),
        (b"", []),
    ],
    ids=["comments-and-blanks", "utf8-bom", "empty"],
)
def test_plain_url_list(data, expected):
    assert documents.parse_feed_list(data) == expected


def test_opml_that_is_not_xml_is_malformed():
    with pytest.raises(DocumentError, match="not well-formed"):
        documents.parse_opml(b"<opml><body><outline xmlUrl='x'></body>")


def test_sitemap_index():
    sm, problems = documents.parse_sitemap(fixture("sitemaps/index.xml"), BASE + "/sitemaps/index.xml")
    assert sm.is_index and sm.sitemaps == (BASE + "/sitemaps/news.xml", BASE + "/sitemaps/pages.xml.gz")
    assert sm.pages == () and problems == []


def test_google_news_sitemap_metadata():
    sm, _ = documents.parse_sitemap(fixture("sitemaps/news.xml"), BASE + "/sitemaps/news.xml")
    (page,) = sm.pages
    assert page.url == BASE + "/articles/a3.html"
    assert page.title == "Mountain railway reopens after landslide repairs"
    assert page.published_at == dt.datetime(2024, 3, 6, 7, 15, tzinfo=UTC)
    assert page.site == "Example Gazette" and page.language == "en"


def test_gzipped_sitemap_and_non_http_loc():
    data = gzip.compress(fixture("sitemaps/pages.xml"))
    sm, problems = documents.parse_sitemap(data, BASE + "/sitemaps/pages.xml.gz")
    assert [p.url for p in sm.pages] == [BASE + "/articles/a4.html", BASE + "/articles/a5.html"]
    assert len(problems) == 1 and "ftp://" in problems[0]


def test_text_sitemap():
    sm, _ = documents.parse_sitemap(b"https://x.example/a\nhttps://x.example/b\n", "https://x.example/sitemap.txt")
    assert [p.url for p in sm.pages] == ["https://x.example/a", "https://x.example/b"]


def test_gzip_bomb_is_refused():
    data = gzip.compress(b"<urlset>" + b" " * 2_000_000 + b"</urlset>")
    with pytest.raises(DocumentError, match="inflates"):
        documents.parse_sitemap(data, BASE + "/big.xml.gz", max_bytes=1_000_000)


@pytest.mark.parametrize(
    "data,match",
    [(b"<html><body>hi</body></html>", "not a sitemap"), (b"<urlset><url>", "not well-formed"), (b"   ", "empty")],
    ids=["html", "truncated", "blank"],
)
def test_not_a_sitemap(data, match):
    with pytest.raises(DocumentError, match=match):
        documents.parse_sitemap(data, BASE + "/s.xml")
