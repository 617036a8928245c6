"""Read stage: turn input files (.txt, .html[.gz], .jsonl[.gz]) into RawArticle records or rejects."""
from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import posixpath
import re
import zlib
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from dateutil import parser as date_parser

from schemas.records import FORMAT_HTML, FORMAT_JSONL_HTML, FORMAT_JSONL_TEXT, FORMAT_JSONL_TITLE, FORMAT_TEXT, RawArticle
from schemas.rejects import Reason, Reject, RejectError, Stage
from transforms.dates import DateMode, parse_date
from transforms.decoding import checked_text, decode_html, decode_text
from transforms.identity import content_id, source_key

InputError = RejectError  # the reader's name for it until the read package lands

REJECTS = "rejects"
DEFAULT_MAX_BYTES = 20_000_000  # per text/HTML file or JSONL record

_EXTENSIONS = {".txt": "text", ".html": "html", ".htm": "html", ".jsonl": "jsonl", ".warc": "warc"}


def detect_format(path: str) -> tuple[str | None, bool]:
    """(kind, gzipped) from a file name: kind is 'text', 'html', 'jsonl' or None."""
    name = posixpath.basename(path).lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    ext = posixpath.splitext(name)[1]
    return _EXTENSIONS.get(ext), gz











def _check_size(data: bytes | str, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise InputError(Reason.TOO_LARGE, f"{len(data)} bytes is above the limit of {max_bytes}")


def parse_file(path: str, kind: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> RawArticle:
    """A whole .txt or .html file as one RawArticle."""
    _check_size(data, max_bytes)
    if not data.strip():
        raise InputError(Reason.EMPTY_INPUT, "file is empty")
    if kind == "html":
        text = decode_html(data)
        fmt, is_html = FORMAT_HTML, True
    else:
        text = decode_text(data)
        fmt, is_html = FORMAT_TEXT, False
    if not text.strip():
        raise InputError(Reason.EMPTY_INPUT, "file holds only whitespace")
    return RawArticle(
        article_id=content_id(path, text),
        source_uri=path,
        input_format=fmt,
        content=text,
        is_html=is_html,
        source_key=source_key(None, None, path),
    )



def _opt_str(record: dict, *names: str) -> str | None:
    for name in names:
        value = record.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and name == "id":
            return str(value)
        if not isinstance(value, str):
            raise InputError(Reason.INVALID_RECORD, f"`{name}` must be a string, got {type(value).__name__}")
        return value
    return None


def parse_jsonl_record(source_uri: str, line: bytes | str, max_bytes: int = DEFAULT_MAX_BYTES) -> RawArticle:
    """One JSONL line as a RawArticle. `text` goes to the raw-text cleaner, else `html` to HTML extraction."""
    _check_size(line, max_bytes)
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(Reason.BAD_ENCODING, f"line is not UTF-8: {exc}") from exc
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(Reason.INVALID_JSON, f"{exc.msg} at column {exc.colno}") from exc
    if not isinstance(record, dict):
        raise InputError(Reason.INVALID_RECORD, f"expected a JSON object, got {type(record).__name__}")
    input_id = _opt_str(record, "id")
    text = _opt_str(record, "text")
    html = _opt_str(record, "html")
    title = _opt_str(record, "title")
    if text and text.strip():
        content, is_html, fmt = text, False, FORMAT_JSONL_TEXT
    elif html and html.strip():
        content, is_html, fmt = html, True, FORMAT_JSONL_HTML
    elif title and title.strip():
        content, is_html, fmt = "", False, FORMAT_JSONL_TITLE  # headline-only: the title is the article
    else:
        raise InputError(Reason.NO_CONTENT, "record has no non-empty `text`, `html` or `title`")
    content = checked_text(content)  # the same control-character check as a file's decoded text
    url = _opt_str(record, "url")
    site = _opt_str(record, "site", "source")
    return RawArticle(
        article_id=content_id(source_uri, content or title),
        source_uri=source_uri,
        input_format=fmt,
        content=content,
        is_html=is_html,
        input_id=input_id,
        url=url,
        title=title,
        published_at=parse_date(record.get("published"), DateMode.GIVEN),
        site=site,
        language=_opt_str(record, "language"),
        author=_opt_str(record, "author"),
        source_key=source_key(site, url, source_uri.rsplit(":", 1)[0]),
    )


def iter_jsonl(path: str, lines: Iterable[bytes], max_bytes: int) -> Iterator[RawArticle | Reject]:
    """Every non-blank line of a JSONL file as a RawArticle or a Reject; source_uri is `path:line`."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        uri = f"{path}:{number}"
        try:
            yield parse_jsonl_record(uri, line, max_bytes)
        except InputError as exc:
            yield Reject.of(uri, _peek_id(line), Stage.READ, exc.reason, exc.detail)


def _peek_id(line: bytes) -> str | None:
    """The `id` of a JSONL line that was rejected, when it can still be read."""
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(record, dict) and isinstance(record.get("id"), (str, int)) and not isinstance(record.get("id"), bool):
        return str(record["id"])
    return None


# Tagged output of ReadFileFn for records of files that hold many (JSON Lines, WARC).
MANY = "many"


class ReadFileFn(beam.DoFn):
    """Path -> RawArticle(s): one per .txt/.html file on the main output, those of JSONL/WARC files on
    `many`; rejects go to the `rejects` tagged output."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self.files = Metrics.counter("read", "files")
        self.records = Metrics.counter("read", "records")

    def _reject(self, path, reason, detail, input_id=None):
        Metrics.counter("read", "rejected_" + reason.value).inc()
        return beam.pvalue.TaggedOutput(REJECTS, Reject.of(path, input_id, Stage.READ, reason, detail))

    def process(self, path: str):
        self.files.inc()
        kind, gz = detect_format(path)
        if kind is None:
            yield self._reject(path, Reason.UNSUPPORTED_FORMAT, "newsbeam reads .txt, .html/.htm[.gz], .jsonl[.gz] and .warc[.gz]")
            return
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw:
                if kind == "warc":  # warcio reads plain and record-gzipped WARCs itself
                    yield from self._warc(path, raw)
                    return
                stream = gzip.GzipFile(fileobj=raw) if gz else raw
                if kind == "jsonl":
                    for item in iter_jsonl(path, stream, self.max_bytes):
                        if isinstance(item, Reject):
                            Metrics.counter("read", "rejected_" + item.reason).inc()
                            yield beam.pvalue.TaggedOutput(REJECTS, item)
                        else:
                            self.records.inc()
                            yield beam.pvalue.TaggedOutput(MANY, item)
                    return
                data = stream.read(self.max_bytes + 1)
        except (OSError, EOFError, zlib.error) as exc:
            # gzip.BadGzipFile is an OSError; a truncated gzip stream raises EOFError.
            yield self._reject(path, Reason.UNREADABLE, f"{type(exc).__name__}: {exc}")
            return
        try:
            article = parse_file(path, kind, data, self.max_bytes)
        except InputError as exc:
            yield self._reject(path, exc.reason, exc.detail)
            return
        self.records.inc()
        yield article


    def _warc(self, path, raw):
        from transforms.warc import Skipped, iter_warc

        for item in iter_warc(path, raw, self.max_bytes):
            if isinstance(item, Reject):
                Metrics.counter("read", "rejected_" + item.reason).inc()
                yield beam.pvalue.TaggedOutput(REJECTS, item)
            elif isinstance(item, Skipped):
                Metrics.counter("read", "warc_skipped_" + item.rec_type).inc()
            else:
                self.records.inc()
                yield beam.pvalue.TaggedOutput(MANY, item)


class ReadArticles(beam.PTransform):
    """File patterns -> {files: PCollection[RawArticle] (one per .txt/.html file), records:
    PCollection[RawArticle] (JSONL lines, WARC responses), rejects: PCollection[Reject]}.

    Every matched file yields either RawArticles (one per file, one per JSONL line) or a Reject.
    A file matched by several patterns is read once.
    """

    def __init__(self, patterns: list[str] | None = None, max_bytes: int = DEFAULT_MAX_BYTES, listing: str | None = None):
        """Read the files `patterns` match, or those named in `listing`: a JSON Lines file of {"path": ...}
        objects (the run's file list, written by the driver; no pattern matching, so any file name works)."""
        super().__init__()
        if (patterns is None) == (listing is None):
            raise ValueError("give either patterns or a listing")
        self.patterns = list(patterns or ())
        self.listing = listing
        self.max_bytes = max_bytes

    def expand(self, pbegin):
        from apache_beam.io import fileio
        from apache_beam.io.fileio import EmptyMatchTreatment

        if self.listing is not None:
            named = (
                pbegin
                | "Listing" >> beam.io.ReadFromText(self.listing)
                | "ListedPath" >> beam.Map(lambda line: json.loads(line)["path"])
            )
        else:
            named = (
                pbegin
                | "Patterns" >> beam.Create(self.patterns)
                | "Match" >> fileio.MatchAll(EmptyMatchTreatment.ALLOW)
                | "Path" >> beam.Map(lambda m: m.path)
            )
        paths = named | "Distinct" >> beam.Distinct()
        parsed = paths | "Parse" >> beam.ParDo(ReadFileFn(self.max_bytes)).with_outputs(REJECTS, MANY, main="articles")
        # Paths are already spread over workers by Distinct, so the articles of one-article files go
        # straight on and are cleaned in the same fused step (their HTML never crosses a shuffle, nor a
        # Flatten, which a runner materialises when its inputs come from different steps); one JSONL or
        # WARC file yields many records on one worker, so those are spread before the expensive stages.
        return {"files": parsed["articles"], "records": parsed[MANY] | "Spread" >> beam.Reshuffle(), REJECTS: parsed[REJECTS]}
