"""The golden regression gate's files (tests/golden/): check the current code against them, or regenerate them.

    python -m bench.golden            # per page: metadata changes and body F1 against the reference text
    python -m bench.golden --write    # record what the current code gives in tests/golden/expected/

Each page `tests/golden/pages/NAME.html` (written for this project) has `expected/NAME.json`: `text`, the page's
body as a reader sees it (written by hand; --write never changes it, it only starts one for a new page from the
code's output, to be corrected by hand), the metadata the code gives (`title`, `author`, `published_at`, `site`,
`host`, `language`) and `body_f1`, the code's body F1 against `text` when the file was last written.
tests/test_golden.py fails when a page's metadata differ from its file or its body F1 falls below the recorded
one (or below PAGE_FLOOR; the mean below MEAN_FLOOR). After a deliberate change, `--write` records the new output
in one command; it refuses while any page got worse (a lower body F1, a field that was set now empty) unless
`--accept-worse` is given, and lists every change for review in the diff.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import re
import sys
from collections import Counter
from pathlib import Path

from schemas.records import FORMAT_HTML, CleanArticle, RawArticle
from transforms.clean.article import clean_article
from transforms.clean.extract import detect_language, load_language_identifier

GOLDEN = Path(__file__).resolve().parent.parent / "tests" / "golden"
PAGE_FLOOR = 0.9  # lowest body F1 any page may have, whatever was recorded
MEAN_FLOOR = 0.98  # lowest mean body F1 over the pages
METADATA = ("title", "author", "published_at", "site", "host", "language")
_TOKEN = re.compile(r"\w+")


def pages(root: Path = GOLDEN) -> list[str]:
    return sorted(p.stem for p in (root / "pages").glob("*.html"))


def body_f1(gold: str, pred: str) -> float:
    """F1 of 4-token shingles (the benchmarks' rule, on one page)."""
    def bag(text):
        tokens = _TOKEN.findall(text)
        return Counter(tuple(tokens[i:i + 4]) for i in range(max(1, len(tokens) - 3))) if tokens else Counter()
    g, p = bag(gold), bag(pred)
    tp = sum((g & p).values())
    return 2 * tp / (sum(g.values()) + sum(p.values())) if tp else 0.0


@functools.cache
def _identifier():
    return load_language_identifier()


def clean_page(name: str, root: Path = GOLDEN) -> CleanArticle:
    """A page cleaned as the cleaning stage does it (extraction, metadata, then language detection when the page
    names none)."""
    html = (root / "pages" / f"{name}.html").read_text(encoding="utf-8")
    raw = RawArticle(article_id=name, source_uri=f"{name}.html", input_format=FORMAT_HTML, content=html, is_html=True)
    article = clean_article(raw)
    if article.language is None and article.text.strip():
        article = dataclasses.replace(article, language=detect_language(article.text, _identifier()))
    return article


def expected(name: str, root: Path = GOLDEN) -> dict:
    return json.loads((root / "expected" / f"{name}.json").read_text(encoding="utf-8"))


def observed(article: CleanArticle) -> dict:
    """The metadata of a cleaned page as the expected files write them."""
    out = {field: getattr(article, field) for field in METADATA}
    out["published_at"] = article.published_at.isoformat() if article.published_at else None
    return out


def failures(want: dict, article: CleanArticle) -> list[str]:
    """What makes a page fail the gate: each metadata field that differs from its file, a body F1 below the
    recorded one or below PAGE_FLOOR. Empty when the page is as good as recorded."""
    out = []
    got = observed(article)
    for field in METADATA:
        if field in want and got[field] != want[field]:
            out.append(f"{field}: {want[field]!r} -> {got[field]!r}")
    f1 = round(body_f1(want["text"], article.text), 4)  # recorded with 4 decimals
    floor = max(PAGE_FLOOR, want.get("body_f1", 0.0))
    if f1 < floor:
        out.append(f"body F1 {f1:.4f} below {floor:.4f}")
    return out


def worse(want: dict, article: CleanArticle) -> list[str]:
    """The changes --write refuses without --accept-worse: a lower body F1, a field that was set now empty."""
    got = observed(article)
    out = [f"{field} lost: {want[field]!r}" for field in METADATA if want.get(field) and not got[field]]
    f1 = round(body_f1(want["text"], article.text), 4)
    if f1 < want.get("body_f1", 0.0):
        out.append(f"body F1 {want['body_f1']:.4f} -> {f1:.4f}")
    return out


def record(want: dict | None, article: CleanArticle) -> dict:
    """The expected file for a page: the current metadata and body F1, the hand-written text kept (a new page
    starts from the code's text, to be corrected by hand)."""
    text = want["text"] if want else article.text
    return {**observed(article), "text": text, "body_f1": round(body_f1(text, article.text), 4)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.golden", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="record the current output in tests/golden/expected/")
    ap.add_argument("--accept-worse", action="store_true", help="with --write: record pages that got worse too")
    ap.add_argument("--root", type=Path, default=GOLDEN, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    names = pages(args.root)
    articles = {name: clean_page(name, args.root) for name in names}
    wants = {name: expected(name, args.root) if (args.root / "expected" / f"{name}.json").exists() else None
             for name in names}
    refused = []
    for name in names:
        want, article = wants[name], articles[name]
        if want is None:
            print(f"{name}: new page, its text to be checked by hand")
            continue
        f1 = body_f1(want["text"], article.text)
        changes = failures(want, article)
        print(f"{name}: body F1 {f1:.4f} (recorded {want.get('body_f1', '-')})" + "".join(f"\n    {c}" for c in changes))
        if worse(want, article):
            refused.append(name)
    mean = sum(body_f1((wants[n] or {"text": articles[n].text})["text"], articles[n].text) for n in names) / len(names)
    print(f"mean body F1 {mean:.4f} (floor {MEAN_FLOOR})")
    if not args.write:
        return 1 if any(w and failures(w, articles[n]) for n, w in wants.items()) or mean < MEAN_FLOOR else 0
    if refused and not args.accept_worse:
        print(f"not written: worse on {', '.join(refused)} (--accept-worse records them anyway)", file=sys.stderr)
        return 1
    for name in names:
        path = args.root / "expected" / f"{name}.json"
        path.write_text(json.dumps(record(wants[name], articles[name]), ensure_ascii=False, indent=1) + "\n",
                        encoding="utf-8")
    print(f"wrote {len(names)} expected files to {args.root / 'expected'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
