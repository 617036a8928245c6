"""Parquet schemas of the state a run keeps for later runs under `<output>/_state/`, and their row builders."""
from __future__ import annotations

import pyarrow as pa

from schemas.records import ArticleTerms

# Conditional GET: the validators of every page fetched with an ETag or Last-Modified.
VALIDATORS_SCHEMA = pa.schema(
    [
        pa.field("url", pa.string(), nullable=False),
        pa.field("etag", pa.string()),
        pa.field("last_modified", pa.string()),
        pa.field("fetched_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

# Fetch only what is new: the canonical URL of every page a run fetched (a 200), so later runs do not request it.
INGESTED_SCHEMA = pa.schema(
    [
        pa.field("url", pa.string(), nullable=False),  # canonical URL (transforms/urls.py canonical_url)
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

# Polite polling: when each feed or sitemap asked to be polled next (<ttl>, sy:updatePeriod, Cache-Control
# max-age, Retry-After); a feed is not requested before `next_poll_at` when hints are honoured (follow mode).
FEED_POLLS_SCHEMA = pa.schema(
    [
        pa.field("url", pa.string(), nullable=False),  # the feed's canonical URL as requested
        pa.field("polled_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("next_poll_at", pa.timestamp("us", tz="UTC"), nullable=False),  # = polled_at when it gave no hint
        pa.field("hint", pa.string()),  # which hint set next_poll_at, e.g. "ttl 60m"
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

# Near copies across runs: the MinHash signature of each article a run kept (not of its copies).
SIGNATURES_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("story_id", pa.string(), nullable=False),
        pa.field("signature", pa.binary(), nullable=False),  # MinHash, little-endian uint32[num_perm]
        pa.field("num_perm", pa.int32(), nullable=False),
        pa.field("seed", pa.int64(), nullable=False),
        pa.field("shingle_size", pa.int32(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
    ]
)

# Stories across runs: the hashed term counts of each article a run clustered, with its story and time.
STORY_TERMS_SCHEMA = pa.schema(
    [
        pa.field("article_id", pa.string(), nullable=False),
        pa.field("story_id", pa.string(), nullable=False),
        pa.field("ts", pa.float64()),  # publication time, epoch seconds; NULL when undated
        pa.field("word_count", pa.int64(), nullable=False),
        pa.field("headline", pa.bool_(), nullable=False),
        pa.field("terms", pa.list_(pa.int32()), nullable=False),  # hashed terms of the all-words view ...
        pa.field("counts", pa.list_(pa.int32()), nullable=False),  # ... and their weighted counts
        pa.field("name_terms", pa.list_(pa.int32()), nullable=False),
        pa.field("name_counts", pa.list_(pa.int32()), nullable=False),
        pa.field("vocab_bits", pa.int32(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        # The dense view (transforms/stories/dense.py): float16 unit vector and language, NULL for an article
        # without one (and in files written before these columns).
        pa.field("dense", pa.binary()),
        pa.field("language", pa.string()),
    ]
)


def signature_row(article_id: str, story_id: str, signature: bytes, setting: tuple[int, int, int], run_id: str) -> dict:
    """A signatures state row; `setting` is (num_perm, seed, shingle_size), what makes two signatures comparable."""
    num_perm, seed, shingle_size = setting
    return {"article_id": article_id, "story_id": story_id, "signature": signature, "num_perm": num_perm, "seed": seed,
            "shingle_size": shingle_size, "run_id": run_id}


def story_terms_row(c: ArticleTerms, story_id: str, vocab_bits: int, run_id: str) -> dict:
    """A story_terms state row for an article a run clustered, with its dense vector when it has one (a
    stories DenseTerms), so that later runs compare it on both views."""
    full, names = c.counts
    return {"article_id": c.article_id, "story_id": story_id, "ts": c.ts, "word_count": -c.rank[1],
            "headline": c.headline, "terms": list(full.keys()), "counts": list(full.values()),
            "name_terms": list(names.keys()), "name_counts": list(names.values()), "vocab_bits": vocab_bits,
            "run_id": run_id, "dense": getattr(c, "dense", None), "language": getattr(c, "language", None)}
