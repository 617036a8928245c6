"""Regression gate for HTML cleaning: pages written for this project (tests/golden/pages/), with the body and
metadata a reader sees in them written out by hand beside them (tests/golden/expected/).

A change that makes any page's metadata differ, a page's body F1 fall below PAGE_FLOOR, or the mean body F1
fall below MEAN_FLOOR fails here. Raise the floors when the cleaner gets better; never lower them to pass.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from schemas.records import FORMAT_HTML, RawArticle
from transforms.clean.article import clean_article

GOLDEN = Path(__file__).parent / "golden"
PAGES = sorted(p.stem for p in (GOLDEN / "pages").glob("*.html"))
PAGE_FLOOR = 0.9
MEAN_FLOOR = 0.98
_TOKEN = re.compile(r"\w+")


def body_f1(gold: str, pred: str) -> float:
    """F1 of 4-token shingles (the benchmarks' rule, on one page)."""
    def bag(text):
        tokens = _TOKEN.findall(text)
        return Counter(tuple(tokens[i:i + 4]) for i in range(max(1, len(tokens) - 3))) if tokens else Counter()
    g, p = bag(gold), bag(pred)
    tp = sum((g & p).values())
    return 2 * tp / (sum(g.values()) + sum(p.values())) if tp else 0.0


def clean_page(name: str):
    html = (GOLDEN / "pages" / f"{name}.html").read_text(encoding="utf-8")
    raw = RawArticle(article_id=name, source_uri=f"{name}.html", input_format=FORMAT_HTML, content=html, is_html=True)
    return clean_article(raw)


def expected(name: str) -> dict:
    return json.loads((GOLDEN / "expected" / f"{name}.json").read_text(encoding="utf-8"))


def test_golden_set_is_there():
    assert len(PAGES) >= 5
    assert all((GOLDEN / "expected" / f"{name}.json").exists() for name in PAGES)


@pytest.mark.parametrize("name", PAGES)
def test_golden_metadata(name):
    want, got = expected(name), clean_page(name)
    published = dt.datetime.fromisoformat(want["published_at"]) if want["published_at"] else None
    assert got.title == want["title"]
    assert got.author == want["author"]
    assert got.published_at == published
    assert got.site == want["site"]
    assert got.host == want["host"]


@pytest.mark.parametrize("name", PAGES)
def test_golden_body(name):
    assert body_f1(expected(name)["text"], clean_page(name).text) >= PAGE_FLOOR


def test_golden_mean_body_f1_above_floor():
    scores = [body_f1(expected(name)["text"], clean_page(name).text) for name in PAGES]
    assert sum(scores) / len(scores) >= MEAN_FLOOR
