"""trafilatura's in-page author search against transforms/clean/author_search.py: same answers, and the CPU each
costs per page, in one process, the two interleaved.

    python -m bench.author_search --eval-dir ../shared/eval --sets dragnet --rounds 5

For every page of the sets (`--limit`: a seeded sample per set, as `bench.quality extraction --limit` takes it)
both functions run on the element `read_structured` searches (the page, or the <article>/<main> around its
<h1> when a structured source credited only the publication) and on the whole page; any answer that differs
is printed and makes the exit status 1. Timing: process CPU time (`time.process_time`) of each call, on the
pages where `read_structured` runs the search (no structured data names a person), the two functions
alternating which goes first from page to page and round to round; per page the median over `--rounds`,
then the median and the mean over pages.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

SETS = ("dragnet", "fundus", "cleanportaleval")


def searched_scopes(tree) -> list:
    """The elements read_structured hands to the page search for this tree (none when a source names a person)."""
    from transforms.clean import structured

    seen: list = []
    original = structured.page_search_authors

    def spy(scope):
        seen.append(scope)
        return original(scope)

    structured.page_search_authors = spy
    try:
        structured.read_structured(tree)
    finally:
        structured.page_search_authors = original
    return seen


def _cpu(fn, arg) -> tuple[float, object]:
    t0 = time.process_time()
    out = fn(arg)
    return time.process_time() - t0, out


def main(argv=None) -> int:
    from trafilatura.metadata import extract_author
    from trafilatura.utils import load_html

    from bench.quality_extraction import load_set
    from transforms.clean.author_search import EXACT, search_author
    from transforms.decoding import decode_html

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    if not EXACT:
        print("author_search is not the translated path here (another trafilatura): nothing to compare")
        return 1
    differ = 0
    for set_name in args.sets.split(","):
        pages = load_set(args.eval_dir, set_name, args.limit, args.seed)
        trees = [(pid, load_html(decode_html(data))) for pid, data, _ in pages]
        trees = [(pid, tree) for pid, tree in trees if tree is not None]
        timed = []  # (pid, scope) where the pipeline searches
        checked = 0
        for pid, tree in trees:
            scopes = searched_scopes(tree)
            timed += [(pid, s) for s in scopes]
            for scope in [tree, *(s for s in scopes if s is not tree)]:
                old, new = extract_author(scope), search_author(scope)
                checked += 1
                if old != new:
                    differ += 1
                    print(f"DIFFER {set_name}/{pid} <{scope.tag}>: trafilatura {old!r}, new {new!r}")
        per_page = {"old": [[] for _ in timed], "new": [[] for _ in timed]}
        found = 0
        for r in range(args.rounds):
            for k, (_, scope) in enumerate(timed):
                order = (("old", extract_author), ("new", search_author))
                if (k + r) % 2:
                    order = order[::-1]
                for name, fn in order:
                    dt, out = _cpu(fn, scope)
                    per_page[name][k].append(dt)
                    found += bool(out) and name == "new" and r == 0
        med = {name: [statistics.median(ts) * 1000 for ts in rows] for name, rows in per_page.items()}
        print(f"{set_name}: {len(trees)} pages, {checked} searches compared, {len(timed)} pages searched by "
              f"read_structured ({found} with a find)")
        if timed:
            for stat, fn in (("median", statistics.median), ("mean", statistics.fmean)):
                old, new = fn(med["old"]), fn(med["new"])
                print(f"  {stat} ms per searched page: trafilatura {old:.3f}, new {new:.3f}, ratio {new / old:.3f}")
    print(f"{differ} answers differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
