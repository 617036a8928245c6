"""JSON Lines input: one record per line as a RawArticle, or a Reject naming the line."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from schemas.records import FORMAT_JSONL_HTML, FORMAT_JSONL_TEXT, FORMAT_JSONL_TITLE, RawArticle
from schemas.rejects import Reason, Reject, RejectError, Stage
from transforms.dates import DateMode, parse_date
from transforms.decoding import checked_text
from transforms.identity import content_id, source_key
from transforms.read.files import DEFAULT_MAX_BYTES, check_size


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
        return value
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
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(record, dict) and isinstance(record.get("id"), (str, int)) and not isinstance(record.get("id"), bool):
        return str(record["id"])
    return None


def iter_jsonl(path: str, lines: Iterable[bytes], max_bytes: int) -> Iterator[RawArticle | Reject]:
    """Every non-blank line of a JSONL file as a RawArticle or a Reject; source_uri is `path:line`."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        uri = line_uri(path, number)
        try:
            yield parse_jsonl_record(uri, line, max_bytes)
        except RejectError as exc:
            yield Reject.from_error(uri, peek_id(line), Stage.READ, exc)
