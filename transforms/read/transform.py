"""The read stage in Beam: the DoFns that cut input files into parts and parse a part, and the ReadArticles composite."""
from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterable

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas.records import RawArticle
from schemas.rejects import Reason, Reject, RejectError, Stage
from transforms.read.files import DEFAULT_MAX_BYTES, parse_file
from transforms.read.formats import AUTO, JSONL, SUPPORTED, WARC, check_format, detect_format
from transforms.read.jsonl import bounded_lines, iter_jsonl
from transforms.read.parts import DEFAULT_PART_BYTES, FilePart, line_ranges, range_lines, warc_ranges
from transforms.read.warc import Skipped, iter_warc
from transforms.rejecting import REJECTS, emit, reject, reject_error, reject_for

# Tagged output of ParseInputFileFn: the records of files that are read whole (.jsonl.gz), spread after reading.
MULTI_RECORD_FILE_RECORDS = "multi_record_file_records"
PART_ARTICLES = "part_articles"  # its main output: articles of parts that were spread before reading


class SplitInputFileFn(beam.DoFn):
    """Path (str) -> FileParts: a plain .jsonl file as byte ranges of about `part_bytes` that begin at line
    starts (its lines are counted on the way, a fast scan), a WARC file as ranges that begin at record starts
    (found by reading its record headers), every other file as one whole part.

    Guarantees: the parts of a file cover it exactly once, in order; a file that cannot be scanned is one
    whole part, so its reader rejects it. `read.file_parts` counts parts.
    """

    def __init__(self, part_bytes: int = DEFAULT_PART_BYTES, input_format: str = AUTO):
        if part_bytes < 1:
            raise ValueError("part_bytes must be >= 1")
        self.part_bytes = part_bytes
        self.input_format = check_format(input_format)
        self.parts = Metrics.counter(Stage.READ.value, "file_parts")

    def process(self, path: str):
        kind, gz = detect_format(path, self.input_format)
        parts = []
        if (kind == JSONL and not gz) or kind == WARC:
            try:
                with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw:
                    if kind == JSONL:
                        parts = [FilePart(path, start, end, first) for start, end, first in line_ranges(raw, self.part_bytes)]
                    else:
                        parts = [FilePart(path, *bounds) for bounds in warc_ranges(raw, self.part_bytes)]
            except (OSError, EOFError, zlib.error):
                parts = []  # unreadable: read as one part, whose reader names the error
        if len(parts) < 2:
            parts = [FilePart(path)]
        self.parts.inc(len(parts))
        yield from parts


class ParseInputFileFn(beam.DoFn):
    """FilePart (or a path: the whole file) -> the part's articles or rejects.

    Outputs: main: one RawArticle per .txt/.html[.gz] file, per line of a plain .jsonl part and per HTML
    response of a WARC part (parts were spread before they were read); MULTI_RECORD_FILE_RECORDS: a
    RawArticle per line of a .jsonl.gz file (read whole on one worker, to be spread after reading);
    REJECTS: a Reject (stage read) per file or record that is no article.
    Guarantees: an unsupported, unreadable or .txt/.html path yields exactly one element; a JSONL part or
    file yields one per non-blank line, named `path:line` as when the file is read whole; a WARC part one
    per response record, named `path#number` likewise (other WARC records are counted as
    `read.warc_skipped_<type>`, not rejected).
    `read.files` counts files, `read.records` articles and `read.rejected_<reason>` rejects.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, input_format: str = AUTO):
        self.max_bytes = max_bytes
        self.input_format = check_format(input_format)  # AUTO: by file name (formats.detect_format)
        self.files = Metrics.counter(Stage.READ.value, "files")
        self.records = Metrics.counter(Stage.READ.value, "records")

    def process(self, part: FilePart | str):
        if isinstance(part, str):  # a path alone is the whole file
            part = FilePart(part)
        if part.start == 0:
            self.files.inc()
        try:
            yield from self._read(part)
        except Exception as exc:  # a bug while reading the file: its reject, and the run goes on
            yield emit(reject_for(exc, part.path, None, Stage.READ))

    def _read(self, part: FilePart):
        path = part.path
        kind, gz = detect_format(path, self.input_format)
        if kind is None:
            yield reject(path, None, Stage.READ, Reason.UNSUPPORTED_FORMAT, SUPPORTED)
            return
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw:
                if kind == WARC:  # warcio reads plain and record-gzipped WARCs itself
                    raw.seek(part.start)
                    yield from self._emit_records(iter_warc(path, raw, self.max_bytes, part.first_number, part.records), None)
                    return
                if kind == JSONL and not gz:
                    lines = bounded_lines(raw, self.max_bytes) if part.whole else range_lines(raw, part.start, part.end, self.max_bytes)
                    yield from self._emit_records(iter_jsonl(path, lines, self.max_bytes, part.first_number), None)
                    return
                stream = gzip.GzipFile(fileobj=raw) if gz else raw
                if kind == JSONL:
                    yield from self._emit_records(iter_jsonl(path, bounded_lines(stream, self.max_bytes), self.max_bytes), MULTI_RECORD_FILE_RECORDS)
                    return
                data = stream.read(self.max_bytes + 1)
        except (OSError, EOFError, zlib.error) as exc:
            # gzip.BadGzipFile is an OSError; a truncated gzip stream raises EOFError.
            yield reject(path, None, Stage.READ, Reason.UNREADABLE, f"{type(exc).__name__}: {exc}")
            return
        try:
            article = parse_file(path, kind, data, self.max_bytes)
        except RejectError as exc:
            yield reject_error(path, None, Stage.READ, exc)
            return
        self.records.inc()
        yield article

    def _emit_records(self, items: Iterable[RawArticle | Reject | Skipped], tag: str | None):
        """The records of a multi-record file on their outputs (articles on `tag`, None for main); Skipped WARC
        records are only counted."""
        for item in items:
            if isinstance(item, Reject):
                yield emit(item)
            elif isinstance(item, Skipped):
                Metrics.counter(Stage.READ.value, "warc_skipped_" + item.rec_type).inc()
            else:
                self.records.inc()
                yield item if tag is None else beam.pvalue.TaggedOutput(tag, item)


def _listed_path(line: str) -> str:
    """The path of one line of a run's file listing ({"path": ...})."""
    return json.loads(line)["path"]


class ReadArticles(beam.PTransform):
    """File patterns or a listing -> {files: PCollection[RawArticle] (one per .txt/.html file, per line of a
    plain .jsonl file and per response of a WARC file: read where they are cleaned), records:
    PCollection[RawArticle] (lines of .jsonl.gz files, spread after reading), rejects: PCollection[Reject]}.

    Every matched file yields either RawArticles (one per file, one per JSONL line or WARC response) or
    a Reject. A file matched by several patterns is read once.
    """

    def __init__(self, patterns: list[str] | None = None, max_bytes: int = DEFAULT_MAX_BYTES, listing: str | None = None,
                 part_bytes: int = DEFAULT_PART_BYTES, input_format: str = AUTO):
        """Read the files `patterns` match, or those named in `listing`: a JSON Lines file of {"path": ...}
        objects (the run's file list, written by the driver; no pattern matching, so any file name works).
        Plain .jsonl files larger than `part_bytes` are read in parts of about that size by several workers.
        `input_format` ('text', 'html', 'jsonl', 'warc') reads every file as that kind; 'auto' by extension."""
        super().__init__()
        if (patterns is None) == (listing is None):
            raise ValueError("give either patterns or a listing")
        self.patterns = list(patterns or ())
        self.listing = listing
        self.max_bytes = max_bytes
        if part_bytes < 1:
            raise ValueError("part_bytes must be >= 1")
        self.part_bytes = part_bytes
        self.input_format = check_format(input_format)

    def expand(self, pbegin):
        if self.listing is not None:
            named = (
                pbegin
                | "ReadListing" >> beam.io.ReadFromText(self.listing)
                | "TakeListedPath" >> beam.Map(_listed_path)
            )
        else:
            named = (
                pbegin
                | "CreatePatterns" >> beam.Create(self.patterns)
                | "MatchFiles" >> fileio.MatchAll(fileio.EmptyMatchTreatment.ALLOW)
                | "TakePath" >> beam.Map(lambda match: match.path)
            )
        paths = named | "DropRepeatedPaths" >> beam.Distinct()
        # A large plain JSONL file becomes many parts on the worker that scanned it: parts (path and byte
        # range, a few bytes each) are spread over the workers before they are read, so one big file is
        # read and cleaned by all of them and its HTML never crosses a shuffle.
        parts = (
            paths
            | "SplitLargeFiles" >> beam.ParDo(SplitInputFileFn(self.part_bytes, self.input_format))
            | "SpreadFileParts" >> beam.Reshuffle()
        )
        parsed = parts | "ParseFiles" >> beam.ParDo(ParseInputFileFn(self.max_bytes, self.input_format)).with_outputs(
            REJECTS, MULTI_RECORD_FILE_RECORDS, main=PART_ARTICLES
        )
        # The articles of parts go straight on and are cleaned in the same fused step (no shuffle, nor a
        # Flatten, which a runner materialises when its inputs come from different steps); a .jsonl.gz file
        # cannot be cut (gzip has no seek points) and is read whole on one worker, so its records are
        # spread before the expensive stages.
        return {
            "files": parsed[PART_ARTICLES],
            "records": parsed[MULTI_RECORD_FILE_RECORDS] | "SpreadRecords" >> beam.Reshuffle(),
            REJECTS: parsed[REJECTS],
        }
