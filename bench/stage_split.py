"""Where a run's wall time goes around the cleaning stage: before it, in it, after it (in-process runner).

    python -m bench.stage_split --corpus '../shared/eval/extraction-dev/dragnet/input/*.html.gz' --limit 300 --workers 1 2

Stages the pages as .html files and runs `newsbeam run --workers N` in a fresh process for each N, noting when
CleanArticleFn sees its first page and when its finish_bundle ends. "Before" is planning, building and
submitting the graph and reading up to the first page; "cleaning" is the fused stage that reads and cleans
(what more cleaning processes can spread); "after" is everything behind the learned-template side input
(language, templates, MinHash, terms, stories, Parquet, commit), which runs in the driver alone. The CPU
of the driver and of the cleaning children (reaped when the run ends) is printed beside it.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from bench.throughput import ROOT, load_pages, stage_files


def timed_run(pages_dir: str, out_dir: str, workers: int) -> dict:
    from transforms.clean import transform

    marks: dict = {}
    process, finish = transform.CleanArticleFn.process, transform.CleanArticleFn.finish_bundle

    def first_process(self, raw, element=transform.beam.DoFn.WindowedValueParam):
        marks.setdefault("first", time.monotonic())
        yield from process(self, raw, element)

    def last_finish(self):
        out = list(finish(self) or ())
        marks["done"] = time.monotonic()
        return out

    transform.CleanArticleFn.process, transform.CleanArticleFn.finish_bundle = first_process, last_finish
    try:
        from pipeline.main import run

        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0, c0 = time.monotonic(), time.process_time()
        with open(os.devnull, "w") as devnull:
            row = run(["--input", pages_dir, "--output", out_dir, "--workers", str(workers)], out=devnull)
        t1 = time.monotonic()
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        transform.CleanArticleFn.process, transform.CleanArticleFn.finish_bundle = process, finish
    return {"total": t1 - t0, "before": marks["first"] - t0, "cleaning": marks["done"] - marks["first"], "after": t1 - marks["done"],
            "driver_cpu": time.process_time() - c0,
            "children_cpu": (kids.ru_utime + kids.ru_stime) - (kids0.ru_utime + kids0.ru_stime), "articles": row["article_count"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stage_split", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="glob of .html/.html.gz pages, or a .jsonl[.gz] file with an `html` field")
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--_one", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._one:  # one run in this fresh process
        print(json.dumps(timed_run(args._one[0], args._one[1], int(args._one[2]))))
        return 0
    pages = load_pages(args.corpus, args.limit)
    with tempfile.TemporaryDirectory(prefix="newsbeam-split-") as tmp:
        stage_files(pages, os.path.join(tmp, "files"))
        print(f"{len(pages)} pages; wall seconds (share of the run) and CPU seconds")
        print(f"{'workers':<9}{'total':>8}{'before':>14}{'cleaning':>14}{'after':>14}{'driver cpu':>12}{'children cpu':>14}")
        for workers in args.workers:
            out = os.path.join(tmp, f"out-{workers}")
            cmd = [sys.executable, "-m", "bench.stage_split", "--corpus", args.corpus, "--_one", os.path.join(tmp, "files"), out, str(workers)]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
            r = json.loads(res.stdout.strip().splitlines()[-1])
            shutil.rmtree(out, ignore_errors=True)
            share = {k: f"{r[k]:.1f} ({100 * r[k] / r['total']:.0f}%)" for k in ("before", "cleaning", "after")}
            print(f"{workers:<9}{r['total']:>8.1f}{share['before']:>14}{share['cleaning']:>14}{share['after']:>14}"
                  f"{r['driver_cpu']:>12.1f}{r['children_cpu']:>14.1f}   {r['articles']} articles", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
