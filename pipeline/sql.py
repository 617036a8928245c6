"""`newsbeam sql`: the output's views (pipeline/views.py) in DuckDB, and query results printed as a table."""
from __future__ import annotations

import csv
import json
import os
import shutil
import sys

import duckdb
from apache_beam.io.filesystems import FileSystems

from pipeline.views import views_sql
from schemas.layout import RUNS_TABLE, OutputLayout
from schemas.tables import RUN_TABLES


def tables_present(layout: OutputLayout) -> dict[str, bool]:
    """Which tables have at least one committed file (a view of a table with none is an empty typed SELECT)."""
    present = {RUNS_TABLE: bool(FileSystems.match([layout.run_row("*")])[0].metadata_list)}
    for table in RUN_TABLES:
        present[table] = bool(FileSystems.match([layout.run_files_glob(table)])[0].metadata_list)
    return present


def connect(output: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the output's views (runs, articles, stories, rejects, and the
    per-run article_rows and story_rows), over the published runs' Parquet files."""
    layout = OutputLayout(output if "://" in output else os.path.abspath(output))
    con = duckdb.connect()
    con.execute(views_sql(layout, tables_present(layout)))
    return con


def run_sql(output: str, query: str, fmt: str = "table", max_rows: int = 100) -> int:
    """Run one query against the views and print the result (table, csv or json lines)."""
    if "://" not in output and not os.path.isdir(output):
        raise FileNotFoundError(f"output directory {output!r} does not exist: run `newsbeam run --output {output}` first")
    rel = connect(output).sql(query)
    if rel is None:  # a statement without a result set
        return 0
    if fmt == "table":  # show() runs the query itself; a relation keeps no result between calls
        rel.show(max_rows=max_rows, max_width=max(80, shutil.get_terminal_size((200, 20)).columns))
        return 0
    rows = rel.fetchall()
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(rel.columns)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
    else:
        for row in rows:
            print(json.dumps(dict(zip(rel.columns, row)), default=str, ensure_ascii=False))
    return len(rows)


def command(argv: list[str]) -> int:
    """`newsbeam sql --output out/ "SELECT ..."`: 0 on success, 1 for a query or output error."""
    import argparse

    from pipeline.views import VIEW_NAMES

    parser = argparse.ArgumentParser(
        prog="newsbeam sql",
        description="Run SQL over the output's views: " + ", ".join(VIEW_NAMES) + " (articles and stories show the "
        "current state across all runs; article_rows and story_rows every run's rows; see views.sql in the output).",
    )
    parser.add_argument("--output", default="out", help="The output directory of `newsbeam run` (default: out).")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="How to print rows (default: table).")
    parser.add_argument("--max-rows", type=int, default=100, help="Rows shown in table format (default: 100).")
    parser.add_argument("query", help="A DuckDB SQL query, e.g. \"SELECT count(*) FROM articles\".")
    args = parser.parse_args(argv)
    try:
        run_sql(args.output, args.query, args.format, args.max_rows)
    except (FileNotFoundError, duckdb.Error) as exc:
        print(f"newsbeam sql: error: {exc}", file=sys.stderr)
        return 1
    return 0
