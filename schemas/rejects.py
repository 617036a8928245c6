"""Reject records: the closed set of reason codes and the `rejects` table schema."""
from __future__ import annotations

import dataclasses
import enum

import pyarrow as pa


class Stage(str, enum.Enum):
    """Pipeline stage that produced a reject."""

    READ = "read"
    EXTRACT = "extract"
    FETCH = "fetch"
    DISCOVER = "discover"  # parsing feeds, sitemaps and feed lists


class Reason(str, enum.Enum):
    """Why an input did not become an article. One closed set for the whole pipeline."""

    UNSUPPORTED_FORMAT = "unsupported_format"  # file type newsbeam does not read
    UNREADABLE = "unreadable"  # I/O error or corrupt compression
    BAD_ENCODING = "bad_encoding"  # bytes that decode as no text encoding, or to text full of control characters
    EMPTY_INPUT = "empty_input"  # zero bytes / only whitespace
    TOO_LARGE = "too_large"  # above the configured size cap
    INVALID_JSON = "invalid_json"  # a JSONL line that is not JSON
    INVALID_RECORD = "invalid_record"  # JSON that is not an object, or wrongly typed fields
    NO_CONTENT = "no_content"  # a record with neither `text` nor `html`
    EXTRACTION_FAILED = "extraction_failed"  # HTML from which no main text could be extracted
    EMPTY_AFTER_CLEANING = "empty_after_cleaning"  # everything was boilerplate
    # Fetching from the web (transforms/fetch.py) and discovery documents (transforms/feeds.py).
    INVALID_URL = "invalid_url"  # not an absolute http(s) URL
    BLOCKED_ADDRESS = "blocked_address"  # host resolves to a private/loopback/link-local/multicast address
    ROBOTS_DISALLOWED = "robots_disallowed"  # robots.txt forbids it (or robots.txt is unreachable: RFC 9309)
    HTTP_404 = "http_404"  # 404 Not Found or 410 Gone
    HTTP_429 = "http_429"  # still 429 Too Many Requests after the retries, or a Retry-After above the cap
    HTTP_4XX = "http_4xx"  # any other client error
    HTTP_5XX = "http_5xx"  # server error after the retries
    HTTP_STATUS = "http_status"  # any other status that carries no page (204, 3xx without Location, ...)
    TOO_MANY_REDIRECTS = "too_many_redirects"  # above --max-redirects, or a redirect loop
    TIMEOUT = "timeout"  # connect/read timeout or the whole response took too long
    CONNECTION_ERROR = "connection_error"  # DNS failure, refused/reset connection, TLS error, truncated body
    NOT_HTML = "not_html"  # a page whose Content-Type is not HTML (PDF, image, ...)
    FEED_MALFORMED = "feed_malformed"  # a feed/sitemap/OPML/URL list that yields nothing usable


@dataclasses.dataclass(frozen=True)
class Reject:
    """One input that did not become an article, with the reason why."""

    source_uri: str
    input_id: str | None
    stage: str
    reason: str
    detail: str

    @classmethod
    def of(cls, source_uri: str, input_id: str | None, stage: Stage, reason: Reason, detail: str) -> "Reject":
        return cls(source_uri, input_id, stage.value, reason.value, detail[:2000])

    def to_row(self, run_id: str) -> dict:
        return {**dataclasses.asdict(self), "run_id": run_id}


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
