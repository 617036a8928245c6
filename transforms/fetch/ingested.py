"""Fetch only what is new: page requests whose canonical URL an earlier run ingested are not made again.

Earlier runs' `ingested_urls` state (schemas/state.py) is looked up per batch of this run's page requests
with a filtered DuckDB query over the Parquet files (row groups are skipped by their min/max), so the cost
follows the run's requests, not the size of the history.
"""
from __future__ import annotations

import zlib

import apache_beam as beam
from apache_beam.metrics import Metrics

from transforms.parquet import read_table
from transforms.urls import canonical_url

LOOKUP_SHARDS = 1  # lookups per run (each scans the earlier URLs once; DuckDB parallelises the scan itself)


def page_key(url: str) -> str:
    """The URL a page is known by across runs."""
    return canonical_url(url) or url


def ingested_among(pattern: str, urls: list[str]) -> set[str]:
    """Which of `urls` (canonical) the state files matching `pattern` hold."""
    if not urls:
        return set()
    if "://" in pattern:  # object store: DuckDB would need its own credentials; read the url column with pyarrow
        import pyarrow as pa
        import pyarrow.compute as pc
        from apache_beam.io.filesystems import FileSystems

        wanted, found = set(urls), set()
        for m in FileSystems.match([pattern])[0].metadata_list:
            with FileSystems.open(m.path) as f:
                col = read_table(f, columns=["url"])["url"]
            found.update(v for v in col.filter(pc.is_in(col, value_set=pa.array(sorted(wanted)))).to_pylist())
        return found
    import glob

    import duckdb

    if not glob.glob(pattern):
        return set()
    con = duckdb.connect()
    try:
        con.execute("CREATE TEMP TABLE wanted AS SELECT unnest(?::VARCHAR[]) AS url", [sorted(set(urls))])
        rows = con.execute(
            "SELECT DISTINCT i.url FROM read_parquet(?, union_by_name = true) i JOIN wanted w ON i.url = w.url", [pattern]
        ).fetchall()
    finally:
        con.close()
    return {u for (u,) in rows}


class SkipIngestedFn(beam.DoFn):
    """[FetchRequest] (a group) -> the requests whose page no earlier run ingested; counts `fetch.skipped_ingested`."""

    def __init__(self, pattern: str):
        self.pattern = pattern

    def process(self, batch):
        batch = list(batch)
        known = ingested_among(self.pattern, [page_key(r.url) for r in batch])
        skipped = Metrics.counter("fetch", "skipped_ingested")
        for r in batch:
            if page_key(r.url) in known:
                skipped.inc()
            else:
                yield r


class SkipIngestedPages(beam.PTransform):
    """PCollection[FetchRequest] (pages) -> those not ingested by an earlier run (`pattern`: its state files)."""

    def __init__(self, pattern: str):
        super().__init__()
        self.pattern = pattern

    def expand(self, requests):
        return (
            requests
            # (shard, FetchRequest) -> GroupByKey -> (shard, [FetchRequest]): a few DuckDB lookups per run
            | "KeyByShard" >> beam.Map(lambda r: (zlib.crc32(page_key(r.url).encode()) % LOOKUP_SHARDS, r))
            | "GroupByShard" >> beam.GroupByKey()
            | "ShardRequests" >> beam.Values()
            | "DropIngested" >> beam.ParDo(SkipIngestedFn(self.pattern))
        )
