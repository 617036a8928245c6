"""Polite polling: a feed's own hints that ask for less frequent polls, its next due time, and the check for it.

Hints (the longest wins): RSS `<ttl>` (minutes), `sy:updatePeriod` / `sy:updateFrequency` (RSS syndication
module), `Cache-Control: max-age` (seconds) and `Retry-After` of a 429/503. Each poll of a feed leaves a
`feed_polls` row (schemas/state.py); a later run that honours hints skips a feed whose newest row's
`next_poll_at` is still ahead.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.records import UTC
from transforms.http_headers import parse_retry_after
from transforms.parquet import read_table
from transforms.urls import canonical_url

# The longest wait a hint may impose: a feed that asks for a week is still polled daily.
MAX_HINT_SECONDS = 86400.0
_PERIODS = {"hourly": 3600.0, "daily": 86400.0, "weekly": 7 * 86400.0, "monthly": 30 * 86400.0, "yearly": 365 * 86400.0}
_TTL = re.compile(rb"<ttl>\s*(\d{1,7})\s*</ttl>", re.I)
_PERIOD = re.compile(rb"<(?:\w+:)?updatePeriod>\s*(\w+)\s*</(?:\w+:)?updatePeriod>", re.I)
_FREQUENCY = re.compile(rb"<(?:\w+:)?updateFrequency>\s*(\d{1,6})\s*</(?:\w+:)?updateFrequency>", re.I)
_MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-)?max-age\s*=\s*\"?(\d{1,10})", re.I)
HINT_HEADERS = ("cache-control", "retry-after")  # the response headers a poll row needs


def body_hints(body: bytes, head_bytes: int = 16384) -> list[tuple[float, str]]:
    """(seconds, what) of the hints in a feed's channel head: <ttl> and sy:updatePeriod/updateFrequency."""
    head = body[:head_bytes]
    hints = []
    if m := _TTL.search(head):
        hints.append((int(m.group(1)) * 60.0, f"ttl {int(m.group(1))}m"))
    if m := _PERIOD.search(head):
        period = _PERIODS.get(m.group(1).decode("ascii", "replace").lower())
        if period:
            f = _FREQUENCY.search(head)
            frequency = max(1, int(f.group(1))) if f else 1
            hints.append((period / frequency, f"sy:updatePeriod {m.group(1).decode()}/{frequency}"))
    return hints


def header_hints(headers: dict, status: int, now: dt.datetime) -> list[tuple[float, str]]:
    """(seconds, what) of the hints in a response's headers (lower-case names): max-age, and Retry-After of a 429/5xx."""
    hints = []
    cache = headers.get("cache-control") or ""
    if m := _MAX_AGE.search(cache) if "no-cache" not in cache.lower() and "no-store" not in cache.lower() else None:
        hints.append((float(m.group(1)), f"max-age {m.group(1)}s"))
    if status == 429 or status >= 500:
        wait = parse_retry_after(headers.get("retry-after"), now)
        if wait:
            hints.append((wait, f"retry-after {wait:.0f}s"))
    return hints


def poll_row(url: str, status: int, headers: dict, body: bytes | None, now: dt.datetime) -> dict:
    """The feed_polls row of one poll of a feed (without run_id): due again after its longest hint (capped)."""
    hints = header_hints(headers, status, now) + (body_hints(body) if body else [])
    wait, what = max(hints, default=(0.0, None))
    wait = min(wait, MAX_HINT_SECONDS)
    return {"url": canonical_url(url) or url, "polled_at": now, "next_poll_at": now + dt.timedelta(seconds=wait), "hint": what}


def read_polls(pattern: str) -> Iterator[tuple[str, dict]]:
    """(url, row) of every feed_polls file matching `pattern` (small: a row per feed per run)."""
    from apache_beam.io.filesystems import FileSystems

    for m in FileSystems.match([pattern])[0].metadata_list:
        with FileSystems.open(m.path) as f:
            for row in read_table(f, columns=["url", "polled_at", "next_poll_at"]).to_pylist():
                yield row["url"], row


def newest_poll(rows: Iterable[dict]) -> dict:
    """Of one feed's poll rows from several runs, the latest."""
    return max(rows, key=lambda r: r["polled_at"])


def is_due(url: str, polls: dict, now: dt.datetime) -> bool:
    """True to poll `url` now: no earlier poll asked it to wait past `now`."""
    last = polls.get(canonical_url(url) or url)
    return last is None or last["next_poll_at"] <= now


class SkipNotDueFn(beam.DoFn):
    """FetchRequest (feed or sitemap) -> itself when due (side input `polls`: url -> newest poll row);
    counts the others as `fetch.not_due`."""

    def process(self, request, polls):
        if is_due(request.url, polls, dt.datetime.now(UTC)):
            yield request
        else:
            Metrics.counter("fetch", "not_due").inc()
