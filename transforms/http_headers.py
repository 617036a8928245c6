"""HTTP response vocabulary shared by the fetcher and the WARC reader: content types, statuses, Retry-After."""
from __future__ import annotations

import datetime as dt
from email.utils import parsedate_to_datetime

from schemas.records import UTC
from schemas.rejects import Reason

HTML_TYPES = ("text/html", "application/xhtml+xml")


def split_content_type(value: str | None) -> tuple[str, str | None]:
    """('text/html', 'utf-8') from a Content-Type header; ('', None) when absent."""
    if not value:
        return "", None
    parts = [p.strip() for p in value.split(";")]
    charset = None
    for p in parts[1:]:
        if p.lower().startswith("charset="):
            charset = p.split("=", 1)[1].strip("\"' ").lower() or None
    return parts[0].lower(), charset


def is_html_type(content_type: str) -> bool:
    """True for HTML, and for a missing type (then the body decides)."""
    return content_type == "" or content_type in HTML_TYPES


def status_reason(status: int) -> Reason:
    """The reject reason of an HTTP status that carries no page."""
    if status in (404, 410):
        return Reason.HTTP_404
    if status == 429:
        return Reason.HTTP_429
    if 400 <= status < 500:
        return Reason.HTTP_4XX
    if status >= 500:
        return Reason.HTTP_5XX
    return Reason.HTTP_STATUS


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or dt.datetime.now(UTC))).total_seconds())
