"""Discovery documents parsed from bytes: RSS/Atom/RDF feeds, OPML, URL lists, sitemaps and sitemap indexes.

Everything here is pure: bytes in, records out. Fetching them is the scheduler's job (scheduler.py).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import zlib
from urllib.parse import urljoin
from xml.etree import ElementTree as ET

from schemas.rejects import Reason, RejectError
from transforms.dates import DateMode, from_struct_time, parse_date
from transforms.decoding import without_surrogates
from transforms.urls import is_http_url

GZIP_MAGIC = b"\x1f\x8b"
MAX_LIST_BYTES = 50_000_000  # a gzipped feed or feed list is refused when it inflates to more than this
# Largest feed parsed, in bytes after decompression: feedparser is slow and holds several copies (a 19 MB feed of
# 60,000 entries: +159 MB peak RSS, 39 s), and news feeds are well under 1 MB.
MAX_FEED_BYTES = 20_000_000


class DocumentError(RejectError):
    """A discovery document that yields nothing usable; `detail` says why. Always a feed_malformed reject."""

    def __init__(self, detail: str):
        super().__init__(Reason.FEED_MALFORMED, detail)


@dataclasses.dataclass(frozen=True)
class Link:
    """One article (or feed/sitemap) URL found in a discovery document, with the metadata that came with it."""

    url: str
    title: str | None = None
    published_at: dt.datetime | None = None
    author: str | None = None
    site: str | None = None
    language: str | None = None


@dataclasses.dataclass(frozen=True)
class Sitemap:
    """A parsed sitemap: `pages` for a urlset (or a plain-text sitemap), `sitemaps` for a sitemap index."""

    pages: tuple[Link, ...] = ()
    sitemaps: tuple[str, ...] = ()
    is_index: bool = False


def _local(tag) -> str:
    """An XML tag without its namespace, lower-cased."""
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _text(el) -> str | None:
    if el is None or el.text is None:
        return None
    value = el.text.strip()
    return value or None


def gunzip_capped(data: bytes, max_bytes: int) -> bytes:
    """Decompress gzip bytes, refusing more than `max_bytes` of output (a small file can inflate hugely)."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise DocumentError(f"corrupt gzip: {exc}") from exc
    if len(out) > max_bytes:
        raise DocumentError(f"gzip inflates to more than {max_bytes} bytes")
    return out


# ------------------------------------------------------------------------------------------
# Feeds (RSS 0.9x/1.0/2.0, Atom, RDF) via feedparser.
# ------------------------------------------------------------------------------------------

# A DOCTYPE's internal subset, quoted entity values and all: feedparser's fallback parser expands the entities
# declared there that expat refused (a 150 KB feed naming one large entity 10,000 times is GBs of title), so
# no feed keeps its entity declarations (references to them stay as text, bounded by the document).
_DOCTYPE = re.compile(rb"<!DOCTYPE([^\[>]*)(\[(?:[^\]\"']|\"[^\"]*\"|'[^']*')*\]\s*)?>", re.IGNORECASE)
_PROLOG_END = re.compile(rb"<!DOCTYPE|<[A-Za-z_]", re.IGNORECASE)  # a DOCTYPE, or the first element: no DOCTYPE
_ENTITY = re.compile(rb"<!ENTITY[^>]*>", re.IGNORECASE)
# Character references to surrogates (&#xD800; .. &#xDFFF;, &#55296; .. &#57343;), which feedparser's fallback
# parser cannot encode: they become U+FFFD, as lone surrogates do everywhere else.
_SURROGATE_REF = re.compile(
    rb"&#(?:[xX]0*[dD][89a-fA-F][0-9a-fA-F]{2}|0*(?:5529[6-9]|55[3-9]\d\d|56\d{3}|57[0-2]\d\d|573[0-3]\d|5734[0-3]));"
)


def without_entity_declarations(data: bytes) -> bytes:
    """A feed without the internal subset of its DOCTYPE and without entity declarations; the DOCTYPE's name
    stays (feedparser tells Netscape RSS 0.91 by it)."""
    first = _PROLOG_END.search(data)
    if first is None or first.group(0)[:2] != b"<!":
        return _ENTITY.sub(b"", data) if b"<!ENTITY" in data.upper() else data
    m = _DOCTYPE.match(data, first.start())
    if m is None:
        raise DocumentError("the DOCTYPE declaration never ends")
    return data[: first.start()] + b"<!DOCTYPE" + m.group(1) + b">" + _ENTITY.sub(b"", data[m.end():])


def _clean(value) -> str | None:
    """A feed's text field stripped, None when empty; lone surrogates (from character references) replaced."""
    value = (value or "").strip()
    return without_surrogates(value) or None


def _entry_link(entry, base: str) -> str | None:
    """The first http(s) link of a feed entry: `link`, an alternate link, or an id that is a URL."""
    candidates = [entry.get("link")]
    candidates += [lk.get("href") for lk in entry.get("links", ()) if lk.get("rel", "alternate") == "alternate"]
    if entry.get("guidislink") or is_http_url(entry.get("id")):
        candidates.append(entry.get("id"))
    for c in candidates:
        if c and c.strip():
            url = urljoin(base, c.strip())
            if is_http_url(url):
                return url
    return None


def parse_feed(data: bytes, url: str) -> tuple[list[Link], list[str]]:
    """(entries as Links, problems) of an RSS/Atom/RDF feed; relative links are resolved against the feed URL.

    A malformed feed that still yields entries is used. Raises DocumentError (with feedparser's reason) when
    the document yields no entries and is malformed or not a feed at all. `problems` lists entries
    without a usable link (each becomes a reject).
    """
    import feedparser

    if data[:2] == GZIP_MAGIC:
        data = gunzip_capped(data, MAX_LIST_BYTES)
    if len(data) > MAX_FEED_BYTES:
        raise DocumentError(f"feed of {len(data)} bytes is above the limit of {MAX_FEED_BYTES}")
    try:
        data = _SURROGATE_REF.sub(b"&#xFFFD;", without_entity_declarations(data))
        parsed = feedparser.parse(io.BytesIO(data), response_headers={"content-location": url})
    except Exception as exc:  # feedparser "never raises", yet its fallback parser does (&#xD800; -> UnicodeEncodeError)
        raise DocumentError(f"feedparser failed on the document: {type(exc).__name__}: {exc}") from exc
    entries, problems = [], []
    for number, entry in enumerate(parsed.entries, start=1):
        link = _entry_link(entry, url)
        if link is None:
            problems.append(f"entry {number} ({entry.get('title') or 'untitled'!r}) has no http(s) link")
            continue
        entries.append(
            Link(
                url=link,
                title=_clean(entry.get("title")),
                published_at=from_struct_time(entry.get("published_parsed") or entry.get("updated_parsed")),
                author=_clean(entry.get("author")),
                site=_clean(parsed.feed.get("title")),
                language=(_clean(parsed.feed.get("language")) or "").split("-")[0].lower() or None,
            )
        )
    if not parsed.entries:
        reason = parsed.get("bozo_exception")
        # feedparser also flags a missing/odd Content-Type or a charset override: warnings, not malformation.
        benign = isinstance(reason, (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride))
        if parsed.get("bozo") and not benign:
            raise DocumentError(f"malformed feed with no entries: {type(reason).__name__}: {reason}")
        if not parsed.get("version"):
            raise DocumentError("not an RSS, Atom or RDF feed (feedparser found no feed version and no entries)")
    return entries, problems


# ------------------------------------------------------------------------------------------
# Feed lists: OPML or one URL per line.
# ------------------------------------------------------------------------------------------

def parse_opml(data: bytes) -> list[str]:
    """The feed URLs (`xmlUrl`, else `url`) of every outline in an OPML document, in document order."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise DocumentError(f"OPML is not well-formed XML: {exc}") from exc
    if _local(root.tag) != "opml":
        raise DocumentError(f"not OPML: the root element is <{_local(root.tag)}>")
    urls = []
    for el in root.iter():
        if _local(el.tag) == "outline":
            attrs = {k.lower(): v for k, v in el.attrib.items()}
            url = attrs.get("xmlurl") or (attrs.get("url") if attrs.get("type", "").lower() in ("rss", "atom", "link") else None)
            if url and url.strip():
                urls.append(url.strip())
    return urls


def parse_url_list(text: str) -> list[str]:
    """One URL per line; blank lines and lines starting with # are ignored."""
    return [s for s in (line.strip() for line in text.splitlines()) if s and not s.startswith("#")]


def parse_feed_list(data: bytes) -> list[str]:
    """Feed URLs from an OPML file or a plain list of URLs (one per line)."""
    if data[:2] == GZIP_MAGIC:
        data = gunzip_capped(data, MAX_LIST_BYTES)
    head = data[:2000].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<") and b"<opml" in data[:5000].lower():
        return parse_opml(data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"URL list is not UTF-8: {exc}") from exc
    return parse_url_list(text)


# ------------------------------------------------------------------------------------------
# Sitemaps: urlset (incl. Google News), sitemap index, gzip, plain text.
# ------------------------------------------------------------------------------------------

def _news_link(loc: str, news) -> Link:
    """A Google News sitemap entry: the page with its title, date, publication name and language."""
    title = published = site = language = None
    for el in news.iter():
        name = _local(el.tag)
        if name == "title":
            title = _text(el)
        elif name == "publication_date":
            published = parse_date(_text(el), DateMode.LENIENT)  # None when it is not a date
        elif name == "name":
            site = _text(el)
        elif name == "language":
            language = (_text(el) or "").split("-")[0].lower() or None
    return Link(url=loc, title=title, published_at=published, site=site, language=language)


def parse_sitemap(data: bytes, url: str, max_bytes: int = MAX_LIST_BYTES) -> tuple[Sitemap, list[str]]:
    """(Sitemap, problems) of an XML sitemap, Google News sitemap, sitemap index or text sitemap (gzipped or not).

    `problems` lists `<loc>` values that are not http(s) URLs. Raises DocumentError for a document
    that is none of these.
    """
    if data[:2] == GZIP_MAGIC:
        data = gunzip_capped(data, max_bytes)
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise DocumentError("empty sitemap")
    problems: list[str] = []
    if not stripped.startswith(b"<"):
        # A text sitemap: one URL per line (sitemaps.org allows it).
        try:
            lines = parse_url_list(stripped.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise DocumentError(f"text sitemap is not UTF-8: {exc}") from exc
        pages = []
        for line in lines:
            (pages.append(Link(urljoin(url, line))) if is_http_url(urljoin(url, line)) else problems.append(f"not an http(s) URL: {line[:200]!r}"))
        if not pages:
            raise DocumentError("neither XML nor a list of URLs")
        return Sitemap(pages=tuple(pages)), problems
    try:
        root = ET.fromstring(stripped)
    except ET.ParseError as exc:
        raise DocumentError(f"sitemap is not well-formed XML: {exc}") from exc
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise DocumentError(f"not a sitemap: the root element is <{kind}>")
    is_index = kind == "sitemapindex"
    child_tag = "sitemap" if is_index else "url"
    pages, sitemaps = [], []
    for child in root:
        if _local(child.tag) != child_tag:
            continue
        loc = news = None
        for el in child:
            name = _local(el.tag)
            if name == "loc":
                loc = _text(el)
            elif name == "news":
                news = el
        if not loc:
            problems.append(f"<{child_tag}> without <loc>")
            continue
        absolute = urljoin(url, loc)
        if not is_http_url(absolute):
            problems.append(f"not an http(s) URL: {loc[:200]!r}")
        elif is_index:
            sitemaps.append(absolute)
        else:
            pages.append(_news_link(absolute, news) if news is not None else Link(absolute))
    return Sitemap(pages=tuple(pages), sitemaps=tuple(sitemaps), is_index=is_index), problems

