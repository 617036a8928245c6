"""Copies of articles that earlier runs wrote (incremental runs): MarkEarlierCopies and its helpers.

Exact copies are looked up by `content_hash` in earlier runs' `articles` tables. Near copies: every run
keeps the MinHash signature of each article it kept (not of its copies) in `<output>/_state/signatures/`;
a later incremental run looks its new articles up there.
"""
from __future__ import annotations

import zlib
from collections.abc import Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa

from schemas.records import DUP_EXACT, DUP_NEAR, CleanArticle, StoryAssignment
from transforms.copies.config import CopyConfig
from transforms.copies.minhash import SIGNATURE_DTYPE, article_signature, band_keys, jaccard_estimate, permutations, stored_signature
from transforms.earlier import ReadEarlierState
from transforms.parquet import read_table

NEW = "new"
COPIES = "copies"
EARLIER_COLUMNS = ["content_hash", "article_id", "duplicate_of", "story_id", "run_id"]


def earlier_rows(readable_file) -> Iterator[tuple[str, tuple[str, str, str]]]:
    """(content_hash, (run_id, kept article_id, story_id)) for each row of one earlier `articles` Parquet file;
    the kept article is the row's `duplicate_of`, or the row itself."""
    with readable_file.open() as f:
        table = read_table(f, columns=EARLIER_COLUMNS)
    for row in table.to_pylist():
        yield row["content_hash"], (row["run_id"], row["duplicate_of"] or row["article_id"], row["story_id"])


def band_fingerprints(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64 FNV-1a of each band of each signature (rows of `sigs`): equal bands give equal values, so
    comparing these vectorised finds every row that can share a band key with another, without false negatives."""
    h = np.full((len(sigs), bands), 0xCBF29CE484222325, dtype=np.uint64)
    for j in range(rows):  # the j-th value of every band at once
        h = (h ^ sigs[:, j : bands * rows : rows].astype(np.uint64)) * np.uint64(0x100000001B3)
    return h


def _signature_matrix(column, num_perm: int) -> np.ndarray | None:
    """The signatures of a binary Arrow column as an (n, num_perm) array without a Python object per row, or None
    when they are not all num_perm values long."""
    col = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    if col.null_count or col.type not in (pa.binary(), pa.large_binary()):
        return None
    offset_type = np.int64 if col.type == pa.large_binary() else np.int32
    offsets = np.frombuffer(col.buffers()[1], dtype=offset_type)[col.offset : col.offset + len(col) + 1]
    width = num_perm * SIGNATURE_DTYPE.itemsize
    if len(col) == 0 or not np.all(np.diff(offsets) == width):
        return None
    data = np.frombuffer(col.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data.view(SIGNATURE_DTYPE).reshape(len(col), num_perm)


def earlier_signature_rows(readable_file, wanted: set, cfg: CopyConfig, new_sigs: list | None = None) -> Iterator[tuple[bytes, tuple]]:
    """(band key, (run_id, article_id, story_id, signature bytes)) for each band of each row of one earlier
    signatures file whose key is among `wanted` (the new articles' band keys) and whose settings match `cfg`.

    With `new_sigs` ([(article_id, signature bytes)] of the new articles) only the signature and settings columns
    are read first, and the rows are narrowed, vectorised, to those with a band equal to a band of a new article
    (band_fingerprints); only those are read whole and get their keys hashed."""
    import pyarrow.compute as pc

    if not wanted:
        return
    bands, rows = cfg.bands_rows
    num_perm, seed, shingle_size = cfg.signature_setting
    columns = ["signature", "num_perm", "seed", "shingle_size"] if new_sigs else None
    with readable_file.open() as f:
        table = read_table(f, columns=columns)
    keep = pc.and_(pc.and_(pc.equal(table["num_perm"], num_perm), pc.equal(table["seed"], seed)),
                   pc.equal(table["shingle_size"], shingle_size))
    if new_sigs:
        old = _signature_matrix(table["signature"], num_perm)
        new = _signature_matrix(pa.array([sig for _, sig in new_sigs], pa.binary()), num_perm)
        if old is not None and new is not None:
            fo, fn = band_fingerprints(old, bands, rows), band_fingerprints(new, bands, rows)
            hit = np.zeros(len(old), dtype=bool)
            for i in range(bands):
                hit |= np.isin(fo[:, i], fn[:, i])
            keep = pc.and_(keep, pa.array(hit))
        if not pc.any(keep).as_py():
            return
        with readable_file.open() as f:
            table = read_table(f)
    for row in table.filter(keep).to_pylist():
        sig = np.frombuffer(row["signature"], dtype=SIGNATURE_DTYPE)
        for key in band_keys(sig, bands, rows):
            if key in wanted:
                yield key, (row["run_id"], row["article_id"], row["story_id"], row["signature"])


def earlier_matches(kv, threshold: float) -> Iterator[tuple[str, tuple]]:
    """(band key, {new: [(id, sig)], old: [(run_id, id, story_id, sig)]}) -> (new id, (-jaccard, run_id, old id,
    story_id)) for each pair in the bucket whose estimated Jaccard reaches the threshold."""
    _, grouped = kv
    olds = [(o, np.frombuffer(o[3], dtype=SIGNATURE_DTYPE)) for o in grouped["old"]]
    if not olds:
        return
    for aid, raw in grouped["new"]:
        sig = np.frombuffer(raw, dtype=SIGNATURE_DTYPE)
        for (run_id, old_id, story_id, _), old_sig in olds:
            j = jaccard_estimate(sig, old_sig)
            if j >= threshold:
                yield aid, (-j, run_id, old_id, story_id)


class SplitEarlierCopiesFn(beam.DoFn):
    """CleanArticle -> itself (main output) when no earlier article has its `content_hash`, or
    ('copies', (a, StoryAssignment)) as an exact copy of that earlier article's kept article, in its story.

    Side input `earlier`: {content_hash: (run_id, kept article_id, story_id)}.
    """

    def process(self, a: CleanArticle, earlier: dict):
        hit = earlier.get(a.content_hash)
        if hit is None:
            yield a
            return
        _, kept, story_id = hit
        yield beam.pvalue.TaggedOutput(
            COPIES, (a, StoryAssignment(a.article_id, story_id, is_canonical=False, duplicate_of=kept, duplicate_kind=DUP_EXACT))
        )


def earlier_hashes(pattern: str, hashes: list[str]) -> dict[str, tuple[str, str, str]]:
    """{content_hash: (run_id, kept article_id, story_id)} of the earliest earlier row with each of `hashes`, by a
    filtered DuckDB query over the local Parquet files matching `pattern` (only their content_hash column is
    scanned in full), so a run's lookup costs what its own articles ask, not a side input of every earlier hash."""
    import glob

    import duckdb

    if not hashes or not glob.glob(pattern):
        return {}
    con = duckdb.connect()
    try:
        con.execute("CREATE TEMP TABLE wanted AS SELECT unnest(?::VARCHAR[]) AS h", [sorted(set(hashes))])
        rows = con.execute(
            "SELECT content_hash, min([run_id, coalesce(duplicate_of, article_id), story_id]) "
            "FROM read_parquet(?, union_by_name = true) WHERE content_hash IN (SELECT h FROM wanted) GROUP BY content_hash",
            [pattern],
        ).fetchall()
    finally:
        con.close()
    return {h: tuple(first) for h, first in rows}


LOOKUP_SHARDS = 1  # DuckDB lookups per run (each scans the earlier hashes once; DuckDB parallelises the scan itself)


def lookup_shard(content_hash: str) -> int:
    return zlib.crc32(content_hash.encode()) % LOOKUP_SHARDS


class WholeSignatureFn(beam.DoFn):
    """CleanArticle -> (article_id, whole MinHash signature bytes), as the run state stores them."""

    def __init__(self, cfg: CopyConfig):
        self.cfg = cfg

    def setup(self):
        self.perms = permutations(self.cfg.num_perm, self.cfg.seed)

    def process(self, a: CleanArticle):
        yield a.article_id, stored_signature(article_signature(a, self.perms, self.cfg.shingle_size))


class SplitNearCopiesFn(beam.DoFn):
    """CleanArticle -> itself (main output) when new, or ('copies', (a, StoryAssignment)) as a near copy when
    `matches` ({article_id: (-jaccard, run_id, earlier id, story_id)}) names its earlier original."""

    def process(self, a: CleanArticle, matches: dict):
        hit = matches.get(a.article_id)
        if hit is None:
            yield a
            return
        _, _, old_id, story_id = hit
        yield beam.pvalue.TaggedOutput(
            COPIES, (a, StoryAssignment(a.article_id, story_id, is_canonical=False, duplicate_of=old_id, duplicate_kind=DUP_NEAR))
        )


class MarkEarlierCopies(beam.PTransform):
    """PCollection[CleanArticle] -> {new: PCollection[CleanArticle], copies: PCollection[(CleanArticle, StoryAssignment)]}.

    An article whose normalised text (`content_hash`) is that of an article in the Parquet files matching
    `earlier_glob` (earlier runs' `articles`) is an exact copy of that article's kept article, in its story;
    the earliest run's row decides. Local files are queried with DuckDB for each batch's hashes only; on an
    object store the earlier hashes reach the split as a side input (300-400 bytes of memory per earlier article).

    With `signatures_glob` (earlier runs' signatures state), an article that is not an exact copy but
    shares an LSH band with an earlier kept article and reaches `cfg.threshold` estimated Jaccard with it
    is a near copy of it, in its story (the most similar one; ties: the earliest run). Only earlier rows in
    a band of this run's new articles are shuffled. Every other article is new and goes on to this run's
    copies and stories. Guarantees: every input article comes out exactly once, in one of the two outputs.
    """

    def __init__(self, earlier_glob: str, signatures_glob: str | None = None, cfg: CopyConfig = CopyConfig()):
        super().__init__()
        self.earlier_glob = earlier_glob
        self.signatures_glob = signatures_glob
        self.cfg = cfg

    def expand(self, articles):
        if "://" in self.earlier_glob:  # an object store: DuckDB has no credentials there; every earlier hash as a side input
            earlier = (
                articles.pipeline
                | "ReadEarlier" >> ReadEarlierState(self.earlier_glob, earlier_rows)
                | "FirstRun" >> beam.CombinePerKey(min)
            )
            split = articles | "SplitEarlierCopies" >> beam.ParDo(SplitEarlierCopiesFn(), beam.pvalue.AsDict(earlier)).with_outputs(
                COPIES, main=NEW
            )
        else:  # local: look up only this run's hashes, in a few DuckDB queries
            pattern = self.earlier_glob
            found = (
                articles
                # (shard, content_hash) -> GroupByKey -> (shard, [content_hash])
                | "KeyHashByShard" >> beam.Map(lambda a: (lookup_shard(a.content_hash), a.content_hash))
                | "GroupHashesByShard" >> beam.GroupByKey()
                | "LookUpEarlierHashes" >> beam.FlatMap(lambda kv: earlier_hashes(pattern, list(kv[1])).items())
            )
            # The hits (exact copies of earlier articles, few per run) reach the split as a side input.
            split = articles | "SplitEarlierCopies" >> beam.ParDo(SplitEarlierCopiesFn(), beam.pvalue.AsDict(found)).with_outputs(
                COPIES, main=NEW
            )
        if self.signatures_glob is None:
            return {NEW: split[NEW], COPIES: split[COPIES]}
        cfg = self.cfg
        bands, rows = cfg.bands_rows
        sigs = split[NEW] | "NewSignatures" >> beam.ParDo(WholeSignatureFn(cfg))
        # (band key, (article_id, signature bytes)) of each new article
        probes = sigs | "ProbeKeys" >> beam.FlatMap(
            lambda kv: ((key, kv) for key in band_keys(np.frombuffer(kv[1], dtype=SIGNATURE_DTYPE), bands, rows))
        )
        wanted = beam.pvalue.AsSingleton(
            probes | "WantedKeys" >> beam.Keys() | "WantedSet" >> beam.CombineGlobally(beam.combiners.ToSetCombineFn())
        )
        new_sigs = beam.pvalue.AsList(sigs)
        olds = articles.pipeline | "ReadSignatures" >> ReadEarlierState(self.signatures_glob, earlier_signature_rows, wanted, cfg,
                                                                        new_sigs)
        threshold = cfg.threshold
        # (band key, {new: [(id, sig)], old: [(run_id, id, story_id, sig)]}) -> the best earlier match per new article
        best = (
            {"new": probes, "old": olds}
            | "GroupByBand" >> beam.CoGroupByKey()
            | "EarlierMatches" >> beam.FlatMap(earlier_matches, threshold)
            | "BestMatch" >> beam.CombinePerKey(min)
        )
        # The matches (near copies only, a few per run) reach the articles as a side input: no shuffle of text.
        near = split[NEW] | "SplitNearCopies" >> beam.ParDo(SplitNearCopiesFn(), beam.pvalue.AsDict(best)).with_outputs(
            COPIES, main=NEW
        )
        copies = (split[COPIES], near[COPIES]) | "AllEarlierCopies" >> beam.Flatten()
        return {NEW: near[NEW], COPIES: copies}
