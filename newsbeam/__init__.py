"""newsbeam for notebooks and scripts: run a job, open its output in DuckDB, get stories and articles as tables.

    import newsbeam
    row = newsbeam.run(["seeds/", "https://example.org/a.html"], output="out")   # the run's `runs` row
    con = newsbeam.connect("out")                  # DuckDB with the views: articles, stories, rejects, runs, ...
    top = newsbeam.stories("out", top=20)          # a pyarrow.Table; .to_pandas() for a pandas DataFrame
    arts = newsbeam.articles("out", since="7d")    # a pyarrow.Table of the current articles
    newsbeam.report("out", to="report.html")       # the self-contained HTML report

A thin facade over the `newsbeam` command's modules (pipeline/): the same options, views and read-only rules.
See docs/python-api.md.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import sys
import tempfile
from collections.abc import Iterable

import duckdb
import pyarrow as pa

from pipeline import __version__
from pipeline import report as _report
from pipeline import sql as _sql
from pipeline import stories as _stories
from pipeline.main import UsageError
from pipeline.main import run as _run
from schemas.records import UTC

__all__ = ["UsageError", "__version__", "articles", "connect", "report", "run", "sql", "stories"]

_URL_SCHEMES = ("http://", "https://")


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | os.PathLike):
        return [os.fspath(value)]
    return [os.fspath(v) for v in value]


def option_args(options: dict) -> list[str]:
    """Keyword options as command-line flags: `near_threshold=0.8` -> --near_threshold 0.8, `standalone=True` ->
    --standalone (False leaves it out), a list repeats the flag."""
    argv: list[str] = []
    for key, value in options.items():
        flag = "--" + key
        if value is True:
            argv.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, list | tuple):
            for v in value:
                argv += [flag, str(v)]
        else:
            argv += [flag, str(value)]
    return argv


def run(inputs: str | Iterable[str] = (), output: str = "out", *, feeds=None, sitemaps=None, urls=None,
        quiet: bool = True, **options) -> dict:
    """Run one newsbeam job and return its `runs` row (a dict: run_id, input_count, article_count, story_count, ...).

    `inputs`: files, directories, globs, and http(s) URLs of article pages (fetched like a --urls file).
    `feeds`, `sitemaps`: feed (file or URL) and sitemap URLs; `urls`: text files of article URLs.
    `**options`: any `newsbeam run` option by its name, e.g. standalone=True, near_threshold=0.8, workers=1.
    `quiet=False` prints the run's summary. Raises UsageError for bad options, as the command exits 2.
    """
    items = _as_list(inputs)
    pages = [i for i in items if i.lower().startswith(_URL_SCHEMES)]
    argv = [a for i in items if i not in pages for a in ("--input", i)] + ["--output", os.fspath(output)]
    argv += option_args({"feeds": _as_list(feeds), "sitemap": _as_list(sitemaps), "urls": _as_list(urls)})
    argv += option_args(options)
    with contextlib.ExitStack() as stack:
        if pages:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="newsbeam-urls-"))
            listing = os.path.join(folder, "urls.txt")
            with open(listing, "w", encoding="utf-8") as f:
                f.write("\n".join(pages) + "\n")
            argv += ["--urls", listing]
        return _run(argv, out=io.StringIO() if quiet else sys.stdout)


def connect(output: str = "out") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the output's views (runs, articles, stories, rejects, article_rows, story_rows).
    File access is limited to the output folder and the configuration is locked; write files with
    `newsbeam export` or from the DataFrames."""
    _sql.check_output(output)
    return _sql.connect(os.fspath(output))


def sql(output: str, query: str) -> pa.Table:
    """The rows of a read-only query (SELECT, EXPLAIN) over the output's views, as a pyarrow.Table."""
    con = connect(output)
    _sql.check_read_only(con, query)
    return con.sql(query).to_arrow_table()


def _since(since: str | dt.datetime | None) -> dt.datetime | None:
    if isinstance(since, dt.datetime):
        return since if since.tzinfo else since.replace(tzinfo=UTC)
    return _report.parse_since(since, dt.datetime.now(UTC))


def stories(output: str = "out", top: int | None = 20, since: str | dt.datetime | None = None,
            order: str = "size") -> pa.Table:
    """The biggest (order="size") or newest (order="newest") stories as a pyarrow.Table, one row per story across
    runs, like `newsbeam stories`; `top=None` returns every story; `since` as "2d", "12h" or a datetime."""
    con = connect(output)
    where = _stories.ORDERS[order]
    limit = "" if top is None else f" LIMIT {int(top)}"
    return con.sql(f"SELECT * FROM {_report.STORIES_SINCE} ORDER BY {where}{limit}",
                   params={"since": _since(since)}).to_arrow_table()


def articles(output: str = "out", since: str | dt.datetime | None = None, columns: Iterable[str] | None = None) -> pa.Table:
    """The current articles (one row per article_id) as a pyarrow.Table, published (else ingested) at or after
    `since`; `columns` picks some columns (default: all)."""
    con = connect(output)
    cols = ", ".join('"' + c.replace('"', '""') + '"' for c in columns) if columns else "*"
    return con.sql(f"SELECT {cols} FROM {_report.ARTICLES_SINCE} ORDER BY published_at NULLS LAST, article_id",
                   params={"since": _since(since)}).to_arrow_table()


def report(output: str = "out", to: str = "report.html", since: str | dt.datetime | None = None, top: int = 20) -> str:
    """Write the self-contained HTML report of `output` to `to`; returns `to`."""
    html = _report.build_report(os.fspath(output), _since(since), top)
    _report.write_text(os.fspath(to), html)
    return os.fspath(to)
