"""JSON Lines input: one record per line as a RawArticle, or a Reject naming the line."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from schemas.records import FORMAT_JSONL_HTML, FORMAT_JSONL_TEXT, FORMAT_JSONL_TITLE, RawArticle
from schemas.rejects import Reason, Reject, RejectError, Stage
from transforms.dates import DateMode, parse_date
from transforms.decoding import checked_text, without_surrogates
from transforms.identity import content_id, source_key
from transforms.read.files import DEFAULT_MAX_BYTES, check_size
from transforms.rejecting import reject_for

SKIP_CHUNK = 1 << 20  # bytes read at a time while skipping the rest of an over-long line


def line_uri(path: str, number: int) -> str:
    """The source_uri of line `number` (from 1) of the JSONL file at `path`."""
    return f"{path}:{number}"


def file_of_line_uri(uri: str) -> str:
    """The file a line_uri names."""
    return uri.rsplit(":", 1)[0]


def _opt_str(record: dict, *names: str) -> str | None:
    """The first of `names` that is set and non-empty in `record`, as a string (a number is fine for `id`)."""
    for name in names:
        value = record.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and name == "id":
            return str(value)
        if not isinstance(value, str):
            raise RejectError(Reason.INVALID_RECORD, f"`{name}` must be a string, got {type(value).__name__}")
        return without_surrogates(value)
    return None


def parse_jsonl_record(source_uri: str, line: bytes | str, max_bytes: int = DEFAULT_MAX_BYTES) -> RawArticle:
    """One JSONL line as a RawArticle. `text` goes to the raw-text cleaner, else `html` to HTML extraction,
    else a `title` alone is a headline-only article; RejectError for anything else."""
    check_size(line, max_bytes)
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise RejectError(Reason.BAD_ENCODING, f"line is not UTF-8: {exc}") from exc
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RejectError(Reason.INVALID_JSON, f"{exc.msg} at column {exc.colno}") from exc
    except RecursionError as exc:
        raise RejectError(Reason.INVALID_JSON, "JSON nested too deeply to parse") from exc
    if not isinstance(record, dict):
        raise RejectError(Reason.INVALID_RECORD, f"expected a JSON object, got {type(record).__name__}")
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
        raise RejectError(Reason.NO_CONTENT, "record has no non-empty `text`, `html` or `title`")
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
        source_key=source_key(site, url, file_of_line_uri(source_uri)),
    )


def peek_id(line: bytes) -> str | None:
    """The `id` of a JSONL line that was rejected, when it can still be read."""
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(record, dict) and isinstance(record.get("id"), (str, int)) and not isinstance(record.get("id"), bool):
        return str(record["id"])
    return None


@dataclasses.dataclass(frozen=True)
class LongLine:
    """A line longer than the cap, skipped without being held: only its length is known."""

    length: int


def bounded_lines(stream: BinaryIO, max_bytes: int) -> Iterator[bytes | LongLine]:
    """The lines of a binary stream, none of them held longer than `max_bytes` + 1 bytes: a longer line is read
    past in SKIP_CHUNK pieces and comes out as a LongLine (a small .jsonl.gz can inflate to one line of GBs)."""
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        if len(line) <= max_bytes or line.endswith(b"\n"):
            yield line
            continue
        length = len(line)
        del line
        while True:
            chunk = stream.readline(SKIP_CHUNK)
            length += len(chunk)
            if not chunk or chunk.endswith(b"\n"):
                break
        yield LongLine(length)


def iter_jsonl(path: str, lines: Iterable[bytes | LongLine], max_bytes: int) -> Iterator[RawArticle | Reject]:
    """Every non-blank line of a JSONL file as a RawArticle or a Reject; source_uri is `path:line`. Each line is
    judged alone: whatever parsing one line raises is that line's reject (internal_error for a bug)."""
    for number, line in enumerate(lines, start=1):
        uri = line_uri(path, number)
        if isinstance(line, LongLine):
            yield Reject.of(uri, None, Stage.READ, Reason.TOO_LARGE, f"line of {line.length} bytes is above the limit of {max_bytes}")
            continue
        if not line.strip():
            continue
        try:
            item = parse_jsonl_record(uri, line, max_bytes)
        except Exception as exc:  # every failure of one line becomes its reject, bugs included
            item = reject_for(exc, uri, peek_id(line), Stage.READ)
        yield item
