"""Write stage: the articles, stories and rejects tables as Parquet with explicit schemas, plus run counts."""
from __future__ import annotations

import datetime as dt
import json

import apache_beam as beam

from schemas.layout import COUNTS_FILE
from schemas.records import DUP_EXACT, DUP_NEAR
from schemas.tables import ARTICLES_SCHEMA, REJECTS_SCHEMA, STORIES_SCHEMA, article_row, reject_row, story_row
REJECTS_AT = "rejects_at."  # counter prefix: rejects by stage (read, fetch, discover, extract)


def table_prefix(staging_dir: str, table: str) -> str:
    return f"{staging_dir.rstrip('/')}/{table}/part"


def count_keys(kind: str, item) -> list[str]:
    """Counter names an output element adds to (`articles`, `exact_duplicates`, `rejects.<reason>`, ...)."""
    if kind == "articles":
        _, s = item
        keys = ["articles"]
        if s.duplicate_kind == DUP_EXACT:
            keys.append("exact_duplicates")
        elif s.duplicate_kind == DUP_NEAR:
            keys.append("near_duplicates")
        return keys
    if kind == "rejects":
        return ["rejects", "rejects." + item.reason, f"{REJECTS_AT}{item.stage}"]
    if kind == "stories" and item.continued:
        return ["stories", "continued_stories"]
    return [kind]


class WriteTables(beam.PTransform):
    """{articles: (CleanArticle, StoryAssignment), stories: StoryRow, rejects: Reject[, counts: str]} -> Parquet under `staging_dir`.

    Writes `<staging_dir>/<table>/part-*.parquet` for each table and `<staging_dir>/_counts.json`
    with the element counts the run summary reports. The caller moves the files into place once
    the pipeline has succeeded, so a failed run never leaves partial files in the tables.
    """

    def __init__(self, staging_dir: str, run_id: str, ingested_at: dt.datetime):
        super().__init__()
        self.staging_dir = staging_dir
        self.run_id = run_id
        self.ingested_at = ingested_at

    def expand(self, tables):
        run_id, ingested_at = self.run_id, self.ingested_at
        rows = {
            "articles": tables["articles"]
            | "ArticleRow" >> beam.Map(lambda x: article_row(x[0], x[1], run_id, ingested_at)),
            "stories": tables["stories"] | "StoryRow" >> beam.Map(lambda s: story_row(s, run_id)),
            "rejects": tables["rejects"] | "RejectRow" >> beam.Map(lambda r: reject_row(r, run_id)),
        }
        schemas = {"articles": ARTICLES_SCHEMA, "stories": STORIES_SCHEMA, "rejects": REJECTS_SCHEMA}
        for name, pcoll in rows.items():
            pcoll | f"Write{name.title()}" >> beam.io.WriteToParquet(
                table_prefix(self.staging_dir, name),
                schemas[name],
                file_name_suffix=".parquet",
                codec="zstd",
            )
        counted = [
            tables[kind] | f"Count{kind.title()}" >> beam.FlatMap(lambda x, kind=kind: count_keys(kind, x))
            for kind in ("articles", "stories", "rejects")
        ]
        if "counts" in tables:  # extra counter names from earlier stages (e.g. articles entering cleaning)
            counted.append(tables["counts"])
        return (
            counted
            | "AllCounts" >> beam.Flatten()
            | "Count" >> beam.combiners.Count.PerElement()
            | "ToDict" >> beam.combiners.ToDict()
            | "Json" >> beam.Map(lambda d: json.dumps(d, sort_keys=True))
            | "WriteCounts" >> beam.io.WriteToText(
                f"{self.staging_dir.rstrip('/')}/{COUNTS_FILE}", num_shards=1, shard_name_template=""
            )
        )
