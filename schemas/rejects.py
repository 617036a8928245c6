"""The reject vocabulary: the stages, the closed set of reason codes, the Reject record and the one exception
type that carries a reason from where a problem is found to where the reject is emitted."""
from __future__ import annotations

import dataclasses
import enum
import re


class Stage(enum.StrEnum):
    """Pipeline stage that produced a reject."""

    READ = "read"
    EXTRACT = "extract"
    FETCH = "fetch"
    DISCOVER = "discover"  # parsing feeds, sitemaps and feed lists


class Reason(enum.StrEnum):
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
    # Fetching from the web (transforms/fetch/) and discovery documents (feeds, sitemaps, URL lists).
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
    # A bug: an exception no reason names, raised while handling one record. The record is still accounted for
    # (detail: the exception type, message and the traceback's last line) and the run exits non-zero.
    INTERNAL_ERROR = "internal_error"


MAX_DETAIL = 2000  # characters of a reject's detail that are kept
_SURROGATE = re.compile("[\ud800-\udfff]")  # lone surrogates: no UTF-8 for them, so no Parquet string either


def _storable(text: str | None) -> str | None:
    """`text` with lone surrogates replaced by U+FFFD, so any input's reject can be written."""
    return text if text is None or _SURROGATE.search(text) is None else _SURROGATE.sub("\ufffd", text)


@dataclasses.dataclass(frozen=True)
class Reject:
    """One input that did not become an article, with the reason why."""

    source_uri: str
    input_id: str | None
    stage: Stage
    reason: Reason
    detail: str

    def __post_init__(self):
        # Only the closed vocabulary: a misspelt stage or reason fails where it is made, not in a query later.
        object.__setattr__(self, "stage", Stage(self.stage))
        object.__setattr__(self, "reason", Reason(self.reason))

    @classmethod
    def of(cls, source_uri: str, input_id: str | None, stage: Stage, reason: Reason, detail: str) -> Reject:
        return cls(_storable(source_uri), _storable(input_id), stage, reason, _storable(detail[:MAX_DETAIL]))

    @classmethod
    def from_error(cls, source_uri: str, input_id: str | None, stage: Stage, error: RejectError) -> Reject:
        return cls.of(source_uri, input_id, stage, error.reason, error.detail)


class RejectError(Exception):
    """An expected problem with one input, named by a reason code; where it is caught it becomes a Reject."""

    def __init__(self, reason: Reason, detail: str):
        super().__init__(detail)
        self.reason = Reason(reason)
        self.detail = detail
