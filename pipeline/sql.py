"""`newsbeam sql`: the output tables as DuckDB views, and query results printed as a table."""
from __future__ import annotations

import csv
import json
import os
import shutil
import sys

import duckdb
import pyarrow as pa

from schemas.tables import TABLE_SCHEMAS


def _glob(output: str, table: str) -> str:
    return f"{output.rstrip('/')}/{table}/**/*.parquet"


def connect(output: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with one view per table over `<output>/<table>/**/*.parquet`.

    A table with no files yet is an empty view with the table's schema, so queries still run.
    """
    con = duckdb.connect()
    for table, schema in TABLE_SCHEMAS.items():
        pattern = _glob(output, table)
        has_files = con.execute("SELECT count(*) FROM glob(?)", [pattern]).fetchall()[0][0] > 0
        if has_files:
            quoted = pattern.replace("'", "''")
            con.execute(
                f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{quoted}', union_by_name = true, hive_partitioning = false)"
            )
        else:
            con.register(f"_{table}_empty", pa.Table.from_pylist([], schema=schema))
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM _{table}_empty")
    return con


def run_sql(output: str, query: str, fmt: str = "table", max_rows: int = 100) -> int:
    """Run one query against the tables and print the result (table, csv or json lines)."""
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
