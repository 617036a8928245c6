"""One article's cleaning: RawArticle -> CleanArticle (extraction for HTML, the line cleaner, which metadata wins)."""
from __future__ import annotations

import datetime as dt

from schemas.records import CleanArticle, RawArticle
from transforms.clean.config import CleanConfig
from transforms.clean.extract import extract_html, format_sources
from transforms.clean.lines import clean_lines
from transforms.clean.rules import split_lines
from transforms.clean.structured import clean_site
from transforms.fingerprints import comparison_text, content_hash
from transforms.urls import canonical_url, identity_host

SITE_KEY_PREFIX = "site:"  # see transforms.identity.source_key
# metadata_source values for metadata that did not come from the page itself.
SOURCE_GIVEN = "given"  # the record's own field (JSONL)
SOURCE_FALLBACK = "fallback"  # a feed entry, news sitemap or WARC record
SOURCE_TEXT = "text"  # the raw-text cleaner found it in the text (title or date line, byline)
SOURCE_HTML_LANG = "html_lang"
# A fallback time is taken over a page's day-only date when it falls within this long after that day's start.
_SAME_DAY = dt.timedelta(hours=36)


def _is_day_only(when: dt.datetime | None) -> bool:
    return when is not None and (when.hour, when.minute, when.second, when.microsecond) == (0, 0, 0, 0)


def clean_article(raw: RawArticle, cfg: CleanConfig = CleanConfig()) -> CleanArticle:
    """Rule-based cleaning of one article; raises RejectError(extraction_failed) for HTML without main text.

    Metadata precedence: the record's own fields, then what the page states (HTML: structured data first) or
    what the line cleaner found (raw text), then the fallbacks of a feed entry, news sitemap or WARC record;
    where the page gives a day only and the fallback a time on that day, the time wins (the most precise
    consistent value). `site` is a publication name or None, never a URL or the title; `host` is the
    canonical URL's host. `metadata_source` says where each field came from. `content_hash` is set from the
    cleaned text (the template pass updates it).
    """
    sources: dict[str, str] = {}
    url, author, language, title = raw.url, raw.author, raw.language, raw.title
    site, published = raw.site, raw.published_at
    page_has_time = True
    html_removed: list[tuple[str, str]] = []
    for field, value in (("title", title), ("published", published), ("author", author), ("site", site),
                         ("language", language)):
        if value:
            sources[field] = SOURCE_GIVEN
    if raw.is_html:
        ex = extract_html(raw.content, raw.url, cfg)
        lines, structural = split_lines(ex.text), False
        html_removed = ex.left_out
        sources["text"] = ex.sources["text"]
        url = url or ex.url
        for field, given in (("title", title), ("author", author), ("site", site)):
            if not given and getattr(ex, field):
                sources[field] = ex.sources.get(field, "page")
        title, author, site = title or ex.title, author or ex.author, site or ex.site
        if not language and ex.language:
            language, sources["language"] = ex.language, SOURCE_HTML_LANG
        if published is None and ex.published_at is not None:
            published, page_has_time = ex.published_at, ex.published_has_time
            sources["published"] = ex.sources.get("published", "page")
    else:
        lines, structural = split_lines(raw.content), True
    res = clean_lines(lines, cfg, structural=structural, known_title=title)
    if title is None and res.title:
        title, sources["title"] = res.title, SOURCE_TEXT
    if title is None and raw.fallback_title:
        title, sources["title"] = raw.fallback_title, SOURCE_FALLBACK
    if author is None and (res.author or raw.fallback_author):
        author, sources["author"] = res.author or raw.fallback_author, SOURCE_TEXT if res.author else SOURCE_FALLBACK
    if published is None and res.published_at is not None:
        published, page_has_time, sources["published"] = res.published_at, not _is_day_only(res.published_at), SOURCE_TEXT
    fallback = raw.fallback_published_at
    if published is None and fallback is not None or (fallback is not None and not page_has_time and not _is_day_only(fallback)
          and dt.timedelta(0) <= fallback - published < _SAME_DAY):
        published, sources["published"] = fallback, SOURCE_FALLBACK
    site = clean_site(site, title)
    if site is None and raw.fallback_site:
        site = clean_site(raw.fallback_site, title)
        if site:
            sources["site"] = SOURCE_FALLBACK
    if site is None:
        sources.pop("site", None)
    canonical = canonical_url(url)
    host = identity_host(canonical)
    notes = format_sources(sources)
    if raw.metadata_notes:
        notes = f"{notes};{raw.metadata_notes}" if notes else raw.metadata_notes
    return CleanArticle(
        article_id=raw.article_id,
        source_uri=raw.source_uri,
        input_format=raw.input_format,
        text=res.text,
        input_id=raw.input_id,
        url=url,
        canonical_url=canonical,
        site=site,
        title=title,
        author=author,
        published_at=published,
        language=language,
        source_key=_source_key(raw, site or host),
        boilerplate_removed=tuple(line for _, line in html_removed + res.removed),
        boilerplate_rules=tuple(rule for rule, _ in html_removed + res.removed),
        content_hash=content_hash(comparison_text(res.text, title)),
        host=host,
        metadata_source=notes,
    )


def _source_key(raw: RawArticle, site: str | None) -> str:
    """An HTML page whose record named no site learns its templates with the publication name it was given here
    (the page's or the feed's, else its canonical host); anything else keeps the source the reader gave it."""
    if raw.is_html and not raw.site and site:
        return SITE_KEY_PREFIX + site.lower()
    return raw.source_key
