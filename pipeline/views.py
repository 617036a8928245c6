"""The SQL views of an output folder: the current state across all published runs, and the per-run rows.

A run is published when its `runs` row exists: the commit writes it last, so a run killed or failed before
that point is invisible to every view (its files are removed by the next run). The same SQL is written into
the output as `views.sql`, so plain DuckDB (`duckdb -init out/views.sql`), pandas or a BI tool sees the same
meaning as `newsbeam sql`.

    runs          one row per published run
    article_rows  every article row of every published run (a re-read file's article appears once per run)
    articles      one row per article (article_id): its first published run's row
    story_rows    the stories rows of every run (a story continued over several runs has a row in each)
    stories       one row per story across all runs: canonical article and title from the run that began it,
                  first/last published, article_count, unique_article_count, site_count over `articles`
    rejects       every reject of every published run

Rows are read from the folder that holds their run now (`_live_folders`): a run's own folder, or once
`newsbeam compact` has published a compaction marker covering it, the compacted folder (pipeline/compact.py).
"""
from __future__ import annotations

import pyarrow as pa

from schemas.layout import OutputLayout
from schemas.tables import ARTICLES_SCHEMA, REJECTS_SCHEMA, RUNS_SCHEMA, STORIES_SCHEMA

VIEW_NAMES = ("runs", "article_rows", "articles", "story_rows", "stories", "rejects")

_DUCKDB_TYPES = {
    pa.string(): "VARCHAR",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.bool_(): "BOOLEAN",
    pa.float64(): "DOUBLE",
    pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
    pa.list_(pa.string()): "VARCHAR[]",
    pa.map_(pa.string(), pa.int64()): "MAP(VARCHAR, BIGINT)",
}


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def empty_select(schema: pa.Schema) -> str:
    """A SELECT of no rows with the table's columns and types (for a table no run has written yet)."""
    cols = ", ".join(f"CAST(NULL AS {_DUCKDB_TYPES[f.type]}) AS {f.name}" for f in schema)
    return f"SELECT {cols} WHERE false"


def _source(pattern: str, schema: pa.Schema, present: bool) -> str:
    if not present:
        return f"(SELECT *, CAST(NULL AS VARCHAR) AS filename FROM ({empty_select(schema)}))"
    return f"read_parquet({_quote(pattern)}, union_by_name = true, hive_partitioning = false, filename = true)"


def _live(source: str) -> str:
    """The rows of `source` in the folder that holds its run now: the run's own folder until a published compaction
    covers the run, then the newest compacted folder that does (so a compaction in progress, or one whose replaced
    files are still there, never shows a row twice)."""
    return (f"SELECT t.* EXCLUDE (filename) FROM {source} t LEFT JOIN _live_folders l ON t.run_id = l.run_id\n"
            f"  WHERE string_split(t.filename, '/')[-2] = coalesce(l.folder, t.run_id)")


def _markers(layout: OutputLayout) -> str:
    from apache_beam.io.filesystems import FileSystems

    if FileSystems.match([layout.compaction_markers_glob()])[0].metadata_list:
        return f"read_parquet({_quote(layout.compaction_markers_glob())})"
    return "(SELECT CAST(NULL AS VARCHAR) AS folder, CAST(NULL AS VARCHAR) AS run_id WHERE false)"


def views_sql(layout: OutputLayout, present: dict[str, bool]) -> str:
    """The CREATE VIEW statements for the output at `layout`; `present[table]` says whether it has files yet."""
    runs = _source(layout.run_row("*"), RUNS_SCHEMA, present.get("runs", False))
    articles = _source(layout.run_files_glob("articles"), ARTICLES_SCHEMA, present.get("articles", False))
    stories = _source(layout.run_files_glob("stories"), STORIES_SCHEMA, present.get("stories", False))
    rejects = _source(layout.run_files_glob("rejects"), REJECTS_SCHEMA, present.get("rejects", False))
    return f"""-- newsbeam views of {layout.root} (written by newsbeam; regenerated at every commit and compaction)
CREATE OR REPLACE VIEW _live_folders AS
  SELECT run_id, max(folder) AS folder FROM {_markers(layout)} GROUP BY run_id;
CREATE OR REPLACE VIEW runs AS {_live(runs)};
CREATE OR REPLACE VIEW article_rows AS
  SELECT * FROM ({_live(articles)}) WHERE run_id IN (SELECT run_id FROM runs);
CREATE OR REPLACE VIEW articles AS
  SELECT * FROM article_rows
  QUALIFY row_number() OVER (PARTITION BY article_id ORDER BY ingested_at, run_id) = 1;
CREATE OR REPLACE VIEW story_rows AS
  SELECT * FROM ({_live(stories)}) WHERE run_id IN (SELECT run_id FROM runs);
CREATE OR REPLACE VIEW rejects AS
  SELECT * FROM ({_live(rejects)}) WHERE run_id IN (SELECT run_id FROM runs);
CREATE OR REPLACE VIEW stories AS
  WITH began AS (
    SELECT s.story_id,
           arg_min(s.canonical_article_id, r.started_at) AS canonical_article_id,
           arg_min(s.title, r.started_at) AS title,
           arg_min(s.run_id, r.started_at) AS first_run_id,
           arg_max(s.run_id, r.started_at) AS last_run_id,
           count(*) AS run_count
    FROM story_rows s JOIN runs r USING (run_id)
    GROUP BY s.story_id),
  members AS (
    SELECT story_id,
           min(published_at) AS first_published,
           max(published_at) AS last_published,
           count(*) AS article_count,
           count(*) FILTER (WHERE duplicate_of IS NULL) AS unique_article_count,
           count(DISTINCT lower(site)) AS site_count
    FROM articles GROUP BY story_id)
  SELECT b.story_id, b.canonical_article_id, b.title, m.first_published, m.last_published,
         m.article_count, m.unique_article_count, m.site_count, b.run_count, b.first_run_id, b.last_run_id
  FROM began b JOIN members m USING (story_id);
"""
