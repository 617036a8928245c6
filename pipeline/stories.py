"""`newsbeam stories`: the biggest or newest stories of an output, one line each, from the `stories` view."""
from __future__ import annotations

import argparse
import datetime as dt
import sys

import duckdb

from pipeline.report import STORIES_SINCE, parse_since
from pipeline.sql import FORMATS, check_output, connect, display, terminal_width, truncate, write_rows
from schemas.records import UTC

ORDERS = {
    "size": "article_count DESC, site_count DESC, last_published DESC NULLS LAST, story_id",
    "newest": "last_published DESC NULLS LAST, article_count DESC, story_id",
}
COLUMNS = ("story_id", "title", "article_count", "unique_article_count", "site_count", "first_published",
           "last_published", "run_count")


def top_stories(con: duckdb.DuckDBPyConnection, top: int = 20, since: dt.datetime | None = None,
                order: str = "size") -> tuple[list[str], list[tuple]]:
    """(columns, rows) of the `top` biggest (or newest) stories whose last article is at or after `since`."""
    cur = con.execute(f"SELECT {', '.join(COLUMNS)} FROM {STORIES_SINCE} ORDER BY {ORDERS[order]} LIMIT $top",
                      {"since": since, "top": top})
    return [d[0] for d in cur.description], cur.fetchall()


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "-"


def _span(first: dt.datetime | None, last: dt.datetime | None) -> str:
    if not first or not last:
        return "-"
    hours = (last - first).total_seconds() / 3600
    return f"{hours:.0f}h" if hours < 48 else f"{hours / 24:.0f}d"


def story_lines(rows: list[tuple], width: int = 100) -> list[str]:
    """One line per story: articles, unique, sites, last published, span, title cut to fit `width`."""
    head = f"{'#':>3} {'arts':>5} {'uniq':>5} {'sites':>5}  {'last published':<16} {'span':>5}  title"
    fixed = len(head) - len("title")
    lines = [head, "-" * min(width, max(len(head), 80))]
    for i, (_, title, n, unique, sites, first, last, _runs) in enumerate(rows, 1):
        text = truncate(display(title) or "(untitled)", max(width - fixed, 10))
        lines.append(f"{i:>3} {n:>5} {unique:>5} {sites:>5}  {_when(last):<16} {_span(first, last):>5}  {text}")
    return lines


def command(argv: list[str]) -> int:
    """`newsbeam stories --output out/ [--top 20] [--since 2d] [--sort size|newest] [--format table|csv|json|jsonl]`."""
    parser = argparse.ArgumentParser(
        prog="newsbeam stories",
        description="The biggest (or newest) stories of an output, one line each: articles, unique articles (not a copy "
        "of another), sites, when the last article was published, the story's span and its canonical title.",
    )
    parser.add_argument("--output", default="out", help="The output directory of `newsbeam run` (default: out).")
    parser.add_argument("--top", type=int, default=20, help="How many stories (default: 20).")
    parser.add_argument("--since", default=None, help="Only stories whose last article is newer: a duration before now "
                        "(2d, 12h, 1w, 30m) or a date (2024-03-01).")
    parser.add_argument("--sort", choices=tuple(ORDERS), default="size",
                        help="size: most articles first (default); newest: latest article first.")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="table (one line per story, cut to the terminal's width), csv, json (one array) or jsonl.")
    args = parser.parse_args(argv)
    try:
        check_output(args.output)
        since = parse_since(args.since, dt.datetime.now(UTC))
        if args.top < 1:
            raise ValueError("--top must be at least 1")
        columns, rows = top_stories(connect(args.output), args.top, since, args.sort)
    except (ValueError, FileNotFoundError, duckdb.Error) as exc:
        print(f"newsbeam stories: error: {exc}", file=sys.stderr)
        return 1
    if args.format != "table":
        write_rows(columns, rows, args.format, sys.stdout)
        return 0
    if not rows:
        print("no stories" + (f" with an article since {args.since}" if args.since else ""))
        return 0
    print("\n".join(story_lines(rows, terminal_width())))
    return 0
