"""The articles, stories and rejects tables of one run, staged as Parquet, and the counts its driver checks."""
from __future__ import annotations

import datetime as dt
import json

import apache_beam as beam

from schemas import counts as c
from schemas.layout import StagingLayout
from schemas.records import DUP_EXACT, DUP_NEAR
from schemas.tables import ARTICLES_SCHEMA, REJECTS_SCHEMA, STORIES_SCHEMA, article_row, reject_row, story_row
from transforms.parquet import WriteParquet


def count_keys(kind: str, item) -> list[str]:
    """Counter names an output element adds to (`articles`, `exact_duplicates`, `rejects.<reason>`, ...)."""
    if kind == "articles":
        _, s = item
        keys = [c.ARTICLES]
        if s.duplicate_kind == DUP_EXACT:
            keys.append(c.EXACT_COPIES)
        elif s.duplicate_kind == DUP_NEAR:
            keys.append(c.NEAR_COPIES)
        return keys
    if kind == "rejects":
        return [c.REJECTS, c.REJECTS_BY_REASON + item.reason.value, c.REJECTS_AT_STAGE + item.stage.value]
    if kind == "stories" and item.continued:
        return [c.STORIES, c.CONTINUED_STORIES]
    return [kind]


class WriteTables(beam.PTransform):
    """{articles: (CleanArticle, StoryAssignment), stories: StoryRow, rejects: Reject[, counts: str]} -> Parquet under `staging_dir`.

    Writes `<staging_dir>/<table>/part-*.parquet` for each table and `<staging_dir>/_counts.json` with the
    element counts the run summary reports (names in schemas/counts.py). The driver moves the files into
    place once the pipeline has succeeded, so a failed run never leaves partial files in the tables.
    """

    def __init__(self, staging_dir: str, run_id: str, ingested_at: dt.datetime):
        super().__init__()
        self.staging = StagingLayout(staging_dir)
        self.run_id = run_id
        self.ingested_at = ingested_at

    def expand(self, tables):
        run_id, ingested_at = self.run_id, self.ingested_at
        rows = {
            "articles": tables["articles"] | "ArticleRow" >> beam.Map(lambda x: article_row(x[0], x[1], run_id, ingested_at)),
            "stories": tables["stories"] | "StoryRow" >> beam.Map(lambda s: story_row(s, run_id)),
            "rejects": tables["rejects"] | "RejectRow" >> beam.Map(lambda r: reject_row(r, run_id)),
        }
        schemas = {"articles": ARTICLES_SCHEMA, "stories": STORIES_SCHEMA, "rejects": REJECTS_SCHEMA}
        for name, pcoll in rows.items():
            pcoll | f"Write{name.title()}" >> WriteParquet(self.staging.table_prefix(name), schemas[name])
        counted = [
            tables[kind] | f"Count{kind.title()}" >> beam.FlatMap(lambda x, kind=kind: count_keys(kind, x))
            for kind in ("articles", "stories", "rejects")
        ]
        if "counts" in tables:  # extra counter names from earlier stages (e.g. articles entering cleaning)
            counted.append(tables["counts"])
        return (
            counted
            | "AllCounts" >> beam.Flatten()
            | "CountEach" >> beam.combiners.Count.PerElement()
            | "CountsToDict" >> beam.combiners.ToDict()
            | "CountsJson" >> beam.Map(lambda d: json.dumps(d, sort_keys=True))
            | "WriteCounts" >> beam.io.WriteToText(self.staging.counts, num_shards=1, shard_name_template="")
        )
