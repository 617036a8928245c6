"""Throughput: the whole newsbeam pipeline vs a plain trafilatura loop over the same pages, in the same run.

    python -m bench.throughput --corpus '../shared/eval/extraction-dev/dragnet/input/*.html.gz' --limit 300
    python -m bench.throughput --corpus pages.jsonl -- --workers 1

Each measurement runs in a fresh subprocess (its memory is sampled with its worker processes), pipeline and baseline
alternate, and the medians over --repeat rounds are printed with their ratio. Arguments after
`--` are passed to `newsbeam run` (Beam options such as the running mode).
"""
from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def load_pages(corpus: str, limit: int | None) -> list[bytes | str]:
    """HTML of each page: files matched by a glob, or the `html` field of each line of a .jsonl[.gz] file."""
    pages: list[bytes | str] = []
    if corpus.endswith((".jsonl", ".jsonl.gz")):
        opener = gzip.open if corpus.endswith(".gz") else open
        with opener(corpus, "rt", encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    html = json.loads(line).get("html")
                    if html:
                        pages.append(html)
                if limit and len(pages) >= limit:
                    break
        return pages
    for path in sorted(glob.glob(corpus, recursive=True)):
        with open(path, "rb") as f:
            data = f.read()
        pages.append(gzip.decompress(data) if path.endswith(".gz") else data)
        if limit and len(pages) >= limit:
            break
    return pages


def stage_corpus(corpus: str, limit: int | None, into: str) -> int:
    """Copy the (limited) pages into a folder the pipeline reads; returns the page count."""
    pages = load_pages(corpus, limit)
    for i, page in enumerate(pages):
        data = page.encode("utf-8") if isinstance(page, str) else page
        with open(os.path.join(into, f"{i:06d}.html"), "wb") as f:
            f.write(data)
    return len(pages)


def peak_rss_mb() -> float:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(self_kb, kids_kb) / 1024.0


def worker(kind: str, pages_dir: str, out_dir: str, beam_args: list[str]) -> dict:
    """One measurement in this (fresh) process."""
    files = sorted(glob.glob(os.path.join(pages_dir, "*.html")))
    if kind == "trafilatura":
        import trafilatura

        t0 = time.perf_counter()
        empty = 0
        for path in files:
            with open(path, "rb") as f:
                text = trafilatura.extract(f.read(), fast=True, deduplicate=False)
            empty += not text
        seconds = time.perf_counter() - t0
        return {"seconds": seconds, "pages": len(files), "empty": empty, "peak_mb": peak_rss_mb()}
    from pipeline.main import run

    with open(os.devnull, "w") as devnull:
        t0 = time.perf_counter()
        row = run(["--input", pages_dir, "--output", out_dir, *beam_args], out=devnull)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "pages": len(files), "articles": row["article_count"], "rejects": row["reject_count"], "peak_mb": peak_rss_mb()}


def _children(pid: int) -> list[int]:
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return kids


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (Linux /proc), in MB; 0 where unreadable."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        except OSError:
            continue
        todo.extend(_children(p))
    return total / 1024.0


def measure(kind: str, pages_dir: str, out_root: str, beam_args: list[str], round_no: int) -> dict:
    """One measurement in a fresh subprocess; also samples the memory of its whole process tree (workers included)."""
    out_dir = os.path.join(out_root, f"{kind}-{round_no}")
    cmd = [sys.executable, "-m", "bench.throughput", "--_worker", kind, "--_pages", pages_dir, "--_out", out_dir, "--", *beam_args]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        tree_peak = 0.0
        while proc.poll() is None:
            tree_peak = max(tree_peak, tree_rss_mb(proc.pid))
            time.sleep(0.25)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        sys.stderr.write(stderr[-4000:])
        raise SystemExit(f"{kind} measurement failed")
    shutil.rmtree(out_dir, ignore_errors=True)
    result = json.loads(stdout.strip().splitlines()[-1])
    result["tree_peak_mb"] = tree_peak
    return result


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    beam_args: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, beam_args = argv[:i], argv[i + 1 :]
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", help="glob of .html/.html.gz pages, or a .jsonl[.gz] file with an `html` field")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N pages")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of (pipeline, trafilatura); medians are reported (default 3)")
    parser.add_argument("--_worker", help=argparse.SUPPRESS)
    parser.add_argument("--_pages", help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._worker:
        print(json.dumps(worker(args._worker, args._pages, args._out, beam_args)))
        return 0
    if not args.corpus:
        parser.error("--corpus is required")
    with tempfile.TemporaryDirectory(prefix="newsbeam-bench-") as tmp:
        pages_dir = os.path.join(tmp, "pages")
        os.mkdir(pages_dir)
        n = stage_corpus(args.corpus, args.limit, pages_dir)
        if n == 0:
            raise SystemExit(f"no pages found in {args.corpus}")
        print(f"{n} pages from {args.corpus}; beam args: {' '.join(beam_args) or '(defaults: DirectRunner)'}")
        results: dict[str, list[dict]] = {"pipeline": [], "trafilatura": []}
        for r in range(args.repeat):
            for kind in ("pipeline", "trafilatura") if r % 2 == 0 else ("trafilatura", "pipeline"):
                m = measure(kind, pages_dir, tmp, beam_args, r)
                results[kind].append(m)
                print(f"  round {r + 1} {kind:<12} {m['pages'] / m['seconds']:8.1f} pages/s  {m['seconds']:7.2f}s  "
                      f"peak {m['peak_mb']:.0f} MB largest process, {m['tree_peak_mb']:.0f} MB all processes", flush=True)
    med = {k: statistics.median(x["pages"] / x["seconds"] for x in v) for k, v in results.items()}
    peak = {k: statistics.median(x["peak_mb"] for x in v) for k, v in results.items()}
    tree = {k: statistics.median(x["tree_peak_mb"] for x in v) for k, v in results.items()}
    p = results["pipeline"][0]
    print()
    print(f"{'':<38}{'pages/s':>10}{'peak MB, largest process':>26}{'peak MB, all processes':>24}   (medians)")
    print(f"{'newsbeam pipeline (whole run)':<38}{med['pipeline']:>10.1f}{peak['pipeline']:>26.0f}{tree['pipeline']:>24.0f}")
    print(f"{'trafilatura.extract(fast=True) loop':<38}{med['trafilatura']:>10.1f}{peak['trafilatura']:>26.0f}{tree['trafilatura']:>24.0f}")
    print(f"ratio pipeline / trafilatura loop: {med['pipeline'] / med['trafilatura']:.2f}")
    print(f"pipeline outcome: {p['articles']} articles + {p['rejects']} rejects = {p['articles'] + p['rejects']} of {n} pages; "
          f"trafilatura loop empty outputs: {results['trafilatura'][0]['empty']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
