"""Where the time goes per page: the whole pipeline under cProfile on the in-process runner, by step.

    python -m bench.profile --corpus '../shared/eval/extraction-dev/dragnet/input/*.html.gz' --limit 400 --shapes files jsonl warc

The pages are staged in each input shape as bench.throughput does, and `newsbeam run --workers 1` runs
on each under cProfile in a fresh process. The table gives, per shape, the milliseconds per page of each
step (inclusive time of the functions that do it) and its share of the run. cProfile slows Python code
more than C code (lxml, numpy), so shares are the figure to read, not the absolute times; the fixed
cost per run (building and submitting the Beam graph, loading the language model) is spread over the
pages, so it weighs more on a small --limit.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile

from bench.throughput import load_pages, stage_files, stage_jsonl, stage_warc

# (row, [(file path fragment, function name)]): a row's time is the sum of the inclusive times of its functions.
STEPS = [
    ("reading + decoding (files, JSONL lines, WARC records)", [("transforms/read/transform.py", "process")]),
    ("extraction (trafilatura bare_extraction)", [("trafilatura/core.py", "bare_extraction")]),
    ("metadata (page_metadata: title, date, author)", [("transforms/clean/extract.py", "page_metadata")]),
    ("extraction adapter (extract_html)", [("transforms/clean/extract.py", "extract_html")]),
    ("line rules and layout (clean_lines)", [("transforms/clean/lines.py", "clean_lines")]),
    ("cleaning, all of it (clean_article)", [("transforms/clean/article.py", "clean_article")]),
    ("language (py3langid)", [("transforms/clean/extract.py", "detect_language")]),
    ("  of which loading its model (once)", [("py3langid/langid.py", "_load_identifier")]),
    ("learned templates", [("transforms/clean/templates.py", "template_candidates"), ("transforms/clean/templates.py", "remove_learned_template")]),
    ("hashing / MinHash (SignatureFn)", [("transforms/copies/transform.py", "process")]),
    ("TF-IDF term counts", [("transforms/stories/vectors.py", "term_counts")]),
    ("TF-IDF vectors", [("transforms/stories/vectors.py", "tfidf_vector")]),
    ("blocks and pair scores", [("transforms/stories/blocking.py", "block_pairs")]),
    ("average linkage", [("transforms/stories/linkage.py", "average_linkage")]),
    ("Parquet writing (pyarrow write_table)", [("pyarrow/parquet/core.py", "write_table")]),
    ("runner shuffles and buffers (in the driver)", [("fn_api_runner/execution.py", "append"), ("fn_api_runner/execution.py", "partition")]),
    ("building the Beam graph (pipeline.main.build)", [("pipeline/main.py", "build")]),
    ("submitting it (Pipeline.to_runner_api)", [("apache_beam/pipeline.py", "to_runner_api")]),
]


def step_seconds(stats_path: str) -> tuple[dict[str, float], float]:
    """{row: seconds} and the run's total seconds from a cProfile dump."""
    stats = pstats.Stats(stats_path).stats
    total = max(v[3] for v in stats.values())
    rows = {}
    for name, funcs in STEPS:
        rows[name] = sum(v[3] for (path, _, func), v in stats.items() for frag, fn in funcs if func == fn and frag in path)
    return rows, total


def profile_run(pages_dir: str, out_dir: str, dump: str) -> dict:
    """One profiled `newsbeam run --workers 1` in this (fresh) process."""
    from pipeline.main import run

    profiler = cProfile.Profile()
    with open(os.devnull, "w") as devnull:
        profiler.enable()
        row = run(["--input", pages_dir, "--output", out_dir, "--workers", "1"], out=devnull)
        profiler.disable()
    profiler.dump_stats(dump)
    return {"articles": row["article_count"], "rejects": row["reject_count"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", help="glob of .html/.html.gz pages, or a .jsonl[.gz] file with an `html` field")
    parser.add_argument("--limit", type=int, default=400, help="use only the first N pages (default 400)")
    parser.add_argument("--shapes", nargs="+", choices=("files", "jsonl", "warc"), default=["files", "jsonl", "warc"])
    parser.add_argument("--warc-files", type=int, default=4, help="WARC files the pages are dealt into (default 4)")
    parser.add_argument("--_run", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._run:
        print(json.dumps(profile_run(*args._run)))
        return 0
    if not args.corpus:
        parser.error("--corpus is required")
    pages = load_pages(args.corpus, args.limit)
    n = len(pages)
    results = {}
    with tempfile.TemporaryDirectory(prefix="newsbeam-profile-") as tmp:
        for shape in args.shapes:
            where = os.path.join(tmp, shape)
            {"files": stage_files, "jsonl": stage_jsonl}.get(shape, lambda p, d: stage_warc(p, d, args.warc_files))(pages, where)
            dump = os.path.join(tmp, f"{shape}.prof")
            cmd = [sys.executable, "-m", "bench.profile", "--_run", where, os.path.join(tmp, f"out-{shape}"), dump]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-4000:])
                raise SystemExit(f"profiled run on {shape} failed")
            outcome = json.loads(proc.stdout.strip().splitlines()[-1])
            results[shape] = (*step_seconds(dump), outcome)
            print(f"{shape}: {outcome['articles']} articles + {outcome['rejects']} rejects of {n} pages, "
                  f"{results[shape][1]:.1f} s under cProfile", flush=True)
    print()
    print("| step | " + " | ".join(f"{s} ms/page | {s} share" for s in results) + " |")
    print("|---|" + "---:|---:|" * len(results))
    for name, _ in STEPS:
        cells = " | ".join(f"{rows[name] * 1000 / n:.1f} | {100 * rows[name] / total:.0f}%" for rows, total, _ in results.values())
        print(f"| {name} | {cells} |")
    print("| whole run | " + " | ".join(f"{total * 1000 / n:.1f} | 100%" for _, total, _ in results.values()) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
