"""Article records as they move through the pipeline, and the output table schemas."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pyarrow as pa

UTC = dt.timezone.utc

# Input formats (the `input_format` column).
FORMAT_TEXT = "text"
FORMAT_HTML = "html"
FORMAT_JSONL_TEXT = "jsonl_text"
FORMAT_JSONL_HTML = "jsonl_html"
FORMAT_JSONL_TITLE = "jsonl_title"  # a headline-only record: title (and maybe a date), no body

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


@dataclasses.dataclass(frozen=True)
class CleanArticle:
    """An article after boilerplate removal: body text plus metadata, before deduplication."""

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

    @property
    def word_count(self) -> int:
        return len(self.text.split())


@dataclasses.dataclass(frozen=True)
class StoryAssignment:
    """The deduplication verdict for one article."""

    article_id: str
    story_id: str
    is_canonical: bool
    duplicate_of: str | None
    duplicate_kind: str | None


def article_row(a: CleanArticle, s: StoryAssignment, content_hash: str, run_id: str, ingested_at: dt.datetime) -> dict:
    """The `articles` table row for one article."""
    return {
        "article_id": a.article_id,
        "input_id": a.input_id,
        "source_uri": a.source_uri,
        "input_format": a.input_format,
        "url": a.url,
        "canonical_url": a.canonical_url,
        "site": a.site,
        "title": a.title,
        "author": a.author,
        "published_at": a.published_at,
        "language": a.language,
        "text": a.text,
        "word_count": a.word_count,
        "content_hash": content_hash,
        "story_id": s.story_id,
        "is_canonical": s.is_canonical,
        "duplicate_of": s.duplicate_of,
        "duplicate_kind": s.duplicate_kind,
        "boilerplate_removed": list(a.boilerplate_removed),
        "boilerplate_rules": list(a.boilerplate_rules),
        "run_id": run_id,
        "ingested_at": ingested_at,
    }


TIMESTAMP = pa.timestamp("us", tz="UTC")

ARTICLES_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("input_id", pa.string()),
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("input_format", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("canonical_url", pa.string()),
        pa.field("site", pa.string()),
        pa.field("title", pa.string()),
        pa.field("author", pa.string()),
        pa.field("published_at", TIMESTAMP),
        pa.field("language", pa.string()),
        pa.field("text", pa.string(), nullable=False),
        pa.field("word_count", pa.int32(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("story_id", pa.string(), nullable=False),
        pa.field("is_canonical", pa.bool_(), nullable=False),
        pa.field("duplicate_of", pa.string()),
        pa.field("duplicate_kind", pa.string()),
        pa.field("boilerplate_removed", pa.list_(pa.string())),
        pa.field("boilerplate_rules", pa.list_(pa.string())),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("ingested_at", TIMESTAMP, nullable=False),
    ]
)

STORIES_SCHEMA = pa.schema(
    [
        pa.field("story_id", pa.string(), nullable=False),
        pa.field("canonical_article_id", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("first_published", TIMESTAMP),
        pa.field("last_published", TIMESTAMP),
        pa.field("article_count", pa.int32(), nullable=False),
        pa.field("unique_article_count", pa.int32(), nullable=False),
        pa.field("site_count", pa.int32(), nullable=False),
        # True when the story began in an earlier run (--only_new): the counts and dates cover this run's articles.
        # NULL in rows written before this column existed.
        pa.field("continued", pa.bool_()),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

RUNS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("started_at", TIMESTAMP, nullable=False),
        pa.field("ended_at", TIMESTAMP, nullable=False),
        pa.field("input_count", pa.int64(), nullable=False),
        pa.field("article_count", pa.int64(), nullable=False),
        pa.field("unique_article_count", pa.int64(), nullable=False),
        pa.field("exact_duplicate_count", pa.int64(), nullable=False),
        pa.field("near_duplicate_count", pa.int64(), nullable=False),
        pa.field("story_count", pa.int64(), nullable=False),
        pa.field("reject_count", pa.int64(), nullable=False),
        pa.field("rejects_by_reason", pa.map_(pa.string(), pa.int64())),
        pa.field("inputs", pa.list_(pa.string())),
        pa.field("file_count", pa.int64()),  # files read; NULL in rows written before these columns existed
        pa.field("skipped_file_count", pa.int64()),  # files --only_new skipped as read by earlier runs
        pa.field("earlier_copy_count", pa.int64()),  # articles --only_new marked as copies of earlier runs' articles
        pa.field("continued_story_count", pa.int64()),  # stories of this run that began in an earlier run
        pa.field("output", pa.string()),
        pa.field("options", pa.string()),  # JSON of every option used
        pa.field("newsbeam_version", pa.string()),
    ]
)
