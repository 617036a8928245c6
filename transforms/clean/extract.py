"""The trafilatura adapter: main text and metadata of an HTML page (structured data first), and language detection."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
import warnings

from schemas.records import UTC
from schemas.rejects import Reason, RejectError
from transforms.clean import structured
from transforms.clean.agreement import agreement, coverage, fuller_body, paragraph_groups, pick_reference, shingle_bag
from transforms.clean.config import CleanConfig
from transforms.clean.edges import cut_edges
from transforms.clean.headings import byline_author
from transforms.clean.html_audit import left_out, page_blocks
from transforms.clean.prune import flatten_ruby
from transforms.clean.rules import split_lines

_HTML_LANG = re.compile(r"<html[^>]*\blang\s*=\s*[\"']?([a-zA-Z]{2,3})", re.I)
_MARKUP = re.compile(r"<\s*(html|body|p|div|article)\b", re.I)

# metadata_source values (one per field: where its value came from).
SOURCE_JSON_LD = "json_ld"
SOURCE_OPENGRAPH = "og"
SOURCE_META = "meta"
SOURCE_TRAFILATURA = "trafilatura"
SOURCE_HTMLDATE = "htmldate"
SOURCE_BYLINE = "byline"
TEXT_FAST = "trafilatura_fast"
TEXT_FULL = "trafilatura"
TEXT_SECOND_OPINION = "trafilatura_second_opinion"
TEXT_JSON_LD = "json_ld_body"


@dataclasses.dataclass
class Extracted:
    """What an HTML page gives: its main text and the metadata it states about itself."""

    text: str
    title: str | None = None
    author: str | None = None
    published_at: dt.datetime | None = None  # aware, UTC
    published_has_time: bool = False  # False: the page gave a day only (stored as midnight UTC)
    site: str | None = None  # the publication name the page gives; None without one (never a URL or a title)
    language: str | None = None
    url: str | None = None
    left_out: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (html rule, block) not in `text`
    json_ld_body: str | None = None
    news_page: bool = False  # the page declares a schema.org article in JSON-LD
    bold_names: list[str] = dataclasses.field(default_factory=list)  # bold name paragraphs (no person credited)
    sources: dict[str, str] = dataclasses.field(default_factory=dict)  # field -> where it came from


def page_metadata(tree, url: str | None) -> Extracted:
    """Title, author, publication time, site name and URL of a parsed page.

    JSON-LD (NewsArticle and kin) and OpenGraph/article:* meta first (structured.py); trafilatura's meta-tag
    reading only for the fields those leave empty, and htmldate (without its extensive search, which costs
    more than the text extraction) only when no structured date exists.
    """
    st = structured.read_structured(tree)
    site_names = [name for _, name in st.sites]
    title, title_src = structured.pick_title(st, site_names)
    stamp, date_src = structured.pick_stamp(st.stamps)
    author, author_src = structured.pick_authors(st)
    site, site_src = structured.pick_site(st, title)
    page_url = st.url
    if not (title and author and site and page_url):
        from trafilatura import metadata as tm

        meta = tm.examine_meta(tree)
        if meta.author and " " not in meta.author:
            meta.author = None
        try:
            meta = tm.extract_meta_json(tree, meta)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError):
            pass  # malformed JSON-LD: keep what the meta tags gave
        if not title:
            title, title_src = meta.title or tm.extract_title(tree), SOURCE_TRAFILATURA
        if not author and meta.author:
            author, author_src = meta.author.replace("; ", ", "), SOURCE_TRAFILATURA
        page_url = page_url or meta.url or tm.extract_url(tree, url)
        if not site:
            site = structured.clean_site(meta.sitename or tm.extract_sitename(tree), title)
            site_src = SOURCE_TRAFILATURA if site else None
    published, has_time = (stamp.utc(), stamp.has_time) if stamp else (None, False)
    if stamp is None:
        published, has_time = _htmldate(tree, page_url), False
        date_src = SOURCE_HTMLDATE if published else None
    sources = {"title": title_src, "published": date_src, "author": author_src, "site": site_src}
    return Extracted(text="", title=title or None, author=author or None, published_at=published,
                     published_has_time=has_time, site=site, url=page_url or url, json_ld_body=st.body,
                     news_page=st.is_article, bold_names=st.bold_names, sources={k: v for k, v in sources.items() if v})


def _htmldate(tree, page_url: str | None) -> dt.datetime | None:
    from htmldate import find_date

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        date = find_date(tree, url=page_url, original_date=True, extensive_search=False,
                         max_date=dt.date.today().isoformat())
    if not date:
        return None
    try:
        return dt.datetime.fromisoformat(date).replace(tzinfo=UTC)
    except ValueError:
        return None


def _main_text(tree, html: str, url: str | None, ex: Extracted, cfg: CleanConfig) -> str:
    """The page's main text, its source in `ex.sources["text"]`: trafilatura's fast pass, checked against the page.

    A fast text shorter than `cfg.second_opinion_ratio` of the page's own article paragraphs (or of its JSON-LD
    articleBody), or holding under `cfg.second_opinion_min_coverage` of their shingles, is extracted again with
    trafilatura's fallback extractors; the second text is kept when longer and agreeing with those paragraphs at
    least as well. A text that is a fragment of the page's JSON-LD articleBody gives way to the body's lines the
    page shows (`agreement.fuller_body`).
    """
    import trafilatura
    from trafilatura.utils import load_html

    checked = cfg.fast and cfg.second_opinion_ratio > 0
    groups = paragraph_groups(tree, ex.news_page) if checked else ([], [])  # before trafilatura cleans the tree
    settings = dict(url=url, favor_precision=cfg.favor_precision, include_comments=False,
                    include_tables=cfg.include_tables, deduplicate=False, with_metadata=False)
    doc = trafilatura.bare_extraction(tree, fast=cfg.fast, **settings)  # deduplicate: its cache is global
    text = (doc.text or "") if doc is not None else ""
    ex.sources["text"] = TEXT_FAST if cfg.fast else TEXT_FULL
    if not checked:
        return text
    bag = shingle_bag(text)
    paragraphs = pick_reference(*groups, bag, cfg.second_opinion_ratio)
    reference = max(sum(len(p) for p in paragraphs), len(ex.json_ld_body or ""))
    ref_bag = shingle_bag("\n".join(paragraphs))
    if len(text) < cfg.second_opinion_ratio * reference or (
            ref_bag and coverage(ref_bag, bag) < cfg.second_opinion_min_coverage):
        again_tree = load_html(html)
        flatten_ruby(again_tree)
        again = trafilatura.bare_extraction(again_tree, fast=False, **settings)
        other = (again.text or "") if again is not None else ""
        other_bag = shingle_bag(other)
        if len(other) > len(text) and agreement(ref_bag, other_bag) >= agreement(ref_bag, bag):
            text, bag, ex.sources["text"] = other, other_bag, TEXT_SECOND_OPINION
    if ex.json_ld_body and cfg.json_ld_min_share > 0:
        page = [*groups[0], *(p for group in groups[1] for p in group)]
        fuller = fuller_body(ex.json_ld_body, bag, page, cfg.json_ld_min_share)
        if fuller is not None:
            text, ex.sources["text"] = fuller, TEXT_JSON_LD
    return text


def extract_html(html: str, url: str | None, cfg: CleanConfig = CleanConfig()) -> Extracted:
    """Main text and metadata of an HTML page via trafilatura; raises RejectError(extraction_failed) when there
    is no main text. The text is checked against the page itself (`_main_text`)."""
    from trafilatura.utils import load_html

    if not _MARKUP.search(html[:200000]):
        raise RejectError(Reason.EXTRACTION_FAILED, "input has no HTML markup")
    tree = load_html(html)
    if tree is None:
        raise RejectError(Reason.EXTRACTION_FAILED, "HTML could not be parsed")
    ex = page_metadata(tree, url)
    blocks = page_blocks(tree) if cfg.audit_html else []  # before trafilatura cleans the tree
    flatten_ruby(tree)
    text = _main_text(tree, html, url, ex, cfg)
    if not text.strip():
        raise RejectError(Reason.EXTRACTION_FAILED, "trafilatura found no main text")
    ex.left_out = left_out(blocks, text)  # before the edges' cut, so that each cut line is listed once, by its rule
    text, cut = cut_edges(text, ex.title)  # a paywall box at the end, a bare date line at either end
    ex.text = text
    ex.left_out += cut
    lines = split_lines(text)
    byline = structured.byline_in_text(ex.bold_names, lines) if ex.bold_names else None
    if byline:  # the page credits no person, and its text opens or ends with a bold name paragraph
        ex.author, ex.sources["author"] = byline, SOURCE_BYLINE
    if ex.author is None:
        ex.author = byline_author(lines[:5])
        if ex.author:
            ex.sources["author"] = SOURCE_BYLINE
    m = _HTML_LANG.search(html[:5000])
    ex.language = m.group(1).lower() if m else None
    return ex


def format_sources(sources: dict[str, str]) -> str | None:
    """The `metadata_source` column: "field=source" pairs in a fixed field order, ";"-separated."""
    order = ("text", "title", "published", "author", "site", "language")
    parts = [f"{k}={sources[k]}" for k in order if sources.get(k)]
    return ";".join(parts) or None


# Language identification: py3langid is unsure on short text (a list of names comes out as Aragonese at 8%).
LANGUAGE_MIN_LETTERS = 40
LANGUAGE_MIN_PROBABILITY = 0.9
_LETTER = re.compile(r"[^\W\d_]")


def load_language_identifier():
    """py3langid's model with normalised probabilities (build once per worker: DoFn.setup)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str, identifier) -> str | None:
    """ISO 639-1 code of the text's language, or None when the text is too short or the model unsure."""
    sample = text[:3000]
    if len(_LETTER.findall(sample)) < LANGUAGE_MIN_LETTERS:
        return None
    lang, prob = identifier.classify(sample)
    return lang if prob >= LANGUAGE_MIN_PROBABILITY else None
