"""CPU cost of the cleaning stage per page, part by part, against a plain `trafilatura.extract(fast=True)` loop.

    python -m bench.clean_cost --eval-dir ../shared/eval --limit 300 --rounds 3
    python -m bench.clean_cost --eval-dir ../shared/eval --base /tmp/base   # also time another checkout of the code

Pages: the HTML of each dev set (dragnet, fundus, cleanportaleval: a seeded sample of `--limit` per set, as
`bench.quality extraction --limit` takes it) and the same pages' whole-page text dumps (bench.pagetext: the raw-text
path of the extraction bench). Each round runs, per set and in an order that rotates from round to round:

  loop          trafilatura.extract(page bytes, fast=True, deduplicate=False), the baseline
  clean html    clean_article on the decoded page (everything the cleaning stage does for HTML)
    parse       trafilatura's load_html of the page
    metadata    page_metadata (structured data, trafilatura's meta tags, htmldate)
    extraction  flatten_ruby + the main text (trafilatura fast, the second opinion, the JSON-LD body)
    audit       page_blocks + left_out (the HTML audit trail)
    line rules  clean_lines on the extracted text (HTML: line rules and menu blocks)
  clean text    clean_article on the page's text dump
    rules       rule_verdicts on the dump (line rules, layout, title and date pickers)
    line model  apply_line_model on the dump (features and trees)
      features  line_features
      trees     LineModel.keep

Each figure is process CPU time (time.process_time) summed over the timed calls only (the trees a part needs
are parsed outside its timing), in ms per page; the ratio is to the loop of the same round and set. Medians
over rounds are printed. Every round of every code checkout runs in a fresh subprocess (`--base` adds a second
checkout, e.g. `git archive <commit> | tar -x -C /tmp/base`, timed in alternation with this one, each with its
own PYTHONPATH), so old and new code meet the same machine load.

`--dump PATH` writes every cleaned article (HTML and text, dragnet --limit pages and all fundus and
cleanportaleval pages) as JSON lines; `--compare A B` lists the articles that differ between two dumps.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SETS = ("dragnet", "fundus", "cleanportaleval")
HTML_PARTS = ("loop", "clean html", "  parse", "  metadata", "  extraction", "  audit", "  line rules")
TEXT_PARTS = ("clean text", "  rules", "  line model", "    features", "    trees")
PARTS = HTML_PARTS + TEXT_PARTS
_HERE = Path(__file__).resolve()


@dataclasses.dataclass
class Page:
    pid: str
    data: bytes
    html: str
    dump: str
    text: str = ""  # what extract_html gives (for the audit and the line rules)
    title: str | None = None


def load_pages(eval_dir: Path, set_name: str, limit: int | None, seed: int) -> list[Page]:
    from bench.pagetext import page_text
    from bench.quality_extraction import load_set
    from transforms.decoding import decode_html

    return [Page(pid, data, decode_html(data), page_text(data)) for pid, data, _ in load_set(eval_dir, set_name, limit, seed)]


def _raw(page: Page, html: bool):
    from schemas.records import RawArticle

    if html:
        return RawArticle(article_id=page.pid, source_uri=page.pid, input_format="html", content=page.html, is_html=True)
    return RawArticle(article_id=page.pid, source_uri=page.pid, input_format="text", content=page.dump, is_html=False)


def _clear_caches() -> None:
    """Empty the per-line caches of the line predicates (where the code has them), so that no part is timed with
    answers another part left behind: only the repetition within a part's own pages hits them, as in a run."""
    from transforms.clean import rules

    for value in vars(rules).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


def _timed(pages, prepare, run) -> float:
    """CPU seconds of run(page, prepared) summed over the pages; prepare(page) is not timed."""
    _clear_caches()
    total = 0.0
    for page in pages:
        prepared = prepare(page)
        t0 = time.process_time()
        run(page, prepared)
        total += time.process_time() - t0
    return total


def measurements(cfg):
    """{part: (prepare, run)} for every part (see the module docstring)."""
    import trafilatura
    from trafilatura.utils import load_html

    from schemas.rejects import RejectError
    from transforms.clean.article import clean_article
    from transforms.clean.extract import _main_text, page_metadata
    from transforms.clean.html_audit import left_out, page_blocks
    from transforms.clean.line_model import line_features, load_model
    from transforms.clean.lines import apply_line_model, clean_lines, rule_verdicts
    from transforms.clean.prune import flatten_ruby
    from transforms.clean.rules import split_lines, words

    def nothing(page):
        return None

    def clean(raw):
        try:
            clean_article(raw, cfg)
        except RejectError:
            pass

    def tree(page):
        return load_html(page.html)

    def tree_and_meta(page):
        t = load_html(page.html)
        return t, page_metadata(t, None)

    def extraction(page, prepared):
        t, ex = prepared
        flatten_ruby(t)
        _main_text(t, page.html, None, ex, cfg)

    def verdicts(page):
        return rule_verdicts(split_lines(page.dump), cfg, True, None)

    def model_in(page):
        lines, verdict, start, end, _ = verdicts(page)
        return lines, verdict, start, end, line_features(lines, verdict, start, end, cfg)

    lm = load_model()

    def trees(page, prepared):
        lines, verdict, _, _, x = prepared
        if lm is not None and lines:
            lm.keep(x, [v is None for v in verdict], [words(line) for line in lines])

    return {
        "loop": (nothing, lambda p, _: trafilatura.extract(p.data, fast=True, deduplicate=False)),
        "clean html": (lambda p: _raw(p, True), lambda p, raw: clean(raw)),
        "  parse": (nothing, lambda p, _: load_html(p.html)),
        "  metadata": (tree, lambda p, t: page_metadata(t, None)),
        "  extraction": (tree_and_meta, extraction),
        "  audit": (tree, lambda p, t: left_out(page_blocks(t), p.text)),
        "  line rules": (nothing, lambda p, _: clean_lines(split_lines(p.text), cfg, structural=False, known_title=p.title)),
        "clean text": (lambda p: _raw(p, False), lambda p, raw: clean(raw)),
        "  rules": (nothing, lambda p, _: rule_verdicts(split_lines(p.dump), cfg, True, None)),
        "  line model": (verdicts, lambda p, v: apply_line_model(v[0], v[1], v[2], v[3], cfg)),
        "    features": (verdicts, lambda p, v: line_features(v[0], v[1], v[2], v[3], cfg)),
        "    trees": (model_in, trees),
    }


def one_round(eval_dir: Path, limit: int | None, seed: int, sets, rotate: int) -> dict:
    """{set: {part: ms per page}} of one round, parts in an order rotated by `rotate`."""
    import logging

    from schemas.rejects import RejectError
    from transforms.clean import CleanConfig
    from transforms.clean.extract import extract_html

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    logging.getLogger("htmldate").setLevel(logging.CRITICAL)
    cfg = CleanConfig()
    parts = measurements(cfg)
    order = list(PARTS[rotate % len(PARTS):] + PARTS[: rotate % len(PARTS)])
    out = {}
    for set_name in sets:
        pages = load_pages(eval_dir, set_name, limit, seed)
        for page in pages:
            try:
                ex = extract_html(page.html, None, cfg)
                page.text, page.title = ex.text, ex.title
            except RejectError:
                pass
        warm = pages[:5]  # first calls load caches and models
        for part in order:
            _timed(warm, *parts[part])
        figures = {}
        for part in order:
            gc.collect()
            figures[part] = 1000 * _timed(pages, *parts[part]) / len(pages)
        out[set_name] = {"pages": len(pages), "ms": figures}
    return out


def _run_round(code: Path, args, rotate: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(code))
    script = f"import runpy, sys; sys.argv = {['clean_cost']!r} + sys.argv[1:]; runpy.run_path({str(_HERE)!r}, run_name='__main__')"
    cmd = [sys.executable, "-c", script, "--eval-dir", str(args.eval_dir), "--seed", str(args.seed),
           "--sets", ",".join(args.sets), "--one-round", str(rotate)]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    done = subprocess.run(cmd, env=env, cwd=code, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(results: dict[str, list[dict]], sets) -> None:
    labels = list(results)
    for set_name in sets:
        n = results[labels[0]][0][set_name]["pages"]
        print(f"\n{set_name} ({n} pages, median of {len(results[labels[0]])} rounds; ms of CPU per page, ratio to the loop)")
        head = " | ".join(f"{lab} ms | {lab} ratio" for lab in labels)
        print(f"| part | {head} |")
        print("|---|" + "---:|" * (2 * len(labels)))
        for part in PARTS:
            cells = []
            for lab in labels:
                rounds = [r[set_name]["ms"] for r in results[lab]]
                ms = statistics.median(r[part] for r in rounds)
                ratio = statistics.median(r[part] / r["loop"] for r in rounds)
                cells += [f"{ms:.2f}", f"{ratio:.2f}"]
            print(f"| {part.replace('  ', '&nbsp;&nbsp;')} | " + " | ".join(cells) + " |")


# ------------------------------------------------------------------------------------------------
# Output comparison.
# ------------------------------------------------------------------------------------------------

def dump(eval_dir: Path, limit: int | None, seed: int, path: Path) -> int:
    import logging

    from schemas.rejects import RejectError
    from transforms.clean import CleanConfig
    from transforms.clean.article import clean_article

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    cfg = CleanConfig()
    n = 0
    with path.open("w", encoding="utf-8") as out:
        for set_name in SETS:
            for page in load_pages(eval_dir, set_name, limit if set_name == "dragnet" else None, seed):
                for html in (True, False):
                    try:
                        art = dataclasses.asdict(clean_article(_raw(page, html), cfg))
                    except RejectError as e:
                        art = {"reject": str(e.reason), "detail": e.detail}
                    key = f"{set_name}/{page.pid}/{'html' if html else 'text'}"
                    out.write(json.dumps({"key": key, "article": art}, default=str, ensure_ascii=False) + "\n")
                    n += 1
    print(f"{n} articles written to {path}")
    return 0


def compare(a: Path, b: Path) -> int:
    def read(p):
        return {r["key"]: r["article"] for r in map(json.loads, p.open(encoding="utf-8"))}

    old, new = read(a), read(b)
    differ = [k for k in old if old[k] != new.get(k)] + [k for k in new if k not in old]
    for k in differ[:20]:
        fields = sorted(f for f in set(old.get(k, {})) | set(new.get(k, {}))
                        if (old.get(k) or {}).get(f) != (new.get(k) or {}).get(f))
        print(f"{k}: {', '.join(fields)}")
    print(f"{len(old)} articles before, {len(new)} after, {len(differ)} differ")
    return 1 if differ else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.clean_cost", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    ap.add_argument("--limit", type=int, default=None, help="a seeded sample of this many pages per set")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sets", type=lambda s: tuple(s.split(",")), default=SETS)
    ap.add_argument("--base", type=Path, default=None, help="another checkout of the code, timed in alternation")
    ap.add_argument("--one-round", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--dump", type=Path, default=None, help="write the cleaned articles as JSON lines and stop")
    ap.add_argument("--compare", type=Path, nargs=2, default=None, help="list the articles two dumps disagree on")
    args = ap.parse_args(argv)
    args.eval_dir = args.eval_dir.resolve()
    if args.compare:
        return compare(*args.compare)
    if args.dump:
        return dump(args.eval_dir, args.limit, args.seed, args.dump)
    if args.one_round is not None:
        print(json.dumps(one_round(args.eval_dir, args.limit, args.seed, args.sets, args.one_round)))
        return 0
    codes = {"new": _HERE.parent.parent}
    if args.base:
        codes = {"old": args.base.resolve(), **codes}
    results: dict[str, list[dict]] = {label: [] for label in codes}
    for r in range(args.rounds):
        labels = list(codes) if r % 2 == 0 else list(codes)[::-1]
        for label in labels:
            results[label].append(_run_round(codes[label], args, r))
            print(f"round {r + 1} {label} done", file=sys.stderr, flush=True)
    report(results, args.sets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
