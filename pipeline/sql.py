"""`newsbeam sql`: the output's views (pipeline/views.py) in a read-only DuckDB session, results printed as a
table, CSV, a JSON array or JSON Lines.

Read-only means three locks, each enough for the statements it covers:
- only SELECT (with WITH, FROM-first, DESCRIBE, SHOW, SUMMARIZE, VALUES) and EXPLAIN statements run: COPY,
  EXPORT, ATTACH, INSERT, CREATE, DROP, SET, CALL, PRAGMA, INSTALL and LOAD are refused before anything runs;
- DuckDB's file access is limited to the output folder (`allowed_directories` with `enable_external_access`
  off), so read_text('/etc/passwd') or read_parquet of another folder fail;
- the configuration is locked (`lock_configuration`), so a query cannot lift the other two.
Users who need a file of a query's rows use `newsbeam export` (pipeline/export.py), the only writer.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import decimal
import json
import os
import shutil
import sys
import uuid

import duckdb
from apache_beam.io.filesystems import FileSystems

from pipeline.views import VIEW_NAMES, views_sql
from schemas.layout import RUNS_TABLE, OutputLayout
from schemas.tables import RUN_TABLES

FORMATS = ("table", "csv", "json", "jsonl")
# Statement kinds a read-only session runs (DuckDB parses DESCRIBE, SHOW, SUMMARIZE and VALUES as SELECT).
READ_STATEMENTS = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})
ELLIPSIS = "…"


class ReadOnlyError(duckdb.Error):
    """A statement that would change something, refused before it runs."""


def tables_present(layout: OutputLayout) -> dict[str, bool]:
    """Which tables have at least one committed file (a view of a table with none is an empty typed SELECT)."""
    present = {RUNS_TABLE: bool(FileSystems.match([layout.run_row("*")])[0].metadata_list)}
    for table in RUN_TABLES:
        present[table] = bool(FileSystems.match([layout.run_files_glob(table)])[0].metadata_list)
    return present


def _layout(output: str) -> OutputLayout:
    return OutputLayout(output if "://" in output else os.path.abspath(output))


def check_output(output: str) -> None:
    """Fail with a readable message when `output` is not a folder newsbeam wrote."""
    if "://" not in output and not os.path.isdir(output):
        raise FileNotFoundError(f"output directory {output!r} does not exist: run `newsbeam run --output {output}` first")


def lock_down(con: duckdb.DuckDBPyConnection, root: str) -> None:
    """Allow file access only under `root`, no extension loading, and lock the configuration."""
    if "://" not in root:  # an object store output is read through Beam's filesystems, not listed here
        con.execute("SET allowed_directories = [" + _sql_string(root.rstrip("/") + "/") + "]")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def connect(output: str, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the output's views (runs, articles, stories, rejects, and the per-run
    article_rows and story_rows) over the published runs' Parquet files. With `read_only` (the default) file
    access is limited to the output folder and the configuration is locked (see the module docstring)."""
    layout = _layout(output)
    con = duckdb.connect()
    con.execute(views_sql(layout, tables_present(layout)))
    if read_only:
        lock_down(con, layout.root)
    return con


def check_read_only(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """Raise ReadOnlyError unless every statement of `query` only reads."""
    for statement in con.extract_statements(query):
        if statement.type not in READ_STATEMENTS:
            kind = statement.type.name
            raise ReadOnlyError(f"newsbeam sql only reads: a {kind} statement is not allowed (use `newsbeam export "
                                "--query ... --to FILE` to write a query's rows to a file)")


def read_query(con: duckdb.DuckDBPyConnection, query: str) -> duckdb.DuckDBPyConnection:
    """Run a read-only `query` (several statements: the last one's result); fetch rows from the returned cursor,
    its column names are in `.description`."""
    check_read_only(con, query)
    return con.execute(query)


# -- values as text ---------------------------------------------------------------------------------------------

def plain(value):
    """A value as JSON can hold it: timestamps as ISO 8601, decimals as floats, UUIDs and bytes as text."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def csv_cell(value) -> str:
    """A CSV cell: empty for NULL, lists and maps as JSON, everything else as text."""
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict):
        return json.dumps(plain(value), ensure_ascii=False)
    v = plain(value)
    return v if isinstance(v, str) else str(v)


def display(value) -> str:
    """A table cell: one line (newlines and tabs become spaces), lists and maps as JSON, NULL as empty."""
    if value is None:
        return ""
    if isinstance(value, list | tuple | dict):
        text = json.dumps(plain(value), ensure_ascii=False)
    elif isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ", timespec="seconds")
    elif isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value)
    return " ".join(text.split())


def truncate(text: str, width: int) -> str:
    """`text` cut to `width` characters, ending in an ellipsis when cut."""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + ELLIPSIS if width > 0 else ""


def fit_widths(natural: list[int], minimum: list[int], total: int, gap: int = 2) -> list[int]:
    """Column widths that fit `total` characters: the widest columns give way first, none below its minimum."""
    widths = list(natural)
    budget = total - gap * max(len(widths) - 1, 0)
    while sum(widths) > budget:
        i = max(range(len(widths)), key=lambda k: (widths[k] - minimum[k] > 0, widths[k]))
        if widths[i] <= minimum[i]:
            break  # nothing more to give: the line is wider than `total`
        widths[i] -= 1
    return widths


def _numeric(values: list) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(isinstance(v, int | float | decimal.Decimal) and not isinstance(v, bool) for v in present)


def format_table(columns: list[str], rows: list[tuple], width: int = 100, max_cell: int = 60) -> list[str]:
    """Rows as aligned text lines no wider than `width`: long cells are cut with an ellipsis, never wrapped; when
    even 6 characters a column do not fit, the last columns are left out and a closing line names them."""
    cells = [[display(v) for v in row] for row in rows]
    natural = [min(max([len(c)] + [len(r[i]) for r in cells]), max_cell) for i, c in enumerate(columns)]
    minimum = [min(n, 6) for n in natural]
    shown = len(columns)
    while shown > 1 and sum(minimum[:shown]) + 2 * (shown - 1) > width:
        shown -= 1
    widths = fit_widths(natural[:shown], minimum[:shown], width)
    right = [_numeric([row[i] for row in rows]) for i in range(shown)]

    def line(values: list[str]) -> str:
        parts = [truncate(v, w).rjust(w) if r else truncate(v, w).ljust(w) for v, w, r in zip(values, widths, right)]
        return "  ".join(parts).rstrip()

    lines = [line(columns[:shown]), "  ".join("-" * w for w in widths), *(line(r[:shown]) for r in cells)]
    if shown < len(columns):
        hidden = columns[shown:]
        lines.append(truncate(f"({len(hidden)} more column{'s' if len(hidden) > 1 else ''} not shown: "
                              + ", ".join(hidden) + "; --format jsonl shows every column)", width))
    return lines


def write_rows(columns: list[str], rows: list[tuple], fmt: str, out, width: int = 100) -> None:
    """Print `rows` in `fmt`: table, csv (lists as JSON arrays), json (one JSON array) or jsonl (one object a line)."""
    if fmt == "table":
        out.write("\n".join(format_table(columns, rows, width)) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([csv_cell(v) for v in row] for row in rows)
    elif fmt == "jsonl":
        for row in rows:
            out.write(json.dumps({c: plain(v) for c, v in zip(columns, row)}, ensure_ascii=False) + "\n")
    elif fmt == "json":
        objects = [json.dumps({c: plain(v) for c, v in zip(columns, row)}, ensure_ascii=False) for row in rows]
        out.write("[\n" + ",\n".join("  " + o for o in objects) + ("\n]\n" if objects else "]\n"))
    else:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")


def terminal_width(default: int = 100) -> int:
    return shutil.get_terminal_size((default, 24)).columns


def run_sql(output: str, query: str, fmt: str = "table", max_rows: int = 100, out=None) -> int:
    """Run one read-only query against the views and print its rows; returns the number of rows printed."""
    out = out or sys.stdout
    check_output(output)
    cur = read_query(connect(output), query)
    if not cur.description:  # no result set
        return 0
    columns = [d[0] for d in cur.description]
    if fmt != "table":
        rows = cur.fetchall()
        write_rows(columns, rows, fmt, out)
        return len(rows)
    rows = cur.fetchmany(max_rows + 1)
    more = len(rows) > max_rows
    rows = rows[:max_rows]
    write_rows(columns, rows, "table", out, terminal_width())
    out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''}"
              + (" shown; more exist: --max-rows N shows more, --format csv|json|jsonl shows all)" if more else ")") + "\n")
    return len(rows)


def command(argv: list[str]) -> int:
    """`newsbeam sql --output out/ "SELECT ..."`: 0 on success, 1 for a query or output error."""
    parser = argparse.ArgumentParser(
        prog="newsbeam sql",
        description="Run read-only SQL over the output's views: " + ", ".join(VIEW_NAMES) + " (articles and stories "
        "show the current state across all runs; article_rows and story_rows every run's rows; see views.sql in the "
        "output). Only SELECT and EXPLAIN statements run, and only files of the output can be read; "
        "`newsbeam export` writes a query's rows to a file.",
    )
    parser.add_argument("--output", default="out", help="The output directory of `newsbeam run` (default: out).")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table (cut to the terminal's width), csv (list columns as JSON arrays), json (one JSON "
                        "array of objects) or jsonl (one JSON object per line) (default: table).")
    parser.add_argument("--max-rows", "--max_rows", dest="max_rows", type=int, default=100,
                        help="Rows shown in table format (default: 100); the other formats print every row.")
    parser.add_argument("query", help="A DuckDB SQL query, e.g. \"SELECT count(*) FROM articles\".")
    args = parser.parse_args(argv)
    try:
        run_sql(args.output, args.query, args.format, args.max_rows)
    except (FileNotFoundError, duckdb.Error) as exc:
        print(f"newsbeam sql: error: {exc}", file=sys.stderr)
        return 1
    return 0
