"""Scale of dedup + story assignment: 10k and 100k synthetic articles through the real pipeline.

    python -m bench.scale [--sizes 10000 100000] [--workdir /tmp/newsbeam-scale] [-- extra `newsbeam run` options]

The generator writes realistic-looking news JSONL: events (a kind of event, a place, named people and
organisations, a date) covered by 1 to 30 articles over one to three days, sentences mixing the
event's names, words of its kind and common words drawn from a Zipf law, titles, a few exact and
syndicated near copies, and many one-article stories. Each size runs `newsbeam run` in a fresh
process (pipeline.main.run, default DirectRunner) that reports its wall time and peak RSS; the
script also samples the resident memory of the run's whole process tree (worker processes included) and
prints all of them, the story and copy counts, and the time ratio between the largest and smallest
size against the linear ratio (target: 100k <= 12x the time of 10k).

`--stages` runs only copies and stories (FindCopies and GroupStories, as the pipeline builds them) on the
generated records taken as they are (no reading of files, cleaning or Parquet): what those two stages cost
at a size, and, from the runner's stage starts, the wall time of the clustering stages (ClusterEvents)
alone, so that `-- --workers 1` and `-- --workers 2` show what a second worker gives the stories stage.

Memory guard: a run whose process tree passes `--max-rss-gb` (default 12) is killed, with all its
processes, and reported as "killed at limit" (the machine is shared; a run must never take it all).
`--trace` also writes, per size, the sampled memory (driver and whole tree) next to the runner's
stage starts (`<workdir>/trace-<n>.tsv`), which shows the stage where memory goes.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

from bench.throughput import _children, tree_rss_mb

SYL = ("ka", "lo", "mi", "ren", "tas", "vo", "del", "an", "is", "mor", "bel", "tu", "gra", "sen", "pol", "ri", "cha", "ves")


def word(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(SYL) for _ in range(n))


def vocabulary(rng: random.Random):
    common = sorted({word(rng, rng.randint(1, 3)) for _ in range(6000)})
    kinds = [sorted({word(rng, 3) for _ in range(40)}) for _ in range(300)]
    return common, kinds


def zipf_pick(rng: random.Random, items: list, s: float = 1.1):
    i = min(int(rng.paretovariate(s)) - 1, len(items) - 1)
    return items[i]


def event(rng: random.Random, common, kinds, start: dt.datetime) -> dict:
    return {
        "kind": rng.choice(kinds),
        # Names and places come from a space (18**5 words) far larger than the common and kind words
        # (up to 3 syllables), so that, as in real news, the people and places of an event are rare terms
        # at 100k articles too (with 3-syllable names every name was also a kind word at 100k).
        "names": [word(rng, 2).capitalize() + " " + word(rng, 5).capitalize() for _ in range(rng.randint(2, 5))],
        "place": word(rng, 5).capitalize(),
        "day": start + dt.timedelta(days=rng.uniform(0, 90)),
        "size": min(int(rng.paretovariate(1.2)), 30),
    }


def sentence(rng, ev, common) -> str:
    ws = []
    for _ in range(rng.randint(10, 24)):
        r = rng.random()
        if r < 0.12:
            ws.append(rng.choice(ev["names"]))
        elif r < 0.16:
            ws.append(ev["place"])
        elif r < 0.35:
            ws.append(rng.choice(ev["kind"]))
        else:
            ws.append(zipf_pick(rng, common))
    return (" ".join(ws) + ".").capitalize()


def article(rng, ev, common, i: int, label: str) -> dict:
    paras = [" ".join(sentence(rng, ev, common) for _ in range(rng.randint(2, 4))) for _ in range(rng.randint(3, 7))]
    when = ev["day"] + dt.timedelta(hours=rng.uniform(0, 48))
    title = f"{rng.choice(ev['names'])} {rng.choice(ev['kind'])} in {ev['place']}"
    return {
        "id": f"a{i}",
        "title": title,
        "text": "\n\n".join(paras),
        "published": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "site": f"site{rng.randint(1, 400)}.example",
        "event": label,
    }


def near_copy(rng, rec: dict, i: int) -> dict:
    paras = rec["text"].split("\n\n")
    if len(paras) > 3 and rng.random() < 0.5:
        paras = paras[:-1]
    paras.append("This article was syndicated from a partner outlet.")
    return {**rec, "id": f"a{i}", "title": "UPDATE: " + rec["title"], "text": "\n\n".join(paras), "site": f"site{rng.randint(1, 400)}.example"}


def generate(n: int, path: str, seed: int = 7) -> None:
    """Write n articles to path (JSONL, each with its gold `event`); about 8% exact or near copies."""
    rng = random.Random(seed)
    common, kinds = vocabulary(rng)
    start = dt.datetime(2024, 1, 1)
    written, recent, k = 0, [], 0
    with open(path, "w", encoding="utf-8") as out:
        while written < n:
            ev = event(rng, common, kinds, start)
            k += 1
            for _ in range(max(ev["size"], 1)):
                if written >= n:
                    break
                r = rng.random()
                if recent and r < 0.03:
                    rec = {**rng.choice(recent), "id": f"a{written}"}
                elif recent and r < 0.08:
                    rec = near_copy(rng, rng.choice(recent), written)
                else:
                    rec = article(rng, ev, common, written, f"e{k}")
                    recent = (recent + [rec])[-200:]
                out.write(json.dumps(rec) + "\n")
                written += 1


class _StageTrace:
    """A logging handler that appends (wall time, runner stage) to a file each time the runner starts a stage."""

    def __init__(self, path: str):
        import logging

        self.file = open(path, "w", encoding="utf-8")  # noqa: SIM115 (closed at exit)
        self.last = None
        outer = self

        class Handler(logging.Handler):
            def emit(self, record):
                stage = str(record.args[0]) if record.args else record.getMessage()
                if stage != outer.last:
                    outer.last = stage
                    outer.file.write(f"{time.time():.2f}\tstage\t{stage[:300]}\n")
                    outer.file.flush()

        log = logging.getLogger("apache_beam.runners.portability.fn_api_runner.fn_runner.run_bundle")
        log.setLevel(logging.DEBUG)
        log.addHandler(Handler(logging.DEBUG))


def child(path: str, out_dir: str, extra: list[str], trace: str | None = None) -> None:
    """Run the pipeline once in this process and print wall time, peak RSS and counts as JSON."""
    import io
    import resource

    from pipeline.main import run

    if trace:
        _StageTrace(trace)
    t0 = time.monotonic()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    row = run(["--input", path, "--output", out_dir, "--run_id", "scale", *extra], out=io.StringIO())
    seconds = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime for a, b in zip(cpu0, cpu1))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Quality at this size (after timing): B-cubed F1 of story_id against the generator's event labels.
    import duckdb

    from bench.quality_events import bcubed, load_gold

    gold = load_gold(path)
    pred = dict(duckdb.connect().execute(
        f"SELECT input_id, story_id FROM read_parquet('{out_dir}/articles/scale/*.parquet')").fetchall())
    # An article missing from the output is scored as a story of its own and counted as missing.
    missing = sum(1 for i in gold if i not in pred)
    b3 = bcubed({i: pred.get(i, "missing:" + i) for i in gold}, gold)
    print(json.dumps({"seconds": seconds, "cpu_s": cpu, "peak_mb": peak_mb, "stories": row["story_count"], "events": len(set(gold.values())),
                      "b3": b3, "missing": missing,
                      "exact": row["exact_duplicate_count"], "near": row["near_duplicate_count"], "articles": row["article_count"]}))


def proc_failed(stdout: str) -> bool:
    """The child printed no JSON result line (it failed)."""
    lines = stdout.strip().splitlines()
    return not lines or not lines[-1].startswith("{")


def guarded(cmd: list[str], out, err, limit_mb: float, trace: str | None = None) -> tuple[float, bool]:
    """Run cmd in a session of its own, sampling its whole process tree's RSS; kill the whole session the moment
    it reaches limit_mb. Returns (peak MB of the tree, killed?). With `trace`, writes (time, driver MB, tree MB)
    samples merged with the child's stage starts (`trace + '.stages'`) to `trace`."""
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, start_new_session=True)
    peak, killed, samples = 0.0, False, []
    try:
        while proc.poll() is None:
            tree = tree_rss_mb(proc.pid)
            peak = max(peak, tree)
            if trace:
                samples.append(f"{time.time():.2f}\tmb\t{rss_mb(proc.pid):.0f}\t{tree:.0f}")
            if tree >= limit_mb:
                killed = True
                kill_tree(proc)
                break
            time.sleep(0.25)
    finally:
        if proc.poll() is None:  # interrupted: never leave the run behind
            kill_tree(proc)
    if trace:
        stages = []
        if os.path.exists(trace + ".stages"):
            with open(trace + ".stages", encoding="utf-8") as f:
                stages = f.read().splitlines()
        with open(trace, "w", encoding="utf-8") as f:
            f.write("\n".join(sorted(samples + stages, key=lambda line: float(line.split("\t", 1)[0]))) + "\n")
    return peak, killed


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL the run's session and every descendant of it (a worker in a session of its own too)."""
    todo, pids = [proc.pid], []
    while todo:
        p = todo.pop()
        pids.append(p)
        todo.extend(_children(p))
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    for p in pids:
        with contextlib.suppress(OSError):
            os.kill(p, signal.SIGKILL)
    proc.wait()


def rss_mb(pid: int) -> float:
    """Resident memory of one process in MB (0 when gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0) / 1024.0
    except OSError:
        return 0.0


def clean_article_of(line: str):
    """A generated record as the CleanArticle the cleaning stage would make of it (text taken as it is)."""
    from schemas.records import CleanArticle
    from transforms.dates import parse_date
    from transforms.fingerprints import comparison_text, content_hash

    r = json.loads(line)
    return CleanArticle(article_id=r["id"], source_uri="generated", input_format="jsonl", text=r["text"], input_id=r["id"],
                        site=r["site"], title=r["title"], published_at=parse_date(r["published"]), language="en",
                        content_hash=content_hash(comparison_text(r["text"], r["title"])))


def stages_child(path: str, out_dir: str, extra: list[str], trace: str) -> None:
    """Copies + stories only, on the generated records; prints seconds, CPU, peak RSS, clustering seconds and B3."""
    import glob
    import resource

    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    from bench.quality_events import bcubed, load_gold
    from pipeline import local
    from transforms.copies import FindCopies
    from transforms.stories import GroupStories

    workers = int(extra[extra.index("--workers") + 1]) if "--workers" in extra else 1
    _StageTrace(trace)
    options = PipelineOptions([])
    runner = local.in_process_runner(options) if workers == 1 else local.process_runner(options, workers, os.path.join(out_dir, "workers.log"))
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.monotonic()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with beam.Pipeline(runner=runner, options=options) as p:
        articles = p | "Read" >> beam.io.ReadFromText(path) | "Articles" >> beam.Map(clean_article_of)
        copies = articles | "FindCopies" >> FindCopies()
        stories = {"articles": articles, "copies": copies["copies"]} | "GroupStories" >> GroupStories()
        (stories["articles"] | "Verdicts" >> beam.Map(lambda r: f"{r[0].input_id}\t{r[1].story_id}\t{r[1].duplicate_kind or ''}")
         | "WriteVerdicts" >> beam.io.WriteToText(os.path.join(out_dir, "verdicts")))
    seconds = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(b.ru_utime + b.ru_stime - a.ru_utime - a.ru_stime for a, b in zip(cpu0, cpu1))
    pred, exact, near = {}, 0, 0
    for f in glob.glob(os.path.join(out_dir, "verdicts*")):
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                aid, sid, kind = line.rstrip("\n").split("\t")
                pred[aid] = sid
                exact += kind == "exact"
                near += kind == "near"
    gold = load_gold(path)
    missing = sum(1 for i in gold if i not in pred)
    b3 = bcubed({i: pred.get(i, "missing:" + i) for i in gold}, gold)
    print(json.dumps({"seconds": seconds, "cpu_s": cpu, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "clustering_s": stage_seconds(trace, "ClusterEvents"), "stories": len(set(pred.values())),
                      "events": len(set(gold.values())), "b3": b3, "missing": missing, "exact": exact, "near": near, "articles": len(pred)}))


def stage_seconds(stages_file: str, needle: str) -> float:
    """Wall seconds of the runner stages whose name holds `needle` (a stage lasts until the next one starts)."""
    with open(stages_file, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t", 2) for line in f]
    rows.append([f"{time.time():.2f}", "stage", ""])
    return sum(float(b[0]) - float(a[0]) for a, b in zip(rows, rows[1:]) if needle in a[2])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workdir", default="/tmp/newsbeam-scale")
    parser.add_argument("--max-rss-gb", type=float, default=12.0,
                        help="kill a run (its whole process tree) whose resident memory reaches this many GB (default 12)")
    parser.add_argument("--trace", action="store_true", help="write memory samples and runner stage starts per size")
    parser.add_argument("--stages", action="store_true", help="copies and stories only, on the generated records (no read, clean, write)")
    parser.add_argument("--child", nargs=2, metavar=("INPUT", "OUTPUT"), help=argparse.SUPPRESS)
    parser.add_argument("--child-trace", help=argparse.SUPPRESS)
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    if args.child and args.stages:
        stages_child(*args.child, extra, args.child_trace)
        return 0
    if args.child:
        child(*args.child, extra, args.child_trace)
        return 0
    os.makedirs(args.workdir, exist_ok=True)
    results = {}
    for n in args.sizes:
        path = os.path.join(args.workdir, f"articles-{n}.jsonl")
        if not os.path.exists(path):
            generate(n, path)
        out_dir = os.path.join(args.workdir, f"out-{n}-{int(time.time())}")
        trace = os.path.join(args.workdir, f"trace-{n}.tsv") if args.trace or args.stages else None
        cmd = [sys.executable, "-m", "bench.scale", "--child", path, out_dir, *(["--child-trace", trace + ".stages"] if trace else []),
               *(["--stages"] if args.stages else []), "--", *extra]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            tree_peak, killed = guarded(cmd, out, err, args.max_rss_gb * 1024, trace)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        if killed:
            print(f"{n:>8} articles  killed at limit: the process tree reached {tree_peak:.0f} MB (--max-rss-gb {args.max_rss_gb:g})",
                  flush=True)
            return 3
        if proc_failed(stdout):
            sys.stderr.write(stderr[-3000:])
            return 1
        results[n] = json.loads(stdout.strip().splitlines()[-1])
        r = results[n]
        stage = f"copies + stories only, clustering stages {r['clustering_s']:.1f} s, " if args.stages else ""
        print(f"{n:>8} articles  {stage}{r['seconds']:>8.1f} s ({r['cpu_s']:.0f} s CPU, workers included)  peak RSS {r['peak_mb']:>7.0f} MB driver, {tree_peak:>7.0f} MB all processes  "
              f"{r['stories']} stories ({r['events']} events, B3 P/R/F1 {r['b3'][0]:.3f}/{r['b3'][1]:.3f}/{r['b3'][2]:.3f}), "
              f"{r['exact']} exact + {r['near']} near copies", flush=True)
        if r["missing"]:
            print(f"  ERROR: {r['missing']} of {n} input articles are missing from the articles table", flush=True)
    if len(results) >= 2:
        lo, hi = min(results), max(results)
        ratio = results[hi]["seconds"] / results[lo]["seconds"]
        print(f"\ntime {hi}/{lo}: {ratio:.1f}x for {hi / lo:.0f}x the articles (target <= 12x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
