"""Extraction benchmark: the pipeline's own output vs plain trafilatura, on labelled pages.

    python -m bench.quality extraction --eval-dir ../shared/eval [--sets fundus,dragnet,cleanportaleval] [--limit N]

For each dev set it runs, in one process:
  * plain trafilatura.extract loops (default, fast=True, favor_precision=True) as baselines;
  * other published extractors, each where installed (requirements-bench.txt): readability-lxml, jusText,
    resiliparse, boilerpy3, goose3, newspaper4k; then the per-page best of all systems, a ceiling for any
    method that picks among them;
  * the pipeline (`pipeline.main.run`) on the pages as .html files, reading `articles.text` back
    from the Parquet output with DuckDB; a page the pipeline rejects counts as empty output;
  * the raw-text path: each page's whole visible text (bench.pagetext) as a .txt file through the
    pipeline, plus the unclean dump itself as the floor.
Scores are 4-token shingle P/R/F1, macro-averaged over pages (see ../shared/eval/README.md). A set with metadata
gold (fundus `meta/`) also gets body F1 per language (those with LANG_MIN_PAGES pages or more) and title, day,
time-of-day and author accuracy of the pipeline beside trafilatura's own metadata and htmldate
(bench/quality_metadata.py).
Throughput of the pipeline is its wall time against the trafilatura fast loop on the same pages.
"""
from __future__ import annotations

import argparse
import gzip
import html as html_lib
import io
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.quality_metadata import UTC, htmldate_meta, load_meta, meta_cells, meta_header, score_meta, trafilatura_meta

SETS = ("fundus", "dragnet", "cleanportaleval")
# Per-language rows are printed for languages with at least this many pages (sets with gold meta/ only).
LANG_MIN_PAGES = 5
COMMENTS_MARK = "!@#$%^&*()  COMMENTS"
# A few gold files spell the marker with a typo ("@#$%^&*() COMMENTS", a tab, ...): accept those too.
_COMMENTS_LINE = re.compile(r"(?m)^[!@#$%^&*()\s]{3,}COMMENTS\s*$")
_TOKEN = re.compile(r"\w+")


# ----------------------------------------------------------------------------------------------
# Scoring (the README's rule, exactly).
# ----------------------------------------------------------------------------------------------


def shingles(text: str, n: int = 4) -> Counter:
    """Bag of overlapping n-token shingles; a text shorter than n tokens is one shingle of what it has."""
    tokens = _TOKEN.findall(text or "")
    if len(tokens) < n:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def page_counts(gold: str, pred: str) -> tuple[float, float, float]:
    """(tp, fp, fn) of one page, normalised by their sum so every page weighs the same."""
    g, p = shingles(gold), shingles(pred)
    tp = sum((g & p).values())
    fp = sum(p.values()) - tp
    fn = sum(g.values()) - tp
    s = tp + fp + fn
    return (tp / s, fp / s, fn / s) if s else (0.0, 0.0, 0.0)


def score(pairs: list[tuple[str, str]]) -> tuple[float, float, float]:
    """Macro P, R and F1 over (gold, prediction) pairs."""
    counts = [page_counts(g, p) for g, p in pairs]
    precs = [tp / (tp + fp) for tp, fp, fn in counts if tp + fp > 0]
    recs = [tp / (tp + fn) for tp, fp, fn in counts if tp + fn > 0]
    p = statistics.mean(precs) if precs else 0.0
    r = statistics.mean(recs) if recs else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


# ----------------------------------------------------------------------------------------------
# Data.
# ----------------------------------------------------------------------------------------------


def decode_gold(data: bytes) -> str:
    """Text of a gold file: most are UTF-8, a few dragnet files are UTF-16 (with a BOM) or Windows-1252."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def read_gold(set_name: str, text: str) -> str:
    if set_name == "fundus":
        return text
    if set_name == "dragnet":
        m = _COMMENTS_LINE.search(text)
        return text[: m.start()] if m else text
    lines = text.splitlines()
    if lines and lines[0].startswith("URL:"):
        lines = lines[1:]
    body = "\n".join(lines)
    body = re.sub(r"(?m)^\s*<[phl]>", "", body)
    return html_lib.unescape(body)


def load_set(eval_dir: Path, set_name: str, limit: int | None, seed: int) -> list[tuple[str, bytes, str]]:
    """[(page id, html bytes, gold text)] for one set, optionally a seeded sample of `limit` pages."""
    base = eval_dir / "extraction-dev" / set_name
    ids = sorted(p.name[: -len(".html.gz")] for p in (base / "input").glob("*.html.gz"))
    if limit and limit < len(ids):
        ids = sorted(random.Random(seed).sample(ids, limit))
    out = []
    for pid in ids:
        data = gzip.decompress((base / "input" / f"{pid}.html.gz").read_bytes())
        gold = decode_gold((base / "gold" / f"{pid}.txt").read_bytes())
        out.append((pid, data, read_gold(set_name, gold)))
    return out


# ----------------------------------------------------------------------------------------------
# Systems.
# ----------------------------------------------------------------------------------------------

BASELINES = {
    "trafilatura default": {},
    "trafilatura fast": {"fast": True},
    "trafilatura precision": {"favor_precision": True},
}


# Published extractors scored beside newsbeam, when installed (pip install -r requirements-bench.txt). Each gets
# the decoded page and returns plain text; readability returns HTML, turned into lines by bench.pagetext.
def _readability(html: str) -> str:
    from readability import Document

    from bench.pagetext import page_text

    return page_text(Document(html).summary().encode("utf-8"))


def _justext(html: str) -> str:
    import justext

    return "\n".join(p.text for p in justext.justext(html.encode("utf-8"), justext.get_stoplist("English")) if not p.is_boilerplate)


def _resiliparse(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    return extract_plain_text(HTMLTree.parse(html), main_content=True)


def _boilerpy3(html: str) -> str:
    from boilerpy3 import extractors

    return extractors.ArticleExtractor(raise_on_failure=False).get_content(html)


def _goose3(html: str) -> str:
    from goose3 import Goose

    return Goose().extract(raw_html=html).cleaned_text


def _newspaper4k(html: str) -> str:
    import newspaper

    article = newspaper.Article("http://example.invalid/", fetch_images=False)
    article.download(input_html=html)  # sets the page; nothing is fetched
    article.parse()
    return article.text


# (name, module that must be importable, function)
REFERENCES = (
    ("readability-lxml", "readability", _readability),
    ("jusText", "justext", _justext),
    ("resiliparse", "resiliparse", _resiliparse),
    ("boilerpy3 (boilerpipe)", "boilerpy3", _boilerpy3),
    ("goose3", "goose3", _goose3),
    ("newspaper4k", "newspaper", _newspaper4k),
)


def run_reference(pages, fn) -> tuple[dict[str, str], float, int]:
    """({page id: text}, seconds, pages that raised) for one reference extractor; a failure is empty output."""
    import logging
    import warnings

    from transforms.decoding import decode_html

    out, failed = {}, 0
    t0 = time.perf_counter()
    logging.disable(logging.WARNING)  # per-page parser and date warnings of these libraries
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for pid, data, _ in pages:
                try:
                    out[pid] = fn(decode_html(data)) or ""
                except Exception:  # noqa: BLE001 - a library failing on a page scores as empty output
                    out[pid], failed = "", failed + 1
    finally:
        logging.disable(logging.NOTSET)
    return out, time.perf_counter() - t0, failed


def best_of(pages, systems: list[dict[str, str]]) -> dict[str, str]:
    """Per page, the output of whichever system scores best on it: a ceiling for choosing among those systems."""
    best = {}
    for pid, _, gold in pages:
        def f1(text, gold=gold):
            tp, fp, fn = page_counts(gold, text)
            return 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        best[pid] = max((s.get(pid, "") for s in systems), key=f1)
    return best


def run_trafilatura(pages, settings: dict) -> tuple[dict[str, str], float]:
    import trafilatura

    out = {}
    t0 = time.perf_counter()
    for pid, data, _ in pages:
        out[pid] = trafilatura.extract(data, deduplicate=False, **settings) or ""
    return out, time.perf_counter() - t0


def run_stage(pages) -> float:
    """Seconds for the cleaning stage alone (decode + `clean_article`, no Beam) over the pages, in this process."""
    from schemas.records import RawArticle
    from schemas.rejects import RejectError
    from transforms.clean import CleanConfig
    from transforms.clean.article import clean_article
    from transforms.decoding import decode_html

    cfg = CleanConfig()
    t0 = time.perf_counter()
    for pid, data, _ in pages:
        raw = RawArticle(article_id=pid, source_uri=pid, input_format="html", content=decode_html(data), is_html=True)
        try:
            clean_article(raw, cfg)
        except RejectError:
            pass  # counted as empty by the pipeline rows; here only the time matters
    return time.perf_counter() - t0


def run_pipeline(files_dir: Path, out_dir: Path, run_id: str, extra: list[str]) -> tuple[dict, dict, float, dict]:
    """Run the pipeline on a folder; ({file stem: text}, {file stem: reject reason}, wall seconds,
    {file stem: (title, published_at)})."""
    import duckdb

    from pipeline.main import run

    t0 = time.perf_counter()
    run(["--input", str(files_dir), "--output", str(out_dir), "--run_id", run_id, *extra], out=io.StringIO())
    seconds = time.perf_counter() - t0
    con = duckdb.connect()
    rows = con.execute(
        "SELECT source_uri, text, title, published_at, author, site FROM read_parquet(?)",
        [f"{out_dir}/articles/{run_id}/*.parquet"],
    ).fetchall()
    texts = {_stem(uri): text for uri, text, *_ in rows}
    meta = {_stem(uri): (title, published, author, site) for uri, _, title, published, author, site in rows}
    rejects = {
        _stem(uri): reason
        for uri, reason in con.execute(
            "SELECT source_uri, reason FROM read_parquet(?)", [f"{out_dir}/rejects/{run_id}/*.parquet"]
        ).fetchall()
    }
    return texts, rejects, seconds, meta


_WORDS = re.compile(r"\w+")


def title_agreement(raw: dict[str, str | None], html: dict[str, str | None]) -> tuple[int, int]:
    """(pages whose raw-text title agrees with the title extracted from the page's HTML, pages with an HTML title).

    Agreeing means equal, or one inside the other, on lower-cased word sequences (a site suffix or a kicker
    may differ); a page whose raw text got no title does not agree."""
    def norm(t):
        return " " + " ".join(_WORDS.findall((t or "").lower())) + " "
    agree = total = 0
    for pid, ref in html.items():
        if not ref or not ref.strip():
            continue
        total += 1
        got, want = norm(raw.get(pid)), norm(ref)
        agree += got.strip() != "" and (got in want or want in got)
    return agree, total


def date_agreement(raw: dict, html: dict) -> tuple[int, int, int, int]:
    """(same day, no date, another day, pages with an HTML date) of raw-text published_at against the HTML's."""
    same = missing = other = total = 0
    for pid, ref in html.items():
        if ref is None:
            continue
        total += 1
        got = raw.get(pid)
        if got is None:
            missing += 1
        elif got.date() == ref.date():
            same += 1
        else:
            other += 1
    return same, missing, other, total


def _stem(uri: str) -> str:
    name = Path(uri).name
    for ext in (".html", ".txt"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def _row(name: str, pages, preds: dict[str, str], seconds: float | None, note: str = "") -> str:
    p, r, f = score([(gold, preds.get(pid, "")) for pid, _, gold in pages])
    empty = sum(1 for pid, _, _ in pages if not preds.get(pid, "").strip())
    speed = f"{len(pages) / seconds:8.1f}" if seconds else "       -"
    return f"  {name:<30} {p:6.3f} {r:6.3f} {f:6.3f} {speed} {empty:6d}  {note}"


def bench_set(eval_dir: Path, set_name: str, args, work: Path) -> None:
    pages = load_set(eval_dir, set_name, args.limit, args.seed)
    print(f"\n{set_name}: {len(pages)} pages" + (f" (seeded sample, seed {args.seed})" if args.limit else ""), flush=True)
    print(f"  {'system':<30} {'P':>6} {'R':>6} {'F1':>6} {'pages/s':>8} {'empty':>6}")
    html_dir = work / set_name / "html"
    html_dir.mkdir(parents=True)
    for pid, data, _ in pages:
        (html_dir / f"{pid}.html").write_bytes(data)
    extra = args.pipeline_args.split() if args.pipeline_args else []

    fast_seconds = None
    systems = []
    named = {}
    for name, settings in BASELINES.items():
        preds, secs = run_trafilatura(pages, settings)
        if settings == {"fast": True}:
            fast_seconds = secs
        systems.append(preds)
        named[name] = preds
        print(_row(name, pages, preds, secs), flush=True)
    texts, rejects, pipe_secs, html_meta = run_pipeline(html_dir, work / set_name / "out", f"html-{set_name}", extra)
    named["newsbeam (html)"] = texts
    why = Counter(rejects.values())
    note = f"rejected: {dict(why)}" if why else ""
    print(_row("newsbeam (html)", pages, texts, pipe_secs, note), flush=True)
    stage = run_stage(pages) if fast_seconds else None
    # The other extractors run after the pipeline, so that its timing and the trafilatura loops' are taken in
    # the same conditions (see README "Throughput").
    if not args.no_references:
        import importlib.util

        missing = []
        for name, module, fn in REFERENCES:
            if importlib.util.find_spec(module) is None:
                missing.append(name)
                continue
            preds, secs, failed = run_reference(pages, fn)
            systems.append(preds)
            named[name] = preds
            print(_row(name, pages, preds, secs, f"raised on {failed} pages" if failed else ""), flush=True)
        if missing:
            print(f"  (not installed, skipped: {', '.join(missing)}; pip install -r requirements-bench.txt)")

    if len(systems) > 3:
        print(_row("best per page of all the above", pages, best_of(pages, [*systems, texts]), None,
                   "a ceiling for choosing among them, not a system"), flush=True)
    if fast_seconds:
        print(f"  throughput ratio newsbeam / trafilatura fast loop: {fast_seconds / pipe_secs:.2f} "
              f"({pipe_secs:.1f}s vs {fast_seconds:.1f}s; one timing each, bench.throughput takes medians)")
        print(f"  cleaning stage alone (decode + clean_article, no Beam): {len(pages) / stage:.1f} pages/s, "
              f"ratio to trafilatura fast loop {fast_seconds / stage:.2f} ({stage:.1f}s vs {fast_seconds:.1f}s)")
    gold_meta = load_meta(eval_dir, set_name, [pid for pid, _, _ in pages])
    if gold_meta:
        _language_rows(pages, gold_meta, named)
        _metadata_rows(pages, gold_meta, html_meta)
    if args.show_worst:
        _show_worst(pages, texts, args.show_worst, "html")

    if args.no_raw:
        return
    from bench.pagetext import page_text

    txt_dir = work / set_name / "txt"
    txt_dir.mkdir(parents=True)
    dumps = {}
    for pid, data, _ in pages:
        dumps[pid] = page_text(data)
        if dumps[pid].strip():
            (txt_dir / f"{pid}.txt").write_text(dumps[pid], encoding="utf-8")
    print(_row("whole-page text (no cleaning)", pages, dumps, None), flush=True)
    texts, rejects, secs, txt_meta = run_pipeline(txt_dir, work / set_name / "out", f"txt-{set_name}", extra)
    why = Counter(rejects.values())
    note = f"rejected: {dict(why)}" if why else ""
    print(_row("newsbeam (raw text)", pages, texts, secs, note), flush=True)
    def column(meta, i):
        return {pid: values[i] for pid, values in meta.items()}

    agree, total = title_agreement(column(txt_meta, 0), column(html_meta, 0))
    print(f"  raw-text titles agreeing with the title newsbeam takes from the page's HTML: {agree} of {total} "
          f"({agree / max(1, total):.0%})", flush=True)
    same, missing, other, total = date_agreement(column(txt_meta, 1), column(html_meta, 1))
    print(f"  raw-text published_at against the date newsbeam takes from the page's HTML ({total} pages with one): "
          f"same day {same}, none {missing}, another day {other}", flush=True)
    if args.show_worst:
        _show_worst(pages, texts, args.show_worst, "txt")


def _language_rows(pages, gold_meta, named: dict[str, dict[str, str]]) -> None:
    """Body F1 per language (those with LANG_MIN_PAGES pages or more), one column per system."""
    by_lang: dict[str, list] = {}
    for page in pages:
        by_lang.setdefault(gold_meta.get(page[0], {}).get("language") or "?", []).append(page)
    langs = sorted((l for l, ps in by_lang.items() if len(ps) >= LANG_MIN_PAGES), key=lambda l: -len(by_lang[l]))
    rest = [p for l, ps in by_lang.items() if l not in langs for p in ps]
    groups = [(f"{l} ({len(by_lang[l])})", by_lang[l]) for l in langs] + ([(f"other ({len(rest)})", rest)] if rest else [])
    print(f"  body F1 by language: {'system':<28} " + " ".join(f"{g:>9}" for g, _ in groups) + "      min")
    for name, preds in named.items():
        f1s = [score([(gold, preds.get(pid, "")) for pid, _, gold in ps])[2] for _, ps in groups]
        low = min(f for (g, _), f in zip(groups, f1s) if not g.startswith("other"))
        print(f"  {'':<20}{name:<28} " + " ".join(f"{f:9.3f}" for f in f1s) + f" {low:8.3f}")


def _metadata_rows(pages, gold_meta, html_meta) -> None:
    """Title, day, time-of-day and author accuracy of the pipeline, trafilatura's own metadata and htmldate."""
    ours = {pid: {"title": t, "published": _as_utc(d), "author": a, "site": s} for pid, (t, d, a, s) in html_meta.items()}
    rows = [("newsbeam (html)", ours), ("trafilatura metadata", trafilatura_meta(pages)),
            ("htmldate extensive (date)", htmldate_meta(pages))]
    first = score_meta(gold_meta, ours)
    print(f"  metadata ({first['title'][1]} titles, {first['day'][1]} dates, {first['time'][1]} with a time of day, "
          f"{first['authors'][1]} with authors):")
    print(f"  {'system':<30} {meta_header()}")
    for name, preds in rows:
        cells = score_meta(gold_meta, preds)
        if name.startswith("htmldate"):
            print(f"  {name:<30} {'-':>6}  " + "  ".join(f"{cells[k][0] / max(1, cells[k][1]):6.3f}" for k in ("day", "time")) + f"  {'-':>6}")
        else:
            print(f"  {name:<30} {meta_cells(cells)}")


def _as_utc(when):
    if when is not None and when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    return when


def _show_worst(pages, preds, n, label):
    scored = []
    for pid, _, gold in pages:
        tp, fp, fn = page_counts(gold, preds.get(pid, ""))
        scored.append((tp, pid, fp, fn))
    for tp, pid, fp, fn in sorted(scored)[:n]:
        print(f"    worst {label} {pid}: tp {tp:.2f} fp {fp:.2f} fn {fn:.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.quality extraction", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-dir", required=True, help="path to shared/eval")
    ap.add_argument("--sets", default=",".join(SETS), help=f"comma-separated sets (default: {','.join(SETS)})")
    ap.add_argument("--limit", type=int, default=None, help="score a seeded random sample of this many pages per set")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-raw", action="store_true", help="skip the raw-text path")
    ap.add_argument("--no-references", action="store_true",
                    help="skip the published extractors (readability-lxml, jusText, resiliparse, boilerpy3, goose3, "
                         "newspaper4k) that are scored when installed")
    ap.add_argument("--pipeline-args", default="", help="extra `newsbeam run` options, e.g. '--extraction_mode=...'")
    ap.add_argument("--show-worst", type=int, default=0, help="list the N lowest-scoring pages of the pipeline")
    args = ap.parse_args(argv)
    eval_dir = Path(args.eval_dir)
    import logging

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    logging.getLogger("apache_beam").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="newsbeam-extraction-") as tmp:
        for set_name in args.sets.split(","):
            bench_set(eval_dir, set_name.strip(), args, Path(tmp))
    print("\nP/R/F1: 4-token shingles, macro-averaged over pages; empty = pages with no output (rejects included).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
