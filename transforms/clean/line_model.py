"""The learned line model for page dumps: per-line features (shape, position, neighbours, the rules' verdicts) and
a small boosted-tree classifier, shipped as JSON weights and evaluated with numpy, that says which lines are body.

The weights (`line_model.json`) are trained by `bench/train_lines.py` on the MIT-licensed Fundus pages only.
"""
from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np

from transforms.clean.config import CleanConfig
from transforms.clean.layout import is_wall
from transforms.clean.rules import LINE_RULES, ends_like_sentence, is_body_line, normalise_line, words

MODEL_PATH = Path(__file__).with_name("line_model.json")

# The rules' verdicts as features: one column per group of verdicts.
_CONTENT_RULES = frozenset(name for name, _ in LINE_RULES)
VERDICT_GROUPS = ("kept", "content_rule", "byline", "date_line", "repeated_credit", "title", "page_header",
                  "page_footer", "link_list", "comment_section")
_SEPARATORS = re.compile(r"[|»›•·>/]")
_LINKISH = re.compile(r"https?://|www\.|\.(com|org|net|de)\b|@\w", re.I)
_BULLET = re.compile(r"^[-–—•*·►▶»›]")
_DIGIT = re.compile(r"\d")
_PUNCT = re.compile(r"[,;:()\"“”„«»]")
# Neighbour offsets whose own shape is a feature of a line, and the half-widths of the windows summarised around it.
NEIGHBOURS = (-2, -1, 1, 2)
# The model judges page dumps only (Fundus dumps have 213 lines on average): a text of fewer lines is a note or an
# article already cut out of its page, where a closing sentence is not a teaser; the rules alone judge it.
MIN_LINES = 20
WINDOWS = (3, 10)


def _group(verdict: str | None) -> str:
    if verdict is None:
        return "kept"
    if verdict in _CONTENT_RULES:
        return "content_rule"
    return verdict if verdict in VERDICT_GROUPS else "content_rule"


def _own(line: str, cfg: CleanConfig) -> list[float]:
    """Shape of one line: length, punctuation, letters, digits, title case, separators, links, bullets."""
    n = words(line)
    chars = len(line)
    tokens = line.split()
    alpha = sum(map(str.isalpha, line))
    upper = sum(1 for t in tokens if t[0].isupper())
    # headings.is_headline, with the letters counted once.
    headline = 3 <= n <= 30 and not line.endswith(".") and alpha >= 0.6 * chars
    return [
        math.log1p(n),
        math.log1p(chars),
        float(ends_like_sentence(line)),
        float(is_body_line(line, cfg)),
        float(headline),
        alpha / chars if chars else 0.0,
        len(_DIGIT.findall(line)) / chars if chars else 0.0,
        upper / len(tokens) if tokens else 0.0,
        len(_PUNCT.findall(line)) / max(1, n),
        float(bool(_SEPARATORS.search(line))),
        float(bool(_LINKISH.search(line))),
        float(bool(_BULLET.match(line))),
        float(line.endswith(":")),
    ]


OWN_FEATURES = ("log_words", "log_chars", "sentence_end", "body_line", "headline", "alpha", "digits", "title_case",
                "punct_per_word", "separator", "linkish", "bullet", "colon_end")


def feature_names() -> list[str]:
    names = list(OWN_FEATURES) + [f"verdict_{g}" for g in VERDICT_GROUPS]
    names += ["wall", "repeats", "position", "mass_position", "in_region", "region_distance", "short_run"]
    for off in NEIGHBOURS:
        names += [f"n{off}_{k}" for k in ("log_words", "sentence_end", "body_line", "kept", "in_region")]
    for w in WINDOWS:
        names += [f"w{w}_body_share", f"w{w}_mean_log_words", f"w{w}_kept_share", f"w{w}_sentence_share"]
    names += ["page_log_lines", "page_region_share", "page_log_body_lines"]
    return names


def line_features(lines: list[str], verdict: list[str | None], start: int, end: int,
                  cfg: CleanConfig = CleanConfig()) -> np.ndarray:
    """One row of features per line of a page dump, given the rules' final verdicts and the body region.

    The line's own shape is computed in Python once per line (`_own`); the verdicts, positions, neighbours and
    windows are columns built with numpy (prefix sums run in line order, as float additions in Python would).
    """
    n = len(lines)
    if n == 0:
        return np.zeros((0, len(feature_names())))
    own = np.array([_own(l, cfg) for l in lines], dtype=np.float64)
    wc = np.array([words(l) for l in lines], dtype=np.int64)
    total = int(wc.sum()) or 1
    keys = [normalise_line(l) for l in lines]
    counts = Counter(keys)
    logw, sent, body = own[:, 0], own[:, 2], own[:, 3]
    kept = np.array([v is None for v in verdict], dtype=np.float64)
    idx = np.arange(n)
    inreg = ((start <= idx) & (idx < end)).astype(np.float64)
    # Runs of short unpunctuated lines (menus, link lists) and each line's run length.
    short = (wc <= 6) & (sent == 0)
    cuts = np.flatnonzero(np.diff(short.astype(np.int8))) + 1
    bounds = np.concatenate(([0], cuts, [n]))
    lengths = np.diff(bounds)
    run = np.where(short, np.repeat(lengths, lengths), 0)
    groups = [_group(v) for v in verdict]
    onehot = np.array([[float(g == name) for name in VERDICT_GROUPS] for g in groups], dtype=np.float64)
    dist = np.where(idx < start, idx - start, np.where(idx < end, 0, idx - end + 1))
    before = np.concatenate(([0], np.cumsum(wc)[:-1]))
    columns = [
        own,
        onehot,
        np.array([float(is_wall(l, v)) for l, v in zip(lines, verdict)]),
        np.array([math.log(counts[k]) for k in keys]),
        idx / n,
        before / total,
        inreg,
        np.array([math.copysign(math.log1p(abs(d)), d) for d in dist.tolist()]),
        np.array([math.log1p(r) for r in run.tolist()]),
    ]
    for off in NEIGHBOURS:
        j = idx + off
        inside = (j >= 0) & (j < n)
        jj = np.clip(j, 0, n - 1)
        for values in (logw, sent, body, kept, inreg):
            columns.append(np.where(inside, values[jj], 0.0))
    p_body, p_logw, p_kept, p_sent = (np.concatenate(([0.0], np.cumsum(v))) for v in (body, logw, kept, sent))
    for w in WINDOWS:
        a, b = np.maximum(0, idx - w), np.minimum(n, idx + w + 1)
        m = b - a
        columns += [(p_body[b] - p_body[a]) / m, (p_logw[b] - p_logw[a]) / m, (p_kept[b] - p_kept[a]) / m,
                    (p_sent[b] - p_sent[a]) / m]
    region_words = int(wc[start:end].sum())
    page = [math.log1p(n), region_words / total, math.log1p(float(body.sum()))]
    columns += [np.full(n, value) for value in page]
    return np.column_stack(columns)


class LineModel:
    """Boosted trees packed into flat arrays: all trees walk all lines at once, one numpy step per tree level."""

    def __init__(self, spec: dict):
        self.features = spec["features"]
        self.drop_below = float(spec["drop_below"])
        self.keep_from = float(spec["keep_from"])
        self.guard_share = float(spec["guard_share"])
        self.baseline = float(spec["baseline"])
        self.depth = int(spec["depth"])
        self.feature = np.asarray(spec["feature"], dtype=np.int64)
        self.split = np.asarray(spec["split"], dtype=np.float64)
        self.left = np.asarray(spec["left"], dtype=np.int64)
        self.right = np.asarray(spec["right"], dtype=np.int64)
        self.value = np.asarray(spec["value"], dtype=np.float64)
        self.roots = np.asarray(spec["roots"], dtype=np.int64)
        leaf = self.left < 0
        # A leaf points to itself, so extra steps past its depth stay on it.
        idx = np.arange(len(self.left))
        self.left = np.where(leaf, idx, self.left)
        self.right = np.where(leaf, idx, self.right)
        self.feature = np.where(leaf, 0, self.feature)
        self.is_leaf = leaf

    def decision(self, x: np.ndarray) -> np.ndarray:
        """Raw score (log-odds of body) of each row of `x`.

        Every (row, tree) pair starts at the tree's root; each step moves the pairs still at an inner node one
        level down and drops those that reached a leaf, so a pair costs its own path's length, not the deepest
        tree's."""
        if len(x) == 0:
            return np.zeros(0)
        n, trees = len(x), len(self.roots)
        flat = np.ascontiguousarray(x, dtype=np.float64).ravel()
        reached = np.tile(self.roots, n)  # pair r * trees + t: row r, tree t
        pair = np.flatnonzero(~self.is_leaf[reached])
        node, base = reached[pair], (pair // trees) * x.shape[1]
        while len(node):
            go_left = flat[base + self.feature[node]] <= self.split[node]
            node = np.where(go_left, self.left[node], self.right[node])
            reached[pair] = node
            inner = ~self.is_leaf[node]
            node, base, pair = node[inner], base[inner], pair[inner]
        return self.baseline + self.value[reached].reshape(n, trees).sum(axis=1)

    def proba(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.decision(x)))

    def keep(self, x: np.ndarray, kept: list[bool], sizes: list[int]) -> np.ndarray:
        """Which lines to keep, given the rules' verdicts (`kept`) and each line's words (`sizes`).

        The model overrides the rules only where it is sure: a line the rules kept goes when its probability of
        body is under `drop_below`, a line they removed comes back from `keep_from`. When it would remove more
        than `guard_share` of the words the rules kept, only its additions count: a page whose article is one
        short post is not what the model learned on (it takes a lone paragraph among short lines for a teaser).
        A text under MIN_LINES lines keeps the rules' verdicts.
        """
        rules = np.asarray(kept, dtype=bool)
        if len(rules) < MIN_LINES:
            return rules
        q = self.proba(x)
        wc = np.asarray(sizes, dtype=np.int64)
        drop = rules & (q < self.drop_below)
        if wc[rules].sum() and wc[drop].sum() > self.guard_share * wc[rules].sum():
            drop[:] = False
        return np.where(rules, ~drop, q >= self.keep_from)


@functools.lru_cache(maxsize=1)
def load_model(path: str = str(MODEL_PATH)) -> LineModel | None:
    """The shipped line model, or None when its weights file is not there."""
    p = Path(path)
    if not p.exists():
        return None
    spec = json.loads(p.read_text(encoding="utf-8"))
    if spec["features"] != feature_names():
        raise ValueError(f"{p} was trained on other features; run bench/train_lines.py")
    return LineModel(spec)
