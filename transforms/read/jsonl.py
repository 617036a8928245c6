"""JSON Lines input: one record per line as a RawArticle, or a Reject naming the line."""
from __future__ import annotations

import dataclasses
import json
import re
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


# Field names, first match wins: newsbeam's own, then news-please's (maintext, date_publish, authors,
# source_domain, title_page/title_rss) and trafilatura's JSON output (text, date, author "A; B", hostname, source =
# the page URL, source-hostname = the site's name).
TEXT_FIELDS = ("text", "maintext")
TITLE_FIELDS = ("title", "title_page", "title_rss")
DATE_FIELDS = ("published", "date_publish", "date")
URL_FIELDS = ("url",)
SITE_FIELDS = ("site", "source", "source-hostname")
HOST_FIELDS = ("source_domain", "hostname")
_WORDS = re.compile(r"\w+")
# Words a text may add after its title and still only repeat it (a site name: "Quake hits coast - Daily News").
HEADLINE_EXTRA_WORDS = 6


def _is_url(value: str | None) -> bool:
    return bool(value) and value.strip().lower().startswith(("http://", "https://"))


def _first(record: dict, names: tuple[str, ...], keep=lambda v: True) -> str | None:
    for name in names:
        value = _opt_str(record, name)
        if value and keep(value):
            return value
    return None


def _authors(record: dict) -> str | None:
    """`author` as given ("A; B" from trafilatura becomes "A, B"), or news-please's `authors` list joined."""
    value = record.get("authors")
    if isinstance(value, list) and not record.get("author"):
        names = [v.strip() for v in value if isinstance(v, str) and v.strip()]
        return ", ".join(names) or None
    author = _opt_str(record, "author")
    return author.replace("; ", ", ") if author else None


def repeats_title(text: str, title: str | None) -> bool:
    """A text that only repeats its title (what headline feeds put in `text`), perhaps with a site name after it."""
    if not title:
        return False
    t, h = [w.lower() for w in _WORDS.findall(text)], [w.lower() for w in _WORDS.findall(title)]
    if not t or not h:
        return False
    if t == h[: len(t)]:
        return True
    return t[: len(h)] == h and len(t) - len(h) <= HEADLINE_EXTRA_WORDS


def parse_jsonl_record(source_uri: str, line: bytes | str, max_bytes: int = DEFAULT_MAX_BYTES) -> RawArticle:
    """One JSONL line as a RawArticle. `text` goes to the raw-text cleaner, else `html` to HTML extraction,
    else a `title` alone (or a text that only repeats it) is a headline-only article; RejectError for anything
    else. news-please's and trafilatura's field names are read too; a `published` that is no date leaves the
    article undated, noted in `metadata_source` as "published=unparsed"."""
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
    text = _first(record, TEXT_FIELDS)
    html = _opt_str(record, "html")
    title = _first(record, TITLE_FIELDS)
    if text and text.strip() and not repeats_title(text, title):
        content, is_html, fmt = text, False, FORMAT_JSONL_TEXT
    elif html and html.strip():
        content, is_html, fmt = html, True, FORMAT_JSONL_HTML
    elif title and title.strip():
        content, is_html, fmt = "", False, FORMAT_JSONL_TITLE  # headline-only: the title is the article
    else:
        raise RejectError(Reason.NO_CONTENT, "record has no non-empty `text`, `html` or `title`")
    content = checked_text(content)  # the same control-character check as a file's decoded text
    url = _first(record, URL_FIELDS) or _first(record, ("source",), _is_url)
    site = _first(record, SITE_FIELDS, lambda v: not _is_url(v))
    host = _first(record, HOST_FIELDS)
    given_date = next((record[name] for name in DATE_FIELDS if record.get(name) not in (None, "")), None)
    published = parse_date(given_date, DateMode.LENIENT) if isinstance(given_date, str) else None
    return RawArticle(
        article_id=content_id(source_uri, content or title),
        source_uri=source_uri,
        input_format=fmt,
        content=content,
        is_html=is_html,
        input_id=input_id,
        url=url,
        title=title,
        published_at=published,
        site=site,
        language=_opt_str(record, "language"),
        author=_authors(record),
        source_key=source_key(site, url or (f"https://{host}/" if host else None), file_of_line_uri(source_uri)),
        metadata_notes="published=unparsed" if given_date is not None and published is None else None,
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


def iter_jsonl(path: str, lines: Iterable[bytes | LongLine], max_bytes: int, first_line: int = 1) -> Iterator[RawArticle | Reject]:
    """Every non-blank line of a JSONL file (or of a part of it whose first line is `first_line`) as a RawArticle
    or a Reject; source_uri is `path:line`. Each line is judged alone: whatever parsing one line raises is that
    line's reject (internal_error for a bug)."""
    for number, line in enumerate(lines, start=first_line):
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
