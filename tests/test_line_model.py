"""The raw-text line model: packed-tree inference, its features, how it overrides the rules, the shipped weights."""
from __future__ import annotations

import pathlib

import numpy as np
import pytest

from transforms.clean.line_model import MIN_LINES, MODEL_PATH, LineModel, feature_names, line_features, load_model
from transforms.clean.lines import FIXED_VERDICTS, apply_line_model, clean_lines, rule_verdicts
from transforms.clean.rules import LINE_MODEL

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _spec(trees, baseline=0.0, depth=2, **decoding):
    """A model spec from trees given as [(feature, split, left, right, value)] node lists (tree-local indexes)."""
    spec = {"features": feature_names(), "baseline": baseline, "depth": depth, "drop_below": 0.25, "keep_from": 0.95,
            "guard_share": 0.6, "feature": [], "split": [], "left": [], "right": [], "value": [], "roots": []}
    spec.update(decoding)
    for nodes in trees:
        base = len(spec["feature"])
        spec["roots"].append(base)
        for f, s, l, r, v in nodes:
            spec["feature"].append(f)
            spec["split"].append(s)
            spec["left"].append(base + l if l >= 0 else -1)
            spec["right"].append(base + r if r >= 0 else -1)
            spec["value"].append(v)
    return spec


def test_packed_trees_walk_every_row_to_its_leaf():
    # Tree 1 splits on feature 0 at 1.0, then (left) on feature 1 at 0.5; tree 2 is a single leaf.
    t1 = [(0, 1.0, 1, 2, 0.0), (1, 0.5, 3, 4, 0.0), (-1, 0.0, -1, -1, 3.0), (-1, 0.0, -1, -1, -1.0),
          (-1, 0.0, -1, -1, 1.0)]
    t2 = [(-1, 0.0, -1, -1, 0.5)]
    m = LineModel(_spec([t1, t2], baseline=-0.25))
    x = np.zeros((3, len(feature_names())))
    x[0, :2] = [2.0, 0.0]  # right of the root: leaf 3.0
    x[1, :2] = [1.0, 0.5]  # left, left (<= goes left): -1.0
    x[2, :2] = [0.0, 0.9]  # left, right: 1.0
    assert m.decision(x).tolist() == [3.25, -0.75, 1.25]
    assert m.proba(x)[0] == pytest.approx(1 / (1 + np.exp(-3.25)))


def _constant(value):
    return LineModel(_spec([[(-1, 0.0, -1, -1, value)]], depth=1))


def test_model_overrides_the_rules_only_where_sure_and_never_empties_a_page():
    pad = MIN_LINES - 4  # lines the rules removed, so the text is long enough for the model to judge
    kept = [True, True, True, False] + [False] * pad
    sizes = [40, 40, 2, 5] + [1] * pad
    x = np.zeros((len(kept), len(feature_names())))
    # Sure it is all boilerplate: dropping would take 82 of the 82 kept words (> guard_share), so nothing goes;
    # the removed line does not come back either.
    assert _constant(-5.0).keep(x, kept, sizes).tolist() == kept
    # Sure it is all body: the removed line comes back, the kept ones stay.
    assert _constant(5.0).keep(x, kept, sizes).tolist() == [True] * len(kept)
    # Unsure (p = 0.5): the rules stand.
    assert _constant(0.0).keep(x, kept, sizes).tolist() == kept


def test_model_drops_a_small_share_of_kept_words():
    # Low probability only for rows whose feature 0 is above 1 (the short third line here).
    tree = [(0, 1.0, 1, 2, 0.0), (-1, 0.0, -1, -1, 0.0), (-1, 0.0, -1, -1, -5.0)]
    m = LineModel(_spec([tree], depth=1))
    n = MIN_LINES
    x = np.zeros((n, len(feature_names())))
    x[2, 0] = 2.0
    kept, sizes = [True] * n, [40, 40, 3] + [40] * (n - 3)
    assert m.keep(x, kept, sizes).tolist() == [True, True, False] + [True] * (n - 3)
    # A shorter text (a note, an article already cut from its page) keeps the rules' verdicts.
    assert m.keep(x[:5], kept[:5], sizes[:5]).tolist() == [True] * 5


def test_features_one_finite_row_per_line():
    lines = ["Home | News | Sport", "River bursts its banks after three days of rain",
             "Officials in the northern province confirmed on Tuesday that the river had burst its banks after rain.",
             "Share", "© 2024 Example News"]
    lines, verdict, start, end, _ = rule_verdicts(lines)
    x = line_features(lines, verdict, start, end)
    assert x.shape == (len(lines), len(feature_names()))
    assert np.isfinite(x).all()
    assert line_features([], [], 0, 0).shape == (0, len(feature_names()))


def test_fixed_verdicts_are_never_overridden():
    lines = ["ADVERTISEMENT", "Officials confirmed on Tuesday that the river had burst its banks after three days of rain."]
    lines, verdict, start, end, _ = rule_verdicts(lines)
    assert verdict[0] == "ad_marker" and verdict[0] in FIXED_VERDICTS
    assert apply_line_model(lines, verdict, start, end)[0] == "ad_marker"


def test_shipped_model_loads_and_is_packaged():
    """The weights load and match the features of this code (that setup.py ships them: tests/test_packaging.py)."""
    assert MODEL_PATH.exists()
    model = load_model()
    assert model is not None and len(model.roots) > 0
    assert 0.0 < model.drop_below < model.keep_from < 1.0


def test_clean_lines_without_the_model_is_the_rules_alone():
    dump = ["Home", "News", "Sport", "River bursts its banks after three days of rain",
            *["Officials in the northern province confirmed on Tuesday that the river had burst its banks." for _ in range(1)],
            "Rescue teams moved hundreds of families to schools on higher ground, the regional governor told reporters.",
            "Most read", "Ten things to do this weekend", "Weather for the week ahead"]
    lines, verdict, *_ = rule_verdicts(dump)
    rules = clean_lines(dump, model=False)
    assert rules.text.split("\n") == [l for l, v in zip(lines, verdict) if v is None]
    with_model = clean_lines(dump)
    assert all(rule == LINE_MODEL or rule in {r for r, _ in rules.removed} for rule, _ in with_model.removed)
