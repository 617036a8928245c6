"""The read stage in Beam: the DoFn that parses one input file and the ReadArticles composite."""
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
from transforms.read.formats import JSONL, SUPPORTED, WARC, detect_format
from transforms.read.jsonl import bounded_lines, iter_jsonl
from transforms.read.warc import Skipped, iter_warc
from transforms.rejecting import REJECTS, emit, reject, reject_error, reject_for

# Tagged output of ParseInputFileFn: the records of files that hold many (JSON Lines lines, WARC responses).
MULTI_RECORD_FILE_RECORDS = "multi_record_file_records"
WHOLE_FILE_ARTICLES = "whole_file_articles"  # its main output: the one article of a .txt/.html file


class ParseInputFileFn(beam.DoFn):
    """Path (str) -> the file's articles or rejects.

    Outputs: main: one RawArticle per .txt/.html[.gz] file; MULTI_RECORD_FILE_RECORDS: a RawArticle per
    JSONL line / WARC HTML response; REJECTS: a Reject (stage read) per file or record that is no article.
    Guarantees: an unsupported, unreadable or .txt/.html path yields exactly one element; a JSONL/WARC
    file yields one per non-blank line / response record (other WARC records are counted as
    `read.warc_skipped_<type>`, not rejected). `read.files` counts paths, `read.records` articles and
    `read.rejected_<reason>` rejects.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self.files = Metrics.counter(Stage.READ.value, "files")
        self.records = Metrics.counter(Stage.READ.value, "records")

    def process(self, path: str):
        self.files.inc()
        try:
            yield from self._read(path)
        except Exception as exc:  # a bug while reading the file: its reject, and the run goes on
            yield emit(reject_for(exc, path, None, Stage.READ))

    def _read(self, path: str):
        kind, gz = detect_format(path)
        if kind is None:
            yield reject(path, None, Stage.READ, Reason.UNSUPPORTED_FORMAT, SUPPORTED)
            return
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as raw:
                if kind == WARC:  # warcio reads plain and record-gzipped WARCs itself
                    yield from self._emit_records(iter_warc(path, raw, self.max_bytes))
                    return
                stream = gzip.GzipFile(fileobj=raw) if gz else raw
                if kind == JSONL:
                    yield from self._emit_records(iter_jsonl(path, bounded_lines(stream, self.max_bytes), self.max_bytes))
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

    def _emit_records(self, items: Iterable[RawArticle | Reject | Skipped]):
        """The records of a multi-record file on their outputs; Skipped WARC records are only counted."""
        for item in items:
            if isinstance(item, Reject):
                yield emit(item)
            elif isinstance(item, Skipped):
                Metrics.counter(Stage.READ.value, "warc_skipped_" + item.rec_type).inc()
            else:
                self.records.inc()
                yield beam.pvalue.TaggedOutput(MULTI_RECORD_FILE_RECORDS, item)


def _listed_path(line: str) -> str:
    """The path of one line of a run's file listing ({"path": ...})."""
    return json.loads(line)["path"]


class ReadArticles(beam.PTransform):
    """File patterns or a listing -> {files: PCollection[RawArticle] (one per .txt/.html file), records:
    PCollection[RawArticle] (JSONL lines, WARC responses), rejects: PCollection[Reject]}.

    Every matched file yields either RawArticles (one per file, one per JSONL line or WARC response) or
    a Reject. A file matched by several patterns is read once.
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
        parsed = paths | "ParseFiles" >> beam.ParDo(ParseInputFileFn(self.max_bytes)).with_outputs(
            REJECTS, MULTI_RECORD_FILE_RECORDS, main=WHOLE_FILE_ARTICLES
        )
        # Paths are already spread over workers by Distinct, so the articles of one-article files go
        # straight on and are cleaned in the same fused step (their HTML never crosses a shuffle, nor a
        # Flatten, which a runner materialises when its inputs come from different steps); one JSONL or
        # WARC file yields many records on one worker, so those are spread before the expensive stages.
        return {
            "files": parsed[WHOLE_FILE_ARTICLES],
            "records": parsed[MULTI_RECORD_FILE_RECORDS] | "SpreadRecords" >> beam.Reshuffle(),
            REJECTS: parsed[REJECTS],
        }
