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
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time

from bench.throughput import tree_rss_mb

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


def child(path: str, out_dir: str, extra: list[str]) -> None:
    """Run the pipeline once in this process and print wall time, peak RSS and counts as JSON."""
    import io
    import resource

    from pipeline.main import run

    t0 = time.monotonic()
    row = run(["--input", path, "--output", out_dir, "--run_id", "scale", *extra], out=io.StringIO())
    seconds = time.monotonic() - t0
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
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "stories": row["story_count"], "events": len(set(gold.values())),
                      "b3": b3, "missing": missing,
                      "exact": row["exact_duplicate_count"], "near": row["near_duplicate_count"], "articles": row["article_count"]}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workdir", default="/tmp/newsbeam-scale")
    parser.add_argument("--child", nargs=2, metavar=("INPUT", "OUTPUT"), help=argparse.SUPPRESS)
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    if args.child:
        child(*args.child, extra)
        return 0
    os.makedirs(args.workdir, exist_ok=True)
    results = {}
    for n in args.sizes:
        path = os.path.join(args.workdir, f"articles-{n}.jsonl")
        if not os.path.exists(path):
            generate(n, path)
        out_dir = os.path.join(args.workdir, f"out-{n}-{int(time.time())}")
        cmd = [sys.executable, "-m", "bench.scale", "--child", path, out_dir, "--", *extra]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
            tree_peak = 0.0  # the run's whole process tree (worker processes included), sampled
            while proc.poll() is None:
                tree_peak = max(tree_peak, tree_rss_mb(proc.pid))
                time.sleep(0.5)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        if proc.returncode != 0:
            sys.stderr.write(stderr[-3000:])
            return proc.returncode
        results[n] = json.loads(stdout.strip().splitlines()[-1])
        r = results[n]
        print(f"{n:>8} articles  {r['seconds']:>8.1f} s  peak RSS {r['peak_mb']:>7.0f} MB driver, {tree_peak:>7.0f} MB all processes  "
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
