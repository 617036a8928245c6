"""The four output tables: explicit Parquet schemas and the functions that build their rows."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pyarrow as pa

from schemas.records import CleanArticle, StoryAssignment, StoryRow
from schemas.rejects import Reject

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

REJECTS_SCHEMA = pa.schema(
    [
        pa.field("source_uri", pa.string(), nullable=False),
        pa.field("input_id", pa.string()),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
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
        # ok, all_sources_failed, some_sources_failed or internal_error (pipeline/status.py); NULL in older rows
        pa.field("status", pa.string()),
    ]
)

# The tables a run stages and commits (the runs row is written last, by the driver).
RUN_TABLES = ("articles", "stories", "rejects")
TABLE_SCHEMAS = {
    "articles": ARTICLES_SCHEMA,
    "stories": STORIES_SCHEMA,
    "rejects": REJECTS_SCHEMA,
    "runs": RUNS_SCHEMA,
}


def article_row(a: CleanArticle, s: StoryAssignment, run_id: str, ingested_at: dt.datetime) -> dict:
    """The `articles` table row for one article and its verdict."""
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
        "content_hash": a.content_hash,
        "story_id": s.story_id,
        "is_canonical": s.is_canonical,
        "duplicate_of": s.duplicate_of,
        "duplicate_kind": s.duplicate_kind,
        "boilerplate_removed": list(a.boilerplate_removed),
        "boilerplate_rules": list(a.boilerplate_rules),
        "run_id": run_id,
        "ingested_at": ingested_at,
    }


def story_row(s: StoryRow, run_id: str) -> dict:
    """The `stories` table row for one story."""
    return {**dataclasses.asdict(s), "run_id": run_id}


def reject_row(r: Reject, run_id: str) -> dict:
    """The `rejects` table row for one reject."""
    return {"source_uri": r.source_uri, "input_id": r.input_id, "stage": r.stage.value, "reason": r.reason.value,
            "detail": r.detail, "run_id": run_id}
