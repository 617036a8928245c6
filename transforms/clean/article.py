"""One article's cleaning: RawArticle -> CleanArticle (extraction for HTML, the line cleaner, which metadata wins)."""
from __future__ import annotations

from schemas.records import CleanArticle, RawArticle
from transforms.clean.config import CleanConfig
from transforms.clean.extract import extract_html
from transforms.clean.lines import clean_lines
from transforms.clean.rules import split_lines
from transforms.fingerprints import comparison_text, content_hash
from transforms.urls import canonical_url, identity_host

SITE_KEY_PREFIX = "site:"  # see transforms.identity.source_key


def clean_article(raw: RawArticle, cfg: CleanConfig = CleanConfig()) -> CleanArticle:
    """Rule-based cleaning of one article; raises RejectError(extraction_failed) for HTML without main text.

    Metadata precedence: the record's own fields, then what the page states (HTML) or what the line cleaner
    found (raw text), then the fallbacks of a feed entry, news sitemap or WARC record. `site` comes last from
    the page URL's host. `content_hash` is set from the cleaned text (the template pass updates it).
    """
    url, site, author, language = raw.url, raw.site, raw.author, raw.language
    title, published = raw.title, raw.published_at
    host = None
    if raw.is_html:
        ex = extract_html(raw.content, raw.url, cfg)
        lines, structural = split_lines(ex.text), False
        url = url or ex.url
        site = site or ex.site
        host = identity_host(ex.url)
        author = author or ex.author
        language = language or ex.language
        title = title or ex.title
        published = published or ex.published_at
    else:
        lines, structural = split_lines(raw.content), True
    site = site or raw.fallback_site or host
    res = clean_lines(lines, cfg, structural=structural, known_title=title)
    title = title or res.title or raw.fallback_title
    return CleanArticle(
        article_id=raw.article_id,
        source_uri=raw.source_uri,
        input_format=raw.input_format,
        text=res.text,
        input_id=raw.input_id,
        url=url,
        canonical_url=canonical_url(url),
        site=site,
        title=title,
        author=author or res.author or raw.fallback_author,
        published_at=published or res.published_at or raw.fallback_published_at,
        language=language,
        source_key=_source_key(raw, site),
        boilerplate_removed=tuple(line for _, line in res.removed),
        boilerplate_rules=tuple(rule for rule, _ in res.removed),
        content_hash=content_hash(comparison_text(res.text, title)),
    )


def _source_key(raw: RawArticle, site: str | None) -> str:
    """An HTML page whose record named no site learns its templates with the site it was given here (the page's
    name, the feed's, or the host); anything else keeps the source the reader gave it."""
    if raw.is_html and not raw.site and site:
        return SITE_KEY_PREFIX + site.lower()
    return raw.source_key
