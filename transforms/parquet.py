"""The one Parquet sink: explicit schema, zstd, shards under a prefix."""
from __future__ import annotations

import apache_beam as beam
import pyarrow as pa


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
