"""Throughput: the whole newsbeam pipeline vs a plain trafilatura loop over the same pages, in the same run.

    python -m bench.throughput --corpus '../shared/eval/extraction-dev/*/input/*.html.gz' --shapes files jsonl warc --workers 1 2
    python -m bench.throughput --corpus pages.jsonl --limit 300 -- --some_beam_option

The pages (HTML files matched by a glob, or the `html` field of a .jsonl[.gz]) are staged once in each
input shape: `files` (one .html file per page), `jsonl` (one JSON Lines file holding every page) and
`warc` (--warc-files record-gzipped WARC files, pages dealt round-robin). Every measurement runs in a
fresh subprocess whose whole process tree's memory is sampled. Each round runs the pipeline for every
(shape, workers), in an order that alternates between rounds, with the trafilatura loop before and after
every pipeline run; a run's ratio is to the mean of the two loops beside it, so a machine whose load
changes (a shared one) moves both sides of a ratio alike. Medians over --repeat rounds are printed.
Besides wall-clock rates, every run's CPU time (user + sys of its whole process tree: driver, worker
processes, cleaning children; the bench is their child subreaper, so each is counted when it ends) is
printed per page, with the "cpu ratio" (the loop's CPU per page over the pipeline's): on a loaded machine
that is the figure to compare between runs, and for one worker it is what the ratio would be on an idle
core. "mem" is the peak resident memory of all processes against the first --workers value's.
"cores" is the CPU time over the wall time: how many cores the run kept busy on average. With `--code this=.
main=/work/main` the pipelines of two checkouts run side by side, alternating, against the same loops.
Arguments after `--` are passed to `newsbeam run`.
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import gzip
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

SHAPES = ("files", "jsonl", "warc")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_pages(corpus: str, limit: int | None) -> list[bytes]:
    """HTML of each page: files matched by a glob, or the `html` field of each line of a .jsonl[.gz] file."""
    pages: list[bytes] = []
    if corpus.endswith((".jsonl", ".jsonl.gz")):
        opener = gzip.open if corpus.endswith(".gz") else open
        with opener(corpus, "rt", encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    html = json.loads(line).get("html")
                    if html:
                        pages.append(html.encode("utf-8"))
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


def stage_files(pages: list[bytes], into: str) -> None:
    os.makedirs(into)
    for i, data in enumerate(pages):
        with open(os.path.join(into, f"{i:06d}.html"), "wb") as f:
            f.write(data)


def stage_jsonl(pages: list[bytes], into: str) -> None:
    """All pages in one JSON Lines file (`id`, `url`, `html`), as a crawl export would hold them."""
    os.makedirs(into)
    with open(os.path.join(into, "pages.jsonl"), "w", encoding="utf-8") as f:
        for i, data in enumerate(pages):
            f.write(json.dumps({"id": f"p{i}", "url": f"https://site{i % 40}.example/news/{i}", "html": data.decode("utf-8", "replace")}) + "\n")


def stage_warc(pages: list[bytes], into: str, files: int) -> None:
    """The pages as HTTP 200 response records in `files` record-gzipped WARC files (round-robin)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    os.makedirs(into)
    with contextlib.ExitStack() as stack:
        outs = [stack.enter_context(open(os.path.join(into, f"part-{k:03d}.warc.gz"), "wb")) for k in range(files)]
        writers = [WARCWriter(o, gzip=True) for o in outs]
        for i, data in enumerate(pages):
            w = writers[i % files]
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            uri = f"https://site{i % 40}.example/news/{i}"
            w.write_record(w.create_warc_record(uri, "response", payload=io.BytesIO(data), http_headers=http))


def peak_rss_mb() -> float:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(self_kb, kids_kb) / 1024.0


def worker(kind: str, pages_dir: str, out_dir: str, beam_args: list[str]) -> dict:
    """One measurement in this (fresh) process: the loop over the staged .html files, or the pipeline over `pages_dir`."""
    if kind == "trafilatura":
        import trafilatura

        files = sorted(glob.glob(os.path.join(pages_dir, "*.html")))
        setup_cpu = _cpu(resource.getrusage(resource.RUSAGE_SELF))
        t0 = time.perf_counter()
        empty = 0
        for path in files:
            with open(path, "rb") as f:
                text = trafilatura.extract(f.read(), fast=True, deduplicate=False)
            empty += not text
        seconds = time.perf_counter() - t0
        return {"seconds": seconds, "pages": len(files), "empty": empty, "peak_mb": peak_rss_mb(), "setup_cpu_s": setup_cpu}
    from pipeline.main import run

    with open(os.devnull, "w") as devnull:
        setup_cpu = _cpu(resource.getrusage(resource.RUSAGE_SELF))
        t0 = time.perf_counter()
        row = run(["--input", pages_dir, "--output", out_dir, *beam_args], out=devnull)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "articles": row["article_count"], "rejects": row["reject_count"], "peak_mb": peak_rss_mb(),
            "setup_cpu_s": setup_cpu}


def _children(pid: int) -> list[int]:
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.extend(int(x) for x in f.read().split())
    except OSError:
        pass
    return kids


def tree_rss_mb(pid: int, include_root: bool = True) -> float:
    """Resident memory of a process and all its descendants (Linux /proc), in MB; 0 where unreadable."""
    total, todo = 0, [pid] if include_root else _children(pid)
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        except OSError:
            continue
        todo.extend(_children(p))
    return total / 1024.0


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants (Linux prctl PR_SET_CHILD_SUBREAPER): a worker
    whose parent exits without waiting for it is re-parented here, so its CPU time is still counted. False
    where that is not available."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _cpu(usage) -> float:
    return usage.ru_utime + usage.ru_stime


def measure(kind: str, pages_dir: str, out_dir: str, beam_args: list[str], code: str = ROOT) -> dict:
    """One measurement in a fresh subprocess; also samples the memory of its whole process tree (workers included)
    and sums the CPU time (user + sys) of every process of that tree: each process's rusage reaches us when it is
    waited for, by its parent or (once orphaned) by this subreaper process. `code`: the checkout whose pipeline
    (and bench worker) runs."""
    cmd = [sys.executable, "-m", "bench.throughput", "--_worker", kind, "--_pages", pages_dir, "--_out", out_dir, "--", *beam_args]
    env = dict(os.environ, PYTHONPATH=code)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, cwd=code, env=env)
        tree_peak, cpu, status, deadline = 0.0, 0.0, None, 0.0
        while True:
            tree_peak = max(tree_peak, tree_rss_mb(os.getpid(), include_root=False))
            while True:  # reap whatever ended: the measured process and any orphans of its tree
                try:
                    pid, st, usage = os.wait4(-1, os.WNOHANG)
                except ChildProcessError:
                    pid = 0
                if not pid:
                    break
                cpu += _cpu(usage)
                if pid == proc.pid:
                    status = st
            if status is not None:
                left = _children(os.getpid())
                if not left:
                    break
                if time.monotonic() > deadline:  # orphans that outlived the run by a minute: end them, count them
                    for pid in left:
                        with contextlib.suppress(OSError):
                            os.kill(pid, 9)
            else:
                deadline = time.monotonic() + 60
            time.sleep(0.25)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        sys.stderr.write(stderr[-4000:])
        raise SystemExit(f"{kind} measurement failed")
    shutil.rmtree(out_dir, ignore_errors=True)
    result = json.loads(stdout.strip().splitlines()[-1])
    result["tree_peak_mb"] = tree_peak
    result["cpu_s"] = cpu - result.pop("setup_cpu_s")  # the timed part: without the interpreter's start and imports
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
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported (default 3)")
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=["files"], help="input shapes to run (default: files)")
    parser.add_argument("--workers", nargs="+", type=int, default=[0],
                        help="`newsbeam run --workers` values to run side by side (default: 0, the automatic choice)")
    parser.add_argument("--warc-files", type=int, default=4, help="WARC files the pages are dealt into (default 4)")
    parser.add_argument("--code", nargs="+", default=[f"this={ROOT}"], metavar="LABEL=CHECKOUT",
                        help="checkouts whose pipelines run side by side, alternating, e.g. this=. main=/work/main "
                        "(default: this one)")
    parser.add_argument("--_worker", help=argparse.SUPPRESS)
    parser.add_argument("--_pages", help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._worker:
        print(json.dumps(worker(args._worker, args._pages, args._out, beam_args)))
        return 0
    if not args.corpus:
        parser.error("--corpus is required")
    pages = load_pages(args.corpus, args.limit)
    if not pages:
        raise SystemExit(f"no pages found in {args.corpus}")
    n = len(pages)
    if not become_subreaper():
        print("note: not a child subreaper here: CPU time of worker processes nobody waits for is not counted", flush=True)
    with tempfile.TemporaryDirectory(prefix="newsbeam-bench-") as tmp:
        dirs = {"files": os.path.join(tmp, "files")}
        stage_files(pages, dirs["files"])
        if "jsonl" in args.shapes:
            dirs["jsonl"] = os.path.join(tmp, "jsonl")
            stage_jsonl(pages, dirs["jsonl"])
        if "warc" in args.shapes:
            dirs["warc"] = os.path.join(tmp, "warc")
            stage_warc(pages, dirs["warc"], args.warc_files)
        del pages
        mb = sum(os.path.getsize(os.path.join(dirs["files"], f)) for f in os.listdir(dirs["files"])) / 1e6
        print(f"{n} pages ({mb:.0f} MB of HTML) from {args.corpus}; shapes {' '.join(args.shapes)}; workers {' '.join(map(str, args.workers))}; "
              f"beam args: {' '.join(beam_args) or '(none)'}", flush=True)
        codes = dict(c.split("=", 1) for c in args.code)
        runs = [(label, shape, w) for shape in args.shapes for w in args.workers for label in codes]
        results: dict[tuple, list[dict]] = {r: [] for r in runs}
        loops: list[dict] = []

        def loop() -> dict:
            m = measure("trafilatura", dirs["files"], os.path.join(tmp, "out"), [])
            m["rate"] = n / m["seconds"]
            loops.append(m)
            print(f"  {'trafilatura loop':<28} {m['rate']:8.1f} pages/s  {m['seconds']:7.2f}s  cpu {1000 * m['cpu_s'] / n:.1f} ms/page", flush=True)
            return m

        # The loop runs before and after every pipeline run: each run's ratio is to the mean of the two loops
        # beside it, so a change in the machine's load between runs moves both sides.
        before = loop()
        for r in range(args.repeat):
            for key in runs if r % 2 == 0 else runs[::-1]:
                label, shape, workers = key
                extra = ["--workers", str(workers)] if workers else []
                m = measure("pipeline", dirs[shape], os.path.join(tmp, "out"), [*extra, *beam_args], os.path.abspath(codes[label]))
                m["rate"] = n / m["seconds"]
                after = loop()
                m["ratio"] = m["rate"] / ((before["rate"] + after["rate"]) / 2)
                m["cpu_ratio"] = ((before["cpu_s"] + after["cpu_s"]) / 2) / m["cpu_s"]
                before = after
                results[key].append(m)
                print(f"  round {r + 1} {_name(key, codes):<28} {m['rate']:8.1f} pages/s  {m['seconds']:7.2f}s  "
                      f"ratio {m['ratio']:.2f}  cpu {1000 * m['cpu_s'] / n:.1f} ms/page (cpu ratio {m['cpu_ratio']:.2f}, "
                      f"cores {m['cpu_s'] / m['seconds']:.2f})  "
                      f"peak {m['peak_mb']:.0f} MB largest process, {m['tree_peak_mb']:.0f} MB all processes", flush=True)
    med = lambda got, field: statistics.median(m[field] for m in got)  # noqa: E731
    print()
    print("ratio: pages/s against the mean of the loop runs just before and after; cpu: user+sys seconds of the whole process")
    print("tree (driver, workers, children) per page; cpu ratio: the loop's cpu per page over the pipeline's (what a ratio")
    print("would be on idle cores with one worker); cores: cpu over wall time (cores busy on average); mem: peak resident")
    print("memory of all processes against the first --workers value's (same checkout)")
    print(f"{'':<40}{'pages/s':>9}{'ratio':>7}{'cpu ms/page':>13}{'cpu ratio':>11}{'cores':>7}{'peak MB':>9}{'mem':>7}"
          f"{'outcome':>32}   (medians)")
    print(f"{'trafilatura.extract(fast=True) loop':<40}{med(loops, 'rate'):>9.1f}{'':>7}{1000 * med(loops, 'cpu_s') / n:>13.1f}{'':>11}"
          f"{statistics.median(m['cpu_s'] / m['seconds'] for m in loops):>7.2f}"
          f"{med(loops, 'tree_peak_mb'):>9.0f}{'':>7}{str(loops[0]['empty']) + ' empty outputs':>32}")
    for key in runs:
        label, shape, workers = key
        got = results[key]
        first = med(results[(label, shape, args.workers[0])], "tree_peak_mb")
        outcome = f"{got[0]['articles']} articles + {got[0]['rejects']} rejects"
        print(f"{_name(key, codes):<40}{med(got, 'rate'):>9.1f}{med(got, 'ratio'):>7.2f}"
              f"{1000 * med(got, 'cpu_s') / n:>13.1f}{med(got, 'cpu_ratio'):>11.2f}"
              f"{statistics.median(m['cpu_s'] / m['seconds'] for m in got):>7.2f}{med(got, 'tree_peak_mb'):>9.0f}"
              f"{med(got, 'tree_peak_mb') / first:>6.2f}x{outcome:>32}")
    for label in codes:
        for shape in args.shapes:
            if len(args.workers) > 1:
                base = med(results[(label, shape, args.workers[0])], "ratio")
                rest = ", ".join(f"workers {w}: {med(results[(label, shape, w)], 'ratio') / base:.2f}x"
                                 for w in args.workers[1:])
                print(f"{(label + ' ') if len(codes) > 1 else ''}{shape}: against workers {args.workers[0] or 'auto'}, {rest} "
                      "(ratio of ratios)")
    return 0


def _name(key: tuple, codes: dict) -> str:
    label, shape, workers = key
    return f"{label + ' ' if len(codes) > 1 else ''}pipeline {shape} workers {workers or 'auto'}"


if __name__ == "__main__":
    sys.exit(main())
