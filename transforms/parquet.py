"""The one Parquet sink (explicit schema, zstd, shards under a prefix) and the one way to read a Parquet file object."""
from __future__ import annotations

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq


class WriteParquet(beam.PTransform):
    """PCollection[dict] -> `<prefix>-SSSSS-of-NNNNN.parquet` files with `schema` (never an inferred one).

    `num_shards` 0 lets the runner choose (one per bundle of the last step); 1 writes one file.
    """

    def __init__(self, prefix: str, schema: pa.Schema, num_shards: int = 0):
        super().__init__()
        self.prefix, self.schema, self.num_shards = prefix, schema, num_shards

    def expand(self, rows):
        return rows | beam.io.WriteToParquet(
            self.prefix, self.schema, file_name_suffix=".parquet", codec="zstd", num_shards=self.num_shards
        )


def read_table(f, columns: list[str] | None = None) -> pa.Table:
    """`pq.read_table` of an open (FileSystems) file object, on the calling thread.

    With Arrow's thread pool, a process that read through a Python file object can abort at exit
    ("terminate called without an active exception", SIGABRT) while the pool is torn down: 51 of 240
    loaded runs of a one-row read did here, none with use_threads=False (apache/arrow#34314, #50482).
    A scheduler would see a finished run exit -6; the tables read this way are small state files.
    """
    return pq.read_table(f, columns=columns, use_threads=False)
