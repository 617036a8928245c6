"""`newsbeam sql` reads and never writes; its output formats say what they are; `newsbeam export` is the one writer."""
from __future__ import annotations

import csv
import io
import json
import os
import pathlib
import subprocess
import sys

import duckdb
import pyarrow.parquet as pq
import pytest

from pipeline.export import export
from pipeline.main import run
from pipeline.sql import ReadOnlyError, check_read_only, connect, csv_cell, format_table, read_query, truncate, write_rows

ROOT = pathlib.Path(__file__).resolve().parent.parent


# -- formats (pure) ----------------------------------------------------------------------------------------------

def test_truncate_ends_with_an_ellipsis():
    assert truncate("short", 10) == "short"
    assert truncate("a long headline about nothing", 10) == "a long he…"
    assert len(truncate("x" * 50, 10)) == 10


def test_table_cuts_long_cells_and_never_wraps():
    rows = [("Snowden: NSA data-collection 'setting fire' to Internet future and more words " * 3, 56, ["a", "b"]),
            ("short", 7, [])]
    lines = format_table(["title", "articles", "rules"], rows, width=60)
    assert len(lines) == 4  # header, rule, one line per row: nothing wrapped
    assert all(len(line) <= 60 for line in lines)
    assert lines[2].split("  ")[0].endswith("…")
    assert lines[2].rstrip().endswith('["a", "b"]')  # lists as JSON
    assert lines[3].split()[-1] == "[]" and lines[3].split()[1] == "7"


def test_table_leaves_out_columns_that_cannot_fit_and_says_so():
    columns = [f"column_{i}" for i in range(30)]
    lines = format_table(columns, [tuple(range(30))], width=80)
    assert all(len(line) <= 80 for line in lines)
    assert lines[-1].startswith("(") and "more columns not shown" in lines[-1]


@pytest.mark.parametrize("value, cell", [
    (["share_widget", "comment_section"], '["share_widget", "comment_section"]'),
    ({"too_large": 2}, '{"too_large": 2}'),
    (None, ""),
    (3, "3"),
], ids=["list", "map", "null", "int"])
def test_csv_cells(value, cell):
    assert csv_cell(value) == cell


def test_json_is_an_array_and_jsonl_one_object_a_line():
    rows = [("a", ["x"], None), ("b", [], 2)]
    out = io.StringIO()
    write_rows(["k", "rules", "n"], rows, "json", out)
    assert json.loads(out.getvalue()) == [{"k": "a", "rules": ["x"], "n": None}, {"k": "b", "rules": [], "n": 2}]
    out = io.StringIO()
    write_rows(["k", "rules", "n"], rows, "jsonl", out)
    assert [json.loads(line) for line in out.getvalue().splitlines()] == json.loads(json.dumps([
        {"k": "a", "rules": ["x"], "n": None}, {"k": "b", "rules": [], "n": 2}]))
    out = io.StringIO()
    write_rows(["k"], [], "json", out)
    assert json.loads(out.getvalue()) == []


@pytest.mark.parametrize("query", [
    "COPY (SELECT 1) TO 'x.csv'", "EXPORT DATABASE 'x'", "ATTACH 'x.db'", "INSERT INTO runs VALUES (1)",
    "CREATE TABLE t AS SELECT 1", "DROP VIEW articles", "SET enable_external_access = true", "INSTALL httpfs",
    "LOAD httpfs", "CALL pragma_version()", "SELECT 1; DROP VIEW articles", "PRAGMA show_tables",
], ids=lambda q: q.split()[0].lower() + ("-second" if ";" in q else ""))
def test_statements_that_write_are_refused_before_they_run(query):
    with pytest.raises(ReadOnlyError):
        check_read_only(duckdb.connect(), query)


@pytest.mark.parametrize("query", ["SELECT 1", "WITH a AS (SELECT 1) SELECT * FROM a", "DESCRIBE SELECT 1",
                                   "EXPLAIN SELECT 1", "FROM range(3)", "SUMMARIZE SELECT 1 AS a"])
def test_reading_statements_pass(query):
    check_read_only(duckdb.connect(), query)


# -- against a real output ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def output(tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("sql") / "out")
    run(["--input", str(ROOT / "seeds"), "--output", out], out=io.StringIO())
    return out


def files_under(folder: str) -> set[str]:
    return {os.path.join(d, f) for d, _, fs in os.walk(folder) for f in fs}


@pytest.mark.e2e
@pytest.mark.parametrize("query", [
    "COPY (SELECT * FROM articles) TO '{out}/articles/forged/part.parquet'",
    "COPY (SELECT 1 AS x) TO '{tmp}/leak.csv'",
    "ATTACH '{tmp}/new.duckdb' AS x",
    "EXPORT DATABASE '{tmp}/dump'",
], ids=["copy-into-tables", "copy-elsewhere", "attach", "export-database"])
def test_session_cannot_write_even_past_the_statement_check(output, tmp_path, query):
    """The DuckDB settings alone (no statement check) stop the writes: file access ends at the output folder and
    writes into it are refused as statements; so COPY into the tables is refused by the check, the rest by both."""
    before = files_under(output)
    q = query.format(out=output, tmp=tmp_path)
    with pytest.raises(ReadOnlyError):
        read_query(connect(output), q)
    if "{out}" not in query:
        with pytest.raises(duckdb.Error, match="disabled by configuration|Permission"):
            connect(output).execute(q)  # straight to DuckDB: the locked settings refuse it too
    assert files_under(output) == before
    assert not list(tmp_path.iterdir())


@pytest.mark.e2e
@pytest.mark.parametrize("query", [
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM read_parquet('{other}/*.parquet')",
], ids=["read_text", "read_csv", "glob", "parquet-elsewhere"])
def test_no_file_outside_the_output_can_be_read(output, tmp_path, query):
    duckdb.connect().execute(f"COPY (SELECT 1 AS x) TO '{tmp_path}/x.parquet'")
    with pytest.raises(duckdb.Error, match="disabled by configuration"):
        read_query(connect(output), query.format(other=tmp_path))


@pytest.mark.e2e
def test_settings_are_locked(output):
    con = connect(output)
    for setting in ("SET enable_external_access = true", "SET allowed_directories = ['/']", "SET lock_configuration = false"):
        with pytest.raises(duckdb.Error, match="configuration"):
            con.execute(setting)
    assert read_query(con, "SELECT count(*) FROM articles").fetchall() == [(3,)]


def newsbeam(*args):
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "100"})


@pytest.mark.e2e
def test_sql_command_formats(output):
    res = newsbeam("sql", "--output", output, "--format", "json", "SELECT article_id, boilerplate_rules FROM articles ORDER BY 1")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert len(rows) == 3 and all(isinstance(r["boilerplate_rules"], list) for r in rows)
    res = newsbeam("sql", "--output", output, "--format", "jsonl", "SELECT article_id FROM articles")
    assert len([json.loads(line) for line in res.stdout.splitlines()]) == 3
    res = newsbeam("sql", "--output", output, "--format", "csv", "SELECT boilerplate_rules FROM articles WHERE len(boilerplate_rules) > 0")
    cells = [r[0] for r in csv.reader(io.StringIO(res.stdout))][1:]
    assert cells and all(isinstance(json.loads(c), list) for c in cells)
    res = newsbeam("sql", "--output", output, "SELECT title, text FROM articles")
    lines = res.stdout.splitlines()
    assert len(lines) == 2 + 3 + 1 and all(len(line) <= 100 for line in lines) and "…" in lines[2]
    res = newsbeam("sql", "--output", output, "COPY (SELECT 1) TO 'x.csv'")
    assert res.returncode == 1 and "only reads" in res.stderr and "newsbeam export" in res.stderr


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["rows.csv", "rows.jsonl", "rows.parquet"])
def test_export_writes_the_named_file(output, tmp_path, name):
    query = "SELECT article_id, boilerplate_rules, published_at FROM articles ORDER BY article_id"
    to = tmp_path / "sub" / name
    assert export(output, query, str(to)) == 3
    expected = connect(output).sql(query).fetchall()
    if name.endswith(".parquet"):
        table = pq.read_table(to)
        assert table.column("article_id").to_pylist() == [r[0] for r in expected]
        assert table.column("boilerplate_rules").to_pylist() == [r[1] for r in expected]
    elif name.endswith(".jsonl"):
        got = [json.loads(line) for line in to.read_text().splitlines()]
        assert [(g["article_id"], g["boilerplate_rules"]) for g in got] == [(r[0], r[1]) for r in expected]
    else:
        got = list(csv.DictReader(to.open()))
        assert [(g["article_id"], json.loads(g["boilerplate_rules"])) for g in got] == [(r[0], r[1]) for r in expected]
    assert [p.name for p in to.parent.iterdir()] == [name]  # no temporary file left


@pytest.mark.e2e
def test_export_refuses_the_output_folder_existing_files_and_writes(output, tmp_path):
    before = files_under(output)
    with pytest.raises(ValueError, match="inside the output folder"):
        export(output, "SELECT 1", os.path.join(output, "articles", "x", "part.parquet"))
    existing = tmp_path / "kept.csv"
    existing.write_text("keep me")
    with pytest.raises(ValueError, match="exists"):
        export(output, "SELECT 1", str(existing))
    assert existing.read_text() == "keep me"
    with pytest.raises(ReadOnlyError):
        export(output, f"COPY (SELECT 1) TO '{tmp_path}/y.csv'", str(tmp_path / "z.csv"))
    with pytest.raises(ValueError, match=r"\.csv, \.jsonl or \.parquet"):
        export(output, "SELECT 1", str(tmp_path / "z.xlsx"))
    assert files_under(output) == before
    res = newsbeam("export", "--output", output, "--query", "SELECT count(*) AS n FROM stories", "--to", str(tmp_path / "n.csv"))
    assert res.returncode == 0 and (tmp_path / "n.csv").read_text().splitlines() == ["n", "1"]
