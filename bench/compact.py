"""Query time of the README's example queries on a 1,000-run output, before and after `newsbeam compact`.

    python -m bench.compact [--runs 1000] [--workdir /tmp/newsbeam-compact] [--repeat 3]

One real run over seeds/ is the template; the generator copies its files (tables and _state/) into --runs runs
10 minutes apart (run_id, article_id, story_id and started_at rewritten, so every run is distinct), as months of
`newsbeam follow --every 10m` would leave them. Each query runs --repeat times in a fresh connection per try
(views from the output, as `newsbeam sql` opens them); the script prints the median seconds before and after,
their ratio, the Parquet file counts, the compaction's own time, and whether every query's result is unchanged.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import shutil
import statistics
import time

import duckdb

from pipeline.commit import published_runs
from pipeline.compact import compact
from pipeline.main import run
from pipeline.sql import connect
from schemas.layout import PARQUET_STATES, OutputLayout

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The README's example queries (its stories query reads story_rows: the stories view is one row per story).
QUERIES = {
    "count": "SELECT count(*) FROM articles",
    "by_site": "SELECT site, count(*) FROM articles GROUP BY site",
    "unique": "SELECT title, site FROM articles WHERE duplicate_of IS NULL",
    "canonical": "SELECT title, published_at FROM articles WHERE is_canonical ORDER BY published_at DESC",
    "latest_stories": "SELECT s.title, s.article_count, s.site_count, s.first_published FROM story_rows s "
                      "WHERE run_id = (SELECT max(run_id) FROM runs) ORDER BY article_count DESC LIMIT 20",
    "stories": "SELECT title, article_count, site_count FROM stories ORDER BY article_count DESC, title LIMIT 20",
    "copies": "SELECT c.title, c.duplicate_kind, o.title AS original FROM articles c JOIN articles o "
              "ON c.duplicate_of = o.article_id AND c.run_id = o.run_id",
    "rules": "SELECT rule, count(*) AS lines FROM (SELECT unnest(boilerplate_removed) AS line, "
             "unnest(boilerplate_rules) AS rule FROM articles) GROUP BY rule ORDER BY lines DESC, rule",
    "rejects": "SELECT reason, count(*) FROM rejects GROUP BY reason ORDER BY reason",
}


def _copy(con, src: str, dest: str, run_id: str, suffix: str, started: dt.datetime, columns: set[str]) -> None:
    """One template file copied with this run's identity (ids suffixed so no two runs share an article)."""
    replace = [f"'{run_id}' AS run_id"]
    for col in ("article_id", "story_id", "canonical_article_id", "duplicate_of"):
        if col in columns:
            replace.append(f"{col} || '{suffix}' AS {col}")
    for col in ("started_at", "ended_at", "ingested_at"):
        if col in columns:
            replace.append(f"TIMESTAMPTZ '{started.isoformat()}' AS {col}")
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    con.execute(f"COPY (SELECT * REPLACE ({', '.join(replace)}) FROM read_parquet('{src}')) TO '{dest}' (FORMAT parquet)")


def generate(out: str, runs: int, workdir: str) -> None:
    """A `runs`-run output at `out`, copied from one real run over seeds/."""
    template = os.path.join(workdir, "template")
    if not os.path.isdir(template):
        run(["--input", os.path.join(ROOT, "seeds"), "--output", template, "--run_id", "t"], out=io.StringIO())
    shutil.rmtree(out, ignore_errors=True)
    con = duckdb.connect()
    files = []  # (template file, path relative to a run: {run} stands for the run id)
    for table in ("articles", "stories", "rejects"):
        for name in sorted(os.listdir(os.path.join(template, table, "t"))):
            files.append((os.path.join(template, table, "t", name), f"{table}/{{run}}/{name}"))
    files.append((os.path.join(template, "runs", "t", "run.parquet"), "runs/{run}/run.parquet"))
    for state in PARQUET_STATES:
        path = os.path.join(template, state, "t.parquet")
        if os.path.exists(path):
            files.append((path, f"{state}/{{run}}.parquet"))
    columns = {src: {c[0] for c in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{src}')").fetchall()} for src, _ in files}
    start = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    for i in range(runs):
        started = start + dt.timedelta(minutes=10 * i)
        run_id = started.strftime("%Y%m%dT%H%M%SZ") + f"-{i:06x}"
        for src, rel in files:
            _copy(con, src, os.path.join(out, rel.format(run=run_id)), run_id, f"-{i}", started, columns[src])
    assert len(published_runs(OutputLayout(out))) == runs


def _parquet_files(out: str) -> int:
    n = 0
    for _, _, names in os.walk(out):
        n += sum(1 for f in names if f.endswith(".parquet"))
    return n


def time_queries(out: str, repeat: int) -> tuple[dict, dict]:
    """{query: median seconds} and {query: result} over `repeat` tries, each in a new connection."""
    times, results = {}, {}
    for name, q in QUERIES.items():
        tries = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            rows = connect(out).sql(q).fetchall()
            tries.append(time.perf_counter() - t0)
        times[name], results[name] = statistics.median(tries), sorted(map(repr, rows))
    return times, results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--workdir", default="/tmp/newsbeam-compact")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    out = os.path.join(args.workdir, f"out-{args.runs}")
    t0 = time.perf_counter()
    generate(out, args.runs, args.workdir)
    print(f"generated {args.runs} runs in {time.perf_counter() - t0:.1f}s: {_parquet_files(out)} Parquet files")
    before, results_before = time_queries(out, args.repeat)
    t0 = time.perf_counter()
    done = compact(out, out=io.StringIO(), grace_s=0)  # replaced files gone: the queries below read the new layout only
    took = time.perf_counter() - t0
    print(f"compacted {done['runs']} runs of {done['days']} days in {took:.1f}s: "
          f"{done['files_before']} -> {done['files_after']} files ({_parquet_files(out)} Parquet files in all, with markers)")
    after, results_after = time_queries(out, args.repeat)
    print(f"\n{'query':<16}{'before s':>10}{'after s':>10}{'ratio':>8}  same result")
    for name in QUERIES:
        print(f"{name:<16}{before[name]:>10.3f}{after[name]:>10.3f}{before[name] / after[name]:>8.1f}  "
              f"{results_before[name] == results_after[name]}")
    print(f"{'total':<16}{sum(before.values()):>10.3f}{sum(after.values()):>10.3f}{sum(before.values()) / sum(after.values()):>8.1f}")
    return 0 if results_before == results_after else 1


if __name__ == "__main__":
    raise SystemExit(main())
