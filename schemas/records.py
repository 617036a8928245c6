"""The records that move between stages: raw and clean articles, copy and story verdicts, story rows."""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter

UTC = dt.UTC

# Input formats (the `input_format` column).
FORMAT_TEXT = "text"
FORMAT_HTML = "html"
FORMAT_JSONL_TEXT = "jsonl_text"
FORMAT_JSONL_HTML = "jsonl_html"
FORMAT_JSONL_TITLE = "jsonl_title"  # a headline-only record: title (and maybe a date), no body
FORMAT_WARC = "warc"  # an HTML response record of a WARC file
FORMAT_HTTP = "http"  # a page fetched from the web

# duplicate_kind values.
DUP_EXACT = "exact"
DUP_NEAR = "near"


@dataclasses.dataclass(frozen=True)
class RawArticle:
    """One input article before cleaning: either raw text or HTML, plus whatever metadata came with it."""

    article_id: str
    source_uri: str
    input_format: str
    content: str  # raw text or HTML
    is_html: bool
    input_id: str | None = None
    url: str | None = None
    title: str | None = None
    published_at: dt.datetime | None = None
    site: str | None = None
    language: str | None = None
    author: str | None = None
    source_key: str = ""  # the source whose template lines are learned together (site, host or folder)
    # Metadata from a feed entry, news sitemap or WARC record: used only where the page itself has none.
    fallback_title: str | None = None
    fallback_author: str | None = None
    fallback_published_at: dt.datetime | None = None
    fallback_site: str | None = None
    # What the reader noted about the given metadata ("published=unparsed"), joined into `metadata_source`.
    metadata_notes: str | None = None


@dataclasses.dataclass(frozen=True)
class CleanArticle:
    """An article after boilerplate removal: body text plus metadata, before copies and stories.

    `content_hash` is the hash of the normalised comparison text (transforms/fingerprints.py), set once by the
    cleaning stage when the text is final; copies, earlier-run lookups and the articles table all use it.
    """

    article_id: str
    source_uri: str
    input_format: str
    text: str
    input_id: str | None = None
    url: str | None = None
    canonical_url: str | None = None
    site: str | None = None
    title: str | None = None
    author: str | None = None
    published_at: dt.datetime | None = None
    language: str | None = None
    source_key: str = ""
    boilerplate_removed: tuple[str, ...] = ()
    boilerplate_rules: tuple[str, ...] = ()
    content_hash: str = ""
    # The registered host of the canonical URL (lower case, no www.): "bbc.co.uk", "nytimes.com"; None without a URL.
    host: str | None = None
    # Where each metadata field came from, as "field=source" pairs joined by ";" (transforms/clean/extract.py).
    metadata_source: str | None = None

    def __post_init__(self):
        if not self.content_hash:
            raise ValueError(f"CleanArticle {self.article_id}: content_hash is required (see transforms/fingerprints.py)")

    @property
    def word_count(self) -> int:
        return len(self.text.split())


@dataclasses.dataclass(frozen=True)
class StoryAssignment:
    """The copy and story verdict for one article."""

    article_id: str
    story_id: str
    is_canonical: bool
    duplicate_of: str | None
    duplicate_kind: str | None


@dataclasses.dataclass(frozen=True)
class ArticleTerms:
    """What story clustering needs of one article that is not a copy: id, rank key, publication time
    (epoch seconds) and its two hashed term views (all words, names). Also the story state kept for later runs."""

    article_id: str
    rank: tuple
    ts: float | None
    counts: tuple[Counter, Counter]  # (all-words Counter, names Counter)
    headline: bool = False  # a title and no body


@dataclasses.dataclass(frozen=True)
class StoryRow:
    """One row of the `stories` table, before the run id is added."""

    story_id: str
    canonical_article_id: str
    title: str | None
    first_published: dt.datetime | None
    last_published: dt.datetime | None
    article_count: int
    unique_article_count: int
    site_count: int
    continued: bool  # the story began in an earlier run; counts and dates cover this run's articles


STORY_ID_PREFIX = "s"


def story_id_for(canonical_article_id: str) -> str:
    """The id of the story whose canonical article is `canonical_article_id`."""
    return STORY_ID_PREFIX + canonical_article_id


def canonical_of_story(story_id: str) -> str:
    """The canonical article id a story id was made from (inverse of story_id_for)."""
    return story_id[len(STORY_ID_PREFIX):]
