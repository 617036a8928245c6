"""`newsbeam report`: one self-contained HTML file of what an output holds, computed from its views.

Every number comes from one SQL query over the views (pipeline/views.py), read-only (pipeline/sql.py): the
same numbers `newsbeam sql` gives. The charts are plotly figures with plotly.js inlined once, so the file
opens from disk with no server and fetches nothing. The sections: totals, stories over time, top stories,
articles per day and per site, languages and input formats, rejects by stage and reason, boilerplate
removed by rule, and the run history.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys

import duckdb

from pipeline import report_page
from pipeline.report_page import HEADLINES, TIMELINE_MAX
from pipeline.sql import check_output, connect, plain
from schemas.records import UTC

_SINCE = re.compile(r"(\d+(?:\.\d+)?)\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str | None, now: dt.datetime) -> dt.datetime | None:
    """`7d`, `12h`, `2w`, `30m` before `now`, or an ISO date/time (UTC unless it says otherwise); None for None."""
    if not text:
        return None
    m = _SINCE.fullmatch(text.strip().lower())
    if m:
        return now - dt.timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since {text!r}: give a duration such as 7d, 12h, 2w, 30m, or a date such as 2024-03-01") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# An article's time: when it was published, else when a run ingested it. A story's: its last published article,
# else the start of the last run that added to it. A run's: its start.
ARTICLES_SINCE = "(SELECT * FROM articles WHERE $since IS NULL OR coalesce(published_at, ingested_at) >= $since)"
STORIES_SINCE = """(SELECT s.* FROM stories s JOIN runs r ON r.run_id = s.last_run_id
                    WHERE $since IS NULL OR coalesce(s.last_published, r.started_at) >= $since)"""
RUNS_SINCE = "(SELECT * FROM runs WHERE $since IS NULL OR started_at >= $since)"
REJECTS_SINCE = f"(SELECT * FROM rejects WHERE run_id IN (SELECT run_id FROM {RUNS_SINCE}))"

QUERIES = {
    "totals": f"""SELECT
        (SELECT count(*) FROM {RUNS_SINCE}) AS runs,
        (SELECT count(*) FROM {ARTICLES_SINCE}) AS articles,
        (SELECT count(*) FROM {ARTICLES_SINCE} WHERE duplicate_of IS NULL) AS unique_articles,
        (SELECT count(*) FROM {STORIES_SINCE}) AS stories,
        (SELECT count(*) FROM {STORIES_SINCE} WHERE article_count > 1) AS stories_of_several,
        (SELECT count(*) FROM {REJECTS_SINCE}) AS rejects,
        (SELECT count(DISTINCT lower(site)) FROM {ARTICLES_SINCE}) AS sites,
        (SELECT min(published_at) FROM {ARTICLES_SINCE}) AS first_published,
        (SELECT max(published_at) FROM {ARTICLES_SINCE}) AS last_published""",
    "timeline": f"""SELECT story_id, title, first_published, last_published, article_count, unique_article_count,
               site_count FROM {STORIES_SINCE} WHERE first_published IS NOT NULL
        ORDER BY article_count DESC, site_count DESC, first_published, story_id LIMIT {TIMELINE_MAX}""",
    "undated_stories": f"SELECT count(*) AS n FROM {STORIES_SINCE} WHERE first_published IS NULL",
    "top_stories": f"""WITH top AS (
          SELECT * FROM {STORIES_SINCE} ORDER BY article_count DESC, site_count DESC, last_published DESC NULLS LAST,
                 story_id LIMIT $top),
        heads AS (
          SELECT a.story_id, list(DISTINCT a.title ORDER BY a.title) AS titles
          FROM {ARTICLES_SINCE} a JOIN top t ON a.story_id = t.story_id
          WHERE a.title IS NOT NULL AND a.title IS DISTINCT FROM t.title GROUP BY a.story_id)
        SELECT t.story_id, t.title, t.article_count, t.unique_article_count, t.site_count, t.first_published,
               t.last_published, coalesce(h.titles[1:{HEADLINES}], []) AS headlines
        FROM top t LEFT JOIN heads h USING (story_id)
        ORDER BY t.article_count DESC, t.site_count DESC, t.last_published DESC NULLS LAST, t.story_id""",
    "per_day": f"""SELECT date_trunc('day', published_at AT TIME ZONE 'UTC')::DATE AS day, count(*) AS articles
        FROM {ARTICLES_SINCE} WHERE published_at IS NOT NULL GROUP BY day ORDER BY day""",
    # The chart's bars: days for up to BAR_DAYS days of articles, else weeks, else months (thin bars do not show).
    "per_period": f"""WITH span AS (SELECT epoch(max(published_at)) - epoch(min(published_at)) AS s FROM {ARTICLES_SINCE})
        SELECT CASE WHEN s <= 86400 * {report_page.BAR_DAYS} THEN 'day'
                    WHEN s <= 86400 * 7 * {report_page.BAR_DAYS} THEN 'week' ELSE 'month' END AS unit,
               date_trunc(unit, published_at AT TIME ZONE 'UTC')::DATE AS period, count(*) AS articles
        FROM {ARTICLES_SINCE}, span WHERE published_at IS NOT NULL GROUP BY ALL ORDER BY period""",
    "undated_articles": f"SELECT count(*) AS n FROM {ARTICLES_SINCE} WHERE published_at IS NULL",
    "per_site": f"""SELECT coalesce(lower(site), '(no site)') AS site, count(*) AS articles,
               count(*) FILTER (WHERE duplicate_of IS NULL) AS unique_articles, count(DISTINCT story_id) AS stories
        FROM {ARTICLES_SINCE} GROUP BY 1 ORDER BY articles DESC, site LIMIT 25""",
    "site_count": f"SELECT count(DISTINCT lower(site)) AS n FROM {ARTICLES_SINCE}",
    "languages": f"""SELECT coalesce(nullif(language, ''), '(unknown)') AS language, count(*) AS articles
        FROM {ARTICLES_SINCE} GROUP BY 1 ORDER BY articles DESC, language""",
    "formats": f"""SELECT input_format, count(*) AS articles FROM {ARTICLES_SINCE} GROUP BY 1 ORDER BY articles DESC,
        input_format""",
    "rejects": f"""SELECT stage, reason, count(*) AS rejects FROM {REJECTS_SINCE} GROUP BY ALL
        ORDER BY rejects DESC, stage, reason""",
    "boilerplate": f"""SELECT rule, count(*) AS lines, count(DISTINCT article_id) AS articles,
               sum(length(line)) AS characters
        FROM (SELECT article_id, unnest(boilerplate_rules) AS rule, unnest(boilerplate_removed) AS line
              FROM {ARTICLES_SINCE})
        GROUP BY rule ORDER BY lines DESC, rule""",
    "runs": f"""SELECT run_id, started_at, input_count AS inputs, file_count AS files, article_count AS articles,
               exact_duplicate_count + near_duplicate_count AS copies, story_count AS stories,
               reject_count AS rejects, epoch(ended_at) - epoch(started_at) AS seconds
        FROM {RUNS_SINCE} ORDER BY started_at, run_id""",
}


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> list[dict]:
    used = {k: v for k, v in params.items() if f"${k}" in sql}
    cur = con.execute(sql, used)
    columns = [d[0] for d in cur.description]
    return [dict(zip(columns, row)) for row in cur.fetchall()]


def gather(con: duckdb.DuckDBPyConnection, since: dt.datetime | None = None, top: int = 20) -> dict:
    """Every section's rows, {name: [row dict]}, from the views on `con`."""
    params = {"since": since, "top": top}
    return {name: _rows(con, sql, params) for name, sql in QUERIES.items()}


def build_report(output: str, since: dt.datetime | None = None, top: int = 20, now: dt.datetime | None = None) -> str:
    """The report of `output` as one HTML document."""
    check_output(output)
    data = gather(connect(output), since, top)
    meta = {"output": os.path.abspath(output) if "://" not in output else output,
            "generated_at": (now or dt.datetime.now(UTC)).isoformat(timespec="seconds"),
            "since": since.isoformat(timespec="seconds") if since else None, "top": top}
    return report_page.render(meta, {k: [{c: plain(v) for c, v in r.items()} for r in rows] for k, rows in data.items()})


def write_text(path: str, text: str) -> None:
    """Write `path` whole or not at all (a temporary file renamed into place); object stores through Beam."""
    if "://" in path:
        from apache_beam.io.filesystems import FileSystems

        with FileSystems.create(path) as f:
            f.write(text.encode("utf-8"))
        return
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def command(argv: list[str]) -> int:
    """`newsbeam report --output out/ [--since 7d] [--top 20] [--to report.html]`: 0 when written, 1 on an error."""
    parser = argparse.ArgumentParser(
        prog="newsbeam report",
        description="Write one self-contained HTML report of an output (opens offline from disk): stories over "
        "time, the top stories, articles per day and per site, languages, rejects by stage and reason, "
        "boilerplate removed by rule, and the run history.",
    )
    parser.add_argument("--output", default="out", help="The output directory of `newsbeam run` (default: out).")
    parser.add_argument("--to", default="report.html", help="The HTML file to write (default: report.html).")
    parser.add_argument("--since", default=None,
                        help="Only what is newer: a duration before now (7d, 12h, 2w, 30m) or a date (2024-03-01). "
                        "Articles count by their published time (else the time they were ingested), stories by "
                        "their last article, runs and their rejects by their start.")
    parser.add_argument("--top", type=int, default=20, help="Stories in the top stories table (default: 20).")
    args = parser.parse_args(argv)
    try:
        since = parse_since(args.since, dt.datetime.now(UTC))
        if args.top < 1:
            raise ValueError("--top must be at least 1")
        html = build_report(args.output, since, args.top)
        write_text(args.to, html)
    except (ValueError, FileNotFoundError, OSError, duckdb.Error) as exc:
        print(f"newsbeam report: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.to} ({len(html.encode('utf-8')) // 1024} KB): open it in a browser, no server needed")
    return 0
