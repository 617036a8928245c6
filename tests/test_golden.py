"""Regression gate for HTML cleaning: pages written for this project (tests/golden/pages/), with the body a reader
sees in them written by hand and the metadata and body F1 the code gave when they were last recorded
(tests/golden/expected/; `python -m bench.golden --write` records them, see docs/benchmarks.md).

A change that makes any page's metadata differ, a page's body F1 fall below its recorded value or PAGE_FLOOR, or
the mean body F1 fall below MEAN_FLOOR fails here. Never lower a floor or record a worse page to pass.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil

import pytest

from bench import golden

PAGES = golden.pages()


def test_golden_set_is_there():
    assert len(PAGES) >= 5
    assert all((golden.GOLDEN / "expected" / f"{name}.json").exists() for name in PAGES)
    assert all("body_f1" in golden.expected(name) for name in PAGES)


@pytest.mark.parametrize("name", PAGES)
def test_golden_page_is_as_good_as_recorded(name):
    assert golden.failures(golden.expected(name), golden.clean_page(name)) == []


def test_golden_mean_body_f1_above_floor():
    scores = [golden.body_f1(golden.expected(name)["text"], golden.clean_page(name).text) for name in PAGES]
    assert sum(scores) / len(scores) >= golden.MEAN_FLOOR


def _worse_copies(article):
    half = article.text[: len(article.text) // 2]
    return {
        "title": dataclasses.replace(article, title="Home"),
        "author": dataclasses.replace(article, author=None),
        "published": dataclasses.replace(article, published_at=dt.datetime(2001, 1, 1, tzinfo=dt.UTC)),
        "site": dataclasses.replace(article, site=None),
        "body": dataclasses.replace(article, text=half),
    }


@pytest.mark.parametrize("change", ["title", "author", "published", "site", "body"])
def test_the_gate_fails_a_worse_page(change):
    name = "en_jsonld_newsarticle"
    want, article = golden.expected(name), golden.clean_page(name)
    assert golden.failures(want, article) == []
    assert golden.failures(want, _worse_copies(article)[change]) != []


def test_a_small_body_loss_below_the_recorded_f1_fails():
    name = "de_opengraph_only"
    want, article = golden.expected(name), golden.clean_page(name)
    last_line_cut = dataclasses.replace(article, text=article.text.rsplit(",", 1)[0] + ".")  # its last clause
    assert golden.body_f1(want["text"], last_line_cut.text) > golden.PAGE_FLOOR  # above the fixed floor ...
    assert any("body F1" in f for f in golden.failures(want, last_line_cut))  # ... but below the recorded one


def test_write_records_the_current_output_and_keeps_the_hand_written_text(tmp_path):
    root = tmp_path / "golden"
    shutil.copytree(golden.GOLDEN, root)
    name = "en_jsonld_newsarticle"
    path = root / "expected" / f"{name}.json"
    stale = {**golden.expected(name, root), "title": "An older title", "body_f1": 0.5}
    path.write_text(json.dumps(stale), encoding="utf-8")
    assert golden.main(["--root", str(root)]) == 1  # the check fails on the stale title
    assert golden.main(["--root", str(root), "--write"]) == 0
    fresh = golden.expected(name, root)
    assert fresh["title"] == golden.expected(name)["title"]
    assert fresh["text"] == stale["text"] and fresh["body_f1"] == golden.expected(name)["body_f1"]
    assert golden.main(["--root", str(root)]) == 0


def test_write_refuses_a_worse_page_unless_accepted(tmp_path):
    root = tmp_path / "golden"
    shutil.copytree(golden.GOLDEN, root)
    name = "de_opengraph_only"
    path = root / "expected" / f"{name}.json"
    want = golden.expected(name, root)
    better_text = want["text"] + "\nEin weiterer Absatz, den die Seite zeigt und der Cleaner nicht findet."
    path.write_text(json.dumps({**want, "text": better_text, "body_f1": 1.0}), encoding="utf-8")
    assert golden.main(["--root", str(root), "--write"]) == 1
    assert golden.expected(name, root)["body_f1"] == 1.0  # not written
    assert golden.main(["--root", str(root), "--write", "--accept-worse"]) == 0
    assert golden.expected(name, root)["body_f1"] < 1.0
