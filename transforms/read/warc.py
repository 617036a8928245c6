"""WARC input: HTML response records (e.g. CC-NEWS) as RawArticles, read with the maintained `warcio` library.

The record's WARC-Target-URI becomes `url`, its WARC-Date the fallback `published_at` (used only
when the page carries no date of its own). Records that are not responses (warcinfo, request,
metadata, revisit) are protocol records, not inputs: they are counted, not rejected. A response
that is not a 200 HTML page becomes a reject with the same reason codes as the fetcher.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader

from schemas.records import FORMAT_WARC, RawArticle
from schemas.rejects import Reason, Reject, RejectError, Stage
from transforms.dates import DateMode, parse_date
from transforms.decoding import decode_page
from transforms.http_headers import is_html_type, split_content_type, status_reason
from transforms.identity import content_id, source_key
from transforms.rejecting import reject_for
from transforms.urls import is_http_url


@dataclasses.dataclass(frozen=True)
class Skipped:
    """A WARC record that is not an input (warcinfo, request, metadata, revisit, ...)."""

    rec_type: str


# Longest WARC or HTTP header line read, in bytes: warcio reads a header line whole, so a small .warc.gz whose
# header inflates to one line of GBs would be held; a longer line is read in pieces of this size (and then
# fails to parse as a header: the file ends with an `unreadable` reject).
MAX_HEADER_LINE = 1 << 20


class _BoundedLineReader(DecompressingBufferedReader):
    """warcio's reader with every readline capped at MAX_HEADER_LINE bytes."""

    def readline(self, length=None):
        return super().readline(MAX_HEADER_LINE if not length or length > MAX_HEADER_LINE else length)


def bounded_archive(stream: BinaryIO) -> ArchiveIterator:
    """warcio's ArchiveIterator over `stream`, reading no line longer than MAX_HEADER_LINE."""
    archive = ArchiveIterator(stream)
    archive.reader.__class__ = _BoundedLineReader  # same state, capped readline (warcio builds its reader itself)
    return archive


def record_uri(path: str, number: int) -> str:
    """The source_uri of record `number` (from 1) of the WARC file at `path`."""
    return f"{path}#{number}"


def record_to_article(path: str, number: int, record, max_bytes: int) -> RawArticle | Reject | Skipped:
    """One WARC record (a warcio ArcWarcRecord, record `number` of `path`) as a RawArticle, a Reject, or
    Skipped (not a response record)."""
    if not record.rec_type:  # warcio reads any bytes as a record; one without a WARC-Type is not a WARC record
        return Reject.of(record_uri(path, number), None, Stage.READ, Reason.UNREADABLE, "record without a WARC-Type: not a WARC file?")
    if record.rec_type != "response":
        return Skipped(record.rec_type)
    uri = record.rec_headers.get_header("WARC-Target-URI") or ""
    source = record_uri(path, number)
    record_id = record.rec_headers.get_header("WARC-Record-ID")
    if not is_http_url(uri):
        detail = f"response record without an http(s) target URI ({uri[:200]!r}): not a WARC/ARC record?"
        return Reject.of(source, record_id, Stage.READ, Reason.UNREADABLE, detail)
    http = record.http_headers
    if http is None:
        return Reject.of(source, record_id, Stage.READ, Reason.UNSUPPORTED_FORMAT, f"response record for {uri} without HTTP headers")
    status = int(http.get_statuscode() or 0)
    if status != 200:
        return Reject.of(source, record_id, Stage.READ, status_reason(status), f"HTTP {status} for {uri}")
    ctype, charset = split_content_type(http.get_header("Content-Type"))
    if not is_html_type(ctype):
        return Reject.of(source, record_id, Stage.READ, Reason.NOT_HTML, f"Content-Type {ctype!r} for {uri}")
    stream = record.content_stream()  # undoes chunked and gzip/deflate/br transfer encodings
    body = stream.read(max_bytes + 1)
    if len(body) > max_bytes:
        return Reject.of(source, record_id, Stage.READ, Reason.TOO_LARGE, f"body of {uri} is above the limit of {max_bytes} bytes")
    if not body.strip():
        return Reject.of(source, record_id, Stage.READ, Reason.EMPTY_INPUT, f"empty body for {uri}")
    try:
        html = decode_page(body, charset)
    except RejectError as exc:
        return Reject.of(source, record_id, Stage.READ, exc.reason, f"{exc.detail} ({uri})")
    return RawArticle(
        article_id=content_id(uri, html),  # uri is an http(s) URL here, never empty
        source_uri=source,
        input_format=FORMAT_WARC,
        content=html,
        is_html=True,
        input_id=record_id,
        url=uri,
        source_key=source_key(None, uri, path),
        fallback_published_at=parse_date(record.rec_headers.get_header("WARC-Date"), DateMode.LENIENT),
    )


def iter_warc(path: str, stream: BinaryIO, max_bytes: int) -> Iterator[RawArticle | Reject | Skipped]:
    """Every record of a WARC file (plain or gzipped, detected by warcio); a corrupt file ends with an `unreadable`
    reject. Whatever warcio raises on bytes it cannot parse (AttributeError for a response without a target URI,
    among others) ends the file that way too; a failure while turning one parsed record into an article is that
    record's reject."""
    number = 0
    records = iter(bounded_archive(stream))
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except Exception as exc:  # warcio on hostile bytes: the rest of the file cannot be read
            yield Reject.of(record_uri(path, number + 1), None, Stage.READ, Reason.UNREADABLE, f"{type(exc).__name__}: {exc}")
            return
        number += 1
        try:
            item = record_to_article(path, number, record, max_bytes)
        except Exception as exc:  # every failure of one record becomes its reject, bugs included
            item = reject_for(exc, record_uri(path, number), None, Stage.READ)
        yield item
