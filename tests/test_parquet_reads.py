"""Every Parquet read of the code runs on the calling thread (transforms/parquet.py says why: with Arrow's thread
pool, a process that read through a Python file object can abort at exit with SIGABRT, exit -6)."""
from __future__ import annotations

import ast
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from transforms.parquet import read_table

ROOT = pathlib.Path(__file__).resolve().parent.parent
READS = {"read_table", "read_row_groups", "read_row_group", "iter_batches"}  # and ParquetFile.read(columns=...)


def _threaded_reads(tree: ast.AST) -> list[int]:
    """Line numbers of Parquet read calls without use_threads=False."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        keywords = {k.arg: k.value for k in node.keywords}
        name = node.func.attr
        if name in READS or (name == "read" and "columns" in keywords):
            off = keywords.get("use_threads")
            if not (isinstance(off, ast.Constant) and off.value is False):
                lines.append(node.lineno)
    return lines


def test_no_parquet_read_of_the_code_uses_arrows_thread_pool():
    found = {}
    for package in ("pipeline", "transforms", "schemas", "newsbeam", "bench"):
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = _threaded_reads(ast.parse(path.read_text(), str(path)))
            if lines:
                found[str(path.relative_to(ROOT))] = lines
    assert not found, f"Parquet reads with Arrow's thread pool (use transforms.parquet.read_table): {found}"


def test_the_check_sees_a_threaded_read():
    assert _threaded_reads(ast.parse("pq.read_table(f)\nparquet.read(columns=['ts'])\nf.read()\n")) == [1, 2]
    assert _threaded_reads(ast.parse("pq.read_table(f, use_threads=False)\n")) == []


def test_read_table_reads_a_file_object_and_its_columns(tmp_path):
    path = str(tmp_path / "t.parquet")
    pq.write_table(pa.table({"url": ["a", "b"], "n": [1, 2]}), path)
    with FileSystems.open(path) as f:
        assert read_table(f, columns=["url"]).to_pylist() == [{"url": "a"}, {"url": "b"}]
