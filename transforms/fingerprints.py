"""What copies are compared on: the normalised comparison text, its hash, and the rank of the article to keep."""
from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import unicodedata

_DIGIT_GROUP = re.compile(r"(?<=\d)[,.’'](?=\d{3}\b)")


def normalise_text(text: str) -> str:
    """Text for comparison: NFKC, lower case, digit-group separators (2,000) joined, punctuation dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _DIGIT_GROUP.sub("", text)
    return " ".join(re.findall(r"\w+", text))


def comparison_text(text: str, title: str | None) -> str:
    """What copies are compared on: the body, or the title of a headline-only article."""
    return text if text.strip() else (title or "")


def content_hash(text: str) -> str:
    """The exact-copy key: a hash of the normalised text."""
    return hashlib.blake2b(normalise_text(text).encode("utf-8"), digest_size=12).hexdigest()


def rank_key(published_at: dt.datetime | None, word_count: int, article_id: str) -> tuple:
    """Sort key of the article to keep: earliest published (dated before undated), then most complete, then id."""
    ts = published_at.timestamp() if published_at is not None else math.inf
    return (ts, -word_count, article_id)
