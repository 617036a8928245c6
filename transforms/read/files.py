"""A whole .txt or .html file as one RawArticle, and the size cap every read input is held to."""
from __future__ import annotations

from schemas.records import FORMAT_HTML, FORMAT_TEXT, RawArticle
from schemas.rejects import Reason, RejectError
from transforms.decoding import decode_html, decode_text
from transforms.identity import content_id, source_key
from transforms.read.formats import HTML

DEFAULT_MAX_BYTES = 20_000_000  # largest text/HTML file, JSONL line or WARC response body accepted, in bytes


def check_size(data: bytes | str, max_bytes: int) -> None:
    """Raise RejectError(too_large) when `data` is longer than `max_bytes`."""
    if len(data) > max_bytes:
        raise RejectError(Reason.TOO_LARGE, f"{len(data)} bytes is above the limit of {max_bytes}")


def parse_file(path: str, kind: str, data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> RawArticle:
    """A whole .txt or .html file (`kind` 'text' or 'html') as one RawArticle; RejectError when it is too
    large, empty or not text."""
    check_size(data, max_bytes)
    if not data.strip():
        raise RejectError(Reason.EMPTY_INPUT, "file is empty")
    if kind == HTML:
        text = decode_html(data)
        fmt, is_html = FORMAT_HTML, True
    else:
        text = decode_text(data)
        fmt, is_html = FORMAT_TEXT, False
    if not text.strip():
        raise RejectError(Reason.EMPTY_INPUT, "file holds only whitespace")
    return RawArticle(
        article_id=content_id(path, text),
        source_uri=path,
        input_format=fmt,
        content=text,
        is_html=is_html,
        source_key=source_key(None, None, path),
    )
