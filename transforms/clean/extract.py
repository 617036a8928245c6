"""The trafilatura adapter: main text and metadata of an HTML page, and language detection."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
import warnings

from schemas.records import UTC
from schemas.rejects import Reason, RejectError
from transforms.clean.config import CleanConfig
from transforms.clean.headings import byline_author
from transforms.clean.rules import split_lines

_HTML_LANG = re.compile(r"<html[^>]*\blang\s*=\s*[\"']?([a-zA-Z]{2,3})", re.I)
_MARKUP = re.compile(r"<\s*(html|body|p|div|article)\b", re.I)


@dataclasses.dataclass
class Extracted:
    """What an HTML page gives: its main text and the metadata it states about itself."""

    text: str
    title: str | None = None
    author: str | None = None
    published_at: dt.datetime | None = None
    site: str | None = None  # the publication name the page gives (meta tags, JSON-LD); None without one
    language: str | None = None
    url: str | None = None


def page_metadata(tree, url: str | None) -> Extracted:
    """Title, author, date, site name and URL of a parsed page: trafilatura's metadata steps minus the slow ones.

    Meta tags and JSON-LD first, then the page's own title/author elements; the date comes from
    htmldate without its extensive search (which parses every date-like string on the page and
    costs more than the text extraction itself). Categories, tags and licence are not needed.
    """
    from htmldate import find_date
    from trafilatura import metadata as tm

    meta = tm.examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None
    try:
        meta = tm.extract_meta_json(tree, meta)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        pass  # malformed JSON-LD: keep what the meta tags gave
    title = meta.title or tm.extract_title(tree)
    # trafilatura's in-page author search (an XPath sweep of the whole tree) costs a fifth of the
    # extraction time; without meta/JSON-LD author, the byline at the top of the text is used instead.
    author = meta.author
    page_url = meta.url or tm.extract_url(tree, url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        date = find_date(tree, url=page_url, original_date=True, extensive_search=False,
                         max_date=dt.date.today().isoformat())
    site = meta.sitename or tm.extract_sitename(tree)
    if site:
        site = site.lstrip("@") or None
    published = None
    if date:
        try:
            published = dt.datetime.fromisoformat(date).replace(tzinfo=UTC)
        except ValueError:
            published = None
    return Extracted(text="", title=title or None, author=author or None, published_at=published, site=site,
                     url=page_url or url)


def extract_html(html: str, url: str | None, cfg: CleanConfig = CleanConfig()) -> Extracted:
    """Main text and metadata of an HTML page via trafilatura; raises RejectError(extraction_failed) when there
    is no main text."""
    import trafilatura
    from trafilatura.utils import load_html

    if not _MARKUP.search(html[:200000]):
        raise RejectError(Reason.EXTRACTION_FAILED, "input has no HTML markup")
    tree = load_html(html)
    if tree is None:
        raise RejectError(Reason.EXTRACTION_FAILED, "HTML could not be parsed")
    ex = page_metadata(tree, url)  # reads the tree; trafilatura cleans a copy of it
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        fast=cfg.fast,
        favor_precision=cfg.favor_precision,
        include_comments=False,
        include_tables=cfg.include_tables,
        deduplicate=False,  # its cache is process-global state
        with_metadata=False,
    )
    if doc is None or not (doc.text or "").strip():
        raise RejectError(Reason.EXTRACTION_FAILED, "trafilatura found no main text")
    m = _HTML_LANG.search(html[:5000])
    ex.text = doc.text
    if ex.author is None:
        ex.author = byline_author(split_lines(doc.text)[:5])
    ex.language = m.group(1).lower() if m else None
    return ex


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language (py3langid), or None for very short text."""
    if len(text) < 20:
        return None
    import py3langid

    lang, _ = py3langid.classify(text[:3000])
    return lang
