"""A cycle's cost against history: time and peak memory of one incremental run of 100 new articles into an empty
output, and into outputs already holding 100,000 and 1,000,000 articles (issue 12, item 4: at most 2x the time
and 1 GB more memory than into the empty output).

    python -m bench.cycle [--sizes 0 100000 1000000] [--new 100] [--workdir /tmp/newsbeam-cycle]

History is generated, not run: one real run over `bench.scale`'s generator (1,000 articles, seed 7) is the
template, and its articles table, signatures and story_terms state are copied into 10 runs holding --sizes
articles in all (ids and content hashes suffixed per copy, so no two copies are copies of each other; each copy's
publication times shifted back by 91 days more than the last, so the history is older than the story window of
the new articles). The new cycle is 100 articles of the same generator with another seed. Each measurement runs
`newsbeam run` in a fresh process over a fresh copy of the history and reports wall time and peak RSS.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import time

TEMPLATE_ARTICLES = 1000
HISTORY_RUNS = 10


def child(path: str, out: str) -> None:
    import resource

    from pipeline.main import run

    t0 = time.monotonic()
    row = run(["--input", path, "--output", out], out=io.StringIO())
    seconds = time.monotonic() - t0
    print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "articles": row["article_count"], "earlier_copies": row["earlier_copy_count"],
                      "continued": row["continued_story_count"]}))


def _template(workdir: str) -> str:
    from bench.scale import generate
    from pipeline.main import run

    out = os.path.join(workdir, "template")
    if not os.path.isdir(out):
        path = os.path.join(workdir, "template.jsonl")
        generate(TEMPLATE_ARTICLES, path, seed=7)
        run(["--input", path, "--output", out, "--run_id", "t", "--standalone"], out=io.StringIO())
    return out


def history(workdir: str, size: int) -> str:
    """An output holding `size` articles in HISTORY_RUNS published runs (generated from the template)."""
    import duckdb

    out = os.path.join(workdir, f"history-{size}")
    if os.path.isdir(out) or size == 0:
        return out
    template = _template(workdir)
    per_run = max(1, size // TEMPLATE_ARTICLES // HISTORY_RUNS)
    con = duckdb.connect()
    day = 91 * 86400
    for i in range(HISTORY_RUNS):
        run_id = f"h{i:02d}"
        k = f"(r.k + {i * per_run})"
        sfx = f"'-' || {k}"
        targets = {
            f"articles/{run_id}/part-0.parquet": (
                f"{template}/articles/t/*.parquet",
                f"article_id || {sfx} AS article_id, story_id || {sfx} AS story_id, content_hash || {sfx} AS content_hash, "
                f"duplicate_of || {sfx} AS duplicate_of, published_at - to_seconds(({k} + 1) * {day}) AS published_at",
            ),
            f"_state/signatures/{run_id}.parquet": (
                f"{template}/_state/signatures/*.parquet", f"article_id || {sfx} AS article_id, story_id || {sfx} AS story_id"),
            f"_state/story_terms/{run_id}.parquet": (
                f"{template}/_state/story_terms/*.parquet",
                f"article_id || {sfx} AS article_id, story_id || {sfx} AS story_id, ts - ({k} + 1) * {day} AS ts"),
            f"runs/{run_id}/run.parquet": (f"{template}/runs/t/run.parquet", None),
        }
        for rel, (src, replace) in targets.items():
            dest = os.path.join(out, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if replace is None:
                con.execute(f"COPY (SELECT * REPLACE ('{run_id}' AS run_id) FROM read_parquet('{src}')) TO '{dest}' (FORMAT parquet)")
            else:
                con.execute(f"COPY (SELECT * REPLACE ('{run_id}' AS run_id, {replace}) FROM read_parquet('{src}'), "
                            f"range({per_run}) r(k)) TO '{dest}' (FORMAT parquet)")
    n = con.execute(f"SELECT count(*) FROM read_parquet('{out}/articles/*/*.parquet')").fetchone()[0]
    print(f"generated history of {n} articles in {HISTORY_RUNS} runs at {out}", flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cycle", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[0, 100_000, 1_000_000])
    ap.add_argument("--new", type=int, default=100)
    ap.add_argument("--workdir", default="/tmp/newsbeam-cycle")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    from bench.scale import generate

    os.makedirs(args.workdir, exist_ok=True)
    new = os.path.join(args.workdir, f"new-{args.new}.jsonl")
    if not os.path.exists(new):
        generate(args.new, new, seed=99)
    results = {}
    for size in args.sizes:
        src = history(args.workdir, size)
        out = os.path.join(args.workdir, f"cycle-{size}")
        shutil.rmtree(out, ignore_errors=True)
        if size:
            shutil.copytree(src, out)
        proc = subprocess.run([sys.executable, "-m", "bench.cycle", "--child", new, out], capture_output=True, text=True)
        if proc.returncode:
            sys.stderr.write(proc.stderr[-3000:])
            return proc.returncode
        results[size] = r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{size:>9} earlier articles: {r['seconds']:6.1f} s  peak RSS {r['peak_mb']:6.0f} MB  "
              f"({r['articles']} articles, {r['earlier_copies']} copies of earlier ones, {r['continued']} continued stories)",
              flush=True)
    base = results.get(0)
    if base:
        for size, r in results.items():
            if size:
                print(f"{size:>9}: {r['seconds'] / base['seconds']:.2f}x the time, {r['peak_mb'] - base['peak_mb']:+.0f} MB "
                      f"against the empty output (target <= 2x, <= +1024 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
