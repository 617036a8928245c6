"""`newsbeam export`: a read-only query's rows written to the one file the user names (CSV, JSON Lines or Parquet).

The only way newsbeam's SQL side writes a file: `newsbeam sql` refuses COPY and EXPORT. The query runs in
the same read-only session (pipeline/sql.py); the rows are streamed in batches into a temporary file next
to the target, renamed into place when complete. The target may not lie inside the output folder (that
would put files among the tables), and an existing file is kept unless --overwrite is given.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys

import duckdb
import pyarrow.parquet as pq

from pipeline.sql import check_output, check_read_only, connect, csv_cell, plain

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
BATCH_ROWS = 10_000


def format_of(path: str) -> str:
    """csv, jsonl or parquet from the file name's extension; ValueError for another."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise ValueError(f"--to {path!r}: name a .csv, .jsonl or .parquet file")
    return FORMATS[ext]


def check_target(path: str, output: str, overwrite: bool) -> str:
    """The absolute target path; ValueError when it is inside the output folder or exists (without overwrite)."""
    target = os.path.realpath(os.path.abspath(path))
    root = os.path.realpath(os.path.abspath(output))
    if target == root or target.startswith(root.rstrip(os.sep) + os.sep):
        raise ValueError(f"--to {path!r} is inside the output folder {output!r}: write the file elsewhere")
    if os.path.exists(target) and not overwrite:
        raise ValueError(f"--to {path!r} exists: give --overwrite to replace it")
    if os.path.isdir(target):
        raise ValueError(f"--to {path!r} is a directory")
    return target


def _write_parquet(rel: duckdb.DuckDBPyRelation, path: str) -> int:
    count = 0
    reader = rel.to_arrow_reader(BATCH_ROWS)
    with pq.ParquetWriter(path, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
            count += batch.num_rows
    return count


def _write_text(cur: duckdb.DuckDBPyConnection, fmt: str, path: str) -> int:
    columns = [d[0] for d in cur.description]
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n") if fmt == "csv" else None
        if writer:
            writer.writerow(columns)
        while rows := cur.fetchmany(BATCH_ROWS):
            count += len(rows)
            if writer:
                writer.writerows([csv_cell(v) for v in row] for row in rows)
            else:
                f.writelines(json.dumps({c: plain(v) for c, v in zip(columns, row)}, ensure_ascii=False) + "\n" for row in rows)
    return count


def export(output: str, query: str, to: str, overwrite: bool = False) -> int:
    """Write the rows of the read-only `query` over `output`'s views to the file `to`; returns the row count."""
    check_output(output)
    fmt = format_of(to)
    target = check_target(to, output, overwrite)
    con = connect(output)
    check_read_only(con, query)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.{os.getpid()}.tmp")
    try:
        if fmt == "parquet":
            rel = con.sql(query)
            if rel is None:
                raise ValueError("the query returns no result set")
            count = _write_parquet(rel, tmp)
        else:
            cur = con.execute(query)
            if not cur.description:
                raise ValueError("the query returns no result set")
            count = _write_text(cur, fmt, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return count


def command(argv: list[str]) -> int:
    """`newsbeam export --output out/ --query "SELECT ..." --to rows.csv|.jsonl|.parquet`: 0 when written, 1 on an error."""
    parser = argparse.ArgumentParser(
        prog="newsbeam export",
        description="Write the rows of a read-only SQL query over the output's views to a file: CSV (list columns as "
        "JSON arrays), JSON Lines or Parquet, chosen by the file's extension.",
    )
    parser.add_argument("--output", default="out", help="The output directory of `newsbeam run` (default: out).")
    parser.add_argument("--query", required=True, help="A DuckDB SELECT over the views, e.g. \"SELECT * FROM stories\".")
    parser.add_argument("--to", required=True, help="The file to write: .csv, .jsonl or .parquet, outside the output folder.")
    parser.add_argument("--overwrite", action="store_true", help="Replace the file if it exists.")
    args = parser.parse_args(argv)
    try:
        count = export(args.output, args.query, args.to, args.overwrite)
    except (ValueError, FileNotFoundError, OSError, duckdb.Error) as exc:
        print(f"newsbeam export: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {count} row{'s' if count != 1 else ''} to {args.to}")
    return 0
