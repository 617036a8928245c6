"""Parts of input files: a large plain JSON Lines file is cut into byte ranges that begin at line starts,
so that several workers read and clean it at once; every other file is one part."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import BinaryIO

from transforms.read.jsonl import LongLine, bounded_lines
from transforms.read.warc import bounded_archive

# Plain .jsonl files are cut into parts of about this many bytes (a range always ends at a line end, so a
# part holds at least one whole line). 8 MiB is 50-100 HTML pages: enough parts to balance two to a few
# dozen workers on a file of a few hundred MB, few enough that a part's fixed cost (one seek) is nothing.
DEFAULT_PART_BYTES = 8 * 1024 * 1024
SCAN_CHUNK_BYTES = 1 << 20  # the boundary scan reads this much at a time


@dataclasses.dataclass(frozen=True)
class FilePart:
    """Bytes [start, end) of the file at `path`; `end` None is to the end of the file. `first_number` is the
    number (from 1) of the JSONL line or WARC record at `start`, so a record read from a part is named as if
    the whole file were read. `records` is how many WARC records the part holds (None: to the end)."""

    path: str
    start: int = 0
    end: int | None = None
    first_number: int = 1
    records: int | None = None

    @property
    def whole(self) -> bool:
        return self.start == 0 and self.end is None


def line_ranges(stream: BinaryIO, part_bytes: int, chunk_bytes: int = SCAN_CHUNK_BYTES) -> Iterator[tuple[int, int, int]]:
    """(start, end, first line number) of consecutive byte ranges of about `part_bytes` that cover the
    stream; each range ends just after a newline (or at the end of the stream), so no line is cut."""
    if part_bytes < 1:
        raise ValueError("part_bytes must be >= 1")
    start, first_line, newlines = 0, 1, 0  # newlines: those seen since `start`
    pos, want = 0, part_bytes  # pos: offset of the current chunk; cut at the first line end at or after `want`
    while chunk := stream.read(chunk_bytes):
        i = 0
        while True:
            j = chunk.find(b"\n", max(i, want - 1 - pos))
            if j < 0:
                newlines += chunk.count(b"\n", i)
                break
            newlines += chunk.count(b"\n", i, j + 1)
            cut = pos + j + 1
            yield start, cut, first_line
            start, first_line, newlines = cut, first_line + newlines, 0
            want, i = cut + part_bytes, j + 1
        pos += len(chunk)
    if pos > start:
        yield start, pos, first_line


def range_lines(stream: BinaryIO, start: int, end: int, max_bytes: int) -> Iterator[bytes | LongLine]:
    """The lines in bytes [start, end) of a seekable stream whose `start` is a line start, none of them held
    longer than `max_bytes` + 1 bytes (a longer one comes out as a LongLine, as from jsonl.bounded_lines)."""
    stream.seek(start)
    lines = bounded_lines(stream, max_bytes)
    pos = start
    while pos < end:
        line = next(lines, None)
        if line is None:
            return
        pos += line.length if isinstance(line, LongLine) else len(line)
        yield line


def warc_ranges(stream: BinaryIO, part_bytes: int) -> Iterator[tuple[int, int | None, int, int | None]]:
    """(start, end, number of the first record, records) of consecutive byte ranges of about `part_bytes` of
    a WARC file (plain, or gzipped record by record, the only gzip warcio reads), cut at record starts; the
    last range has end and records None (to the end of the file). A record warcio cannot read ends the scan:
    the range it is in runs to the end, so its reader meets the same problem and names it."""
    if part_bytes < 1:
        raise ValueError("part_bytes must be >= 1")
    start, first, number = 0, 1, 0
    records = bounded_archive(stream)
    try:
        for _ in records:
            number += 1
            offset = records.get_record_offset()
            if offset - start >= part_bytes:
                yield start, offset, first, number - first
                start, first = offset, number
    except Exception:  # noqa: BLE001 - whatever warcio raises on bytes it cannot parse (see warc.iter_warc)
        pass  # the reader of the last range meets the same bytes and rejects them
    yield start, None, first, None
