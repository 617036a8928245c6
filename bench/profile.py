"""Where the time goes per page: the whole pipeline under cProfile on the in-process runner, by step.

    python -m bench.profile --corpus '../shared/eval/extraction-dev/dragnet/input/*.html.gz' --limit 400 --shapes files jsonl warc

The pages are staged in each input shape as bench.throughput does, and `newsbeam run --workers 1` runs
on each under cProfile in a fresh process; HTML is cleaned in a child process (the page time limit,
transforms/clean/timeout.py), which is profiled too (NEWSBEAM_CHILD_PROFILE) and merged in. The table gives, per shape, the milliseconds per page of each
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
import time

from bench.throughput import load_pages, stage_files, stage_jsonl, stage_warc

# (row, [(file path fragment, function name)]): a row's time is the sum of the inclusive times of its functions.
STEPS = [
    ("reading + decoding (files, JSONL lines, WARC records)", [("transforms/read/transform.py", "process")]),
    ("cleaning, all of it (clean_article, in the child)", [("transforms/clean/article.py", "clean_article")]),
    ("  extraction (trafilatura bare_extraction)", [("trafilatura/core.py", "bare_extraction")]),
    ("  metadata (page_metadata: title, date, author)", [("transforms/clean/extract.py", "page_metadata")]),
    ("  HTML audit trail (page_blocks, left_out)", [("transforms/clean/html_audit.py", "page_blocks"), ("transforms/clean/html_audit.py", "left_out")]),
    ("  line rules and layout (clean_lines)", [("transforms/clean/lines.py", "clean_lines")]),
    ("cleaning child: pages in, articles out (pickle, pipe)", [("transforms/clean/timeout.py", "_read"), ("transforms/clean/timeout.py", "_write")]),
    ("language (py3langid)", [("transforms/clean/extract.py", "detect_language"), ("transforms/clean/extract.py", "load_language_identifier")]),
    ("  of which loading its model (once)", [("transforms/clean/extract.py", "load_language_identifier")]),
    ("learned templates", [("transforms/clean/templates.py", "template_candidates"), ("transforms/clean/templates.py", "remove_learned_template")]),
    ("hashing / MinHash (SignatureFn)", [("transforms/copies/transform.py", "process")]),
    ("TF-IDF term counts", [("transforms/stories/terms.py", "term_counts")]),
    ("TF-IDF vectors", [("transforms/stories/vectors.py", "tfidf_vector")]),
    ("blocks and pair scores", [("transforms/stories/blocking.py", "block_pairs")]),
    ("average linkage", [("transforms/stories/linkage.py", "average_linkage")]),
    ("Parquet writing (pyarrow write_table)", [("pyarrow/parquet/core.py", "write_table")]),
    ("runner shuffles and buffers (in the driver)", [("fn_api_runner/execution.py", "append"), ("fn_api_runner/execution.py", "partition")]),
    ("setting up bundles (operations per stage)", [("runners/worker/bundle_processor.py", "BundleProcessor.__init__")]),
    ("building the Beam graph (pipeline.main.build)", [("pipeline/main.py", "build")]),
    ("submitting it (Pipeline.to_runner_api)", [("apache_beam/pipeline.py", "Pipeline.to_runner_api")]),
]


def _matches(key: tuple, fragment: str, name: str) -> bool:
    """A pstats key (file, line, function) is `name` in a file whose path holds `fragment`; "Class.method" names
    one method of a file where several classes have it (the first such definition at or after the class line)."""
    path, line, func = key
    if fragment not in path:
        return False
    if "." not in name:
        return func == name
    cls, method = name.split(".", 1)
    return func == method and _class_of(path, line) == cls


def _class_of(path: str, line: int) -> str | None:
    """The class whose body holds line `line` of the source file `path` (None where unknown)."""
    import linecache

    for n in range(line, 0, -1):
        text = linecache.getline(path, n)
        if text.startswith("class "):
            return text[6:].split("(")[0].split(":")[0].strip()
    return None


def step_seconds(stats_paths: list[str]) -> tuple[dict[str, float], float]:
    """{row: seconds} and the run's total seconds (each process's own total, summed) from cProfile dumps."""
    merged = pstats.Stats(*stats_paths).stats
    total = sum(max(v[3] for v in pstats.Stats(path).stats.values()) for path in stats_paths)
    rows = {}
    for name, funcs in STEPS:
        # a function that calls itself (a recursive walk) is counted once: cProfile's cumulative time already is
        rows[name] = sum(v[3] for key, v in merged.items() for frag, fn in funcs if _matches(key, frag, fn))
    return rows, total


def profile_run(pages_dir: str, out_dir: str, dump: str) -> dict:
    """One profiled `newsbeam run --workers 1` in this (fresh) process."""
    from pipeline.main import run

    profiler = cProfile.Profile(time.process_time)  # CPU time: waiting (for the child, for the machine) is not counted
    with open(os.devnull, "w") as devnull:
        profiler.enable()
        row = run(["--input", pages_dir, "--output", out_dir, "--workers", "1"], out=devnull)
        profiler.disable()
    profiler.dump_stats(dump)
    return {"articles": row["article_count"], "rejects": row["reject_count"]}


def _child_dumps(tmp: str, shape: str, wait_s: float = 30.0) -> list[str]:
    """The cleaning children's profile dumps of one run (a child writes its own when its input closes)."""
    import glob

    deadline = time.monotonic() + wait_s
    while True:
        found = sorted(glob.glob(os.path.join(tmp, f"{shape}-child-*.prof")))
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


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
            env = dict(os.environ, NEWSBEAM_CHILD_PROFILE=os.path.join(tmp, f"{shape}-child"))
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                                  cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr[-4000:])
                raise SystemExit(f"profiled run on {shape} failed")
            outcome = json.loads(proc.stdout.strip().splitlines()[-1])
            children = _child_dumps(tmp, shape)
            results[shape] = (*step_seconds([dump, *children]), outcome)
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
