"""The cheaper cleaning code gives what the plain code gave: the audit walk (lxml's iterwalk and its Python
fallback), the class-word rule lookup, the line model's numpy features and its trees that stop at their leaves."""
from __future__ import annotations

import math
import random
from collections import Counter

import numpy as np
from lxml import html as lxml_html

from transforms.clean.config import CleanConfig
from transforms.clean.headings import is_headline
from transforms.clean.html_audit import _WORD_RULES, _rule_of, _walk_blocks, page_blocks
from transforms.clean.layout import is_wall
from transforms.clean.line_model import (
    _LINKISH,
    NEIGHBOURS,
    VERDICT_GROUPS,
    WINDOWS,
    LineModel,
    _group,
    feature_names,
    line_features,
    load_model,
)
from transforms.clean.rules import ends_like_sentence, is_body_line, normalise_line, words

# A block inside an inline element that names a part of the page: the text before the block is flushed with that
# part's rule, the text after it with the enclosing block's.
NESTED = ('<html><body><div>x<span class="share-bar">y<p>z</p>w</span>v</div>'
          '<nav>Home <b>News</b><script>no()</script> Sport</nav><p hidden>gone</p>tail</body></html>')
EXPECTED = [("html_share", "xy"), ("html_share", "z"), ("html_not_main_text", "wv"),
            ("html_navigation", "Home News Sport"), ("html_not_main_text", "tail")]


def test_audit_walk_keeps_the_blocks_rules_and_order():
    assert page_blocks(lxml_html.fromstring(NESTED)) == EXPECTED


def test_audit_walk_keeps_text_around_comments_through_the_fallback():
    # lxml's iterwalk skips comments, whose tails are text: such a page is walked in Python.
    page = NESTED.replace("Home <b>", "Home <!-- menu --><b>")
    tree = lxml_html.fromstring(page, parser=lxml_html.HTMLParser(remove_comments=False))
    assert page_blocks(tree) == EXPECTED
    assert _walk_blocks(lxml_html.fromstring(NESTED).find(".//body")) == EXPECTED


def _rule_by_words(tag: str, names: str, role: str) -> str | None:
    """_rule_of without its shortcut: every element's class/id split into words."""
    found = {w for w in __import__("re").split(r"[\s_-]+", names.lower()) if w}
    for rule, known in _WORD_RULES:
        if found & known:
            return rule
    if role.lower() == "navigation":
        return "html_navigation"
    return {"nav": "html_navigation", "header": "html_header", "footer": "html_footer", "aside": "html_sidebar",
            "figcaption": "html_caption"}.get(tag)


def test_class_words_name_the_part_only_as_whole_words():
    cases = [("div", "comment-list main", ""), ("div", "nocomment", ""), ("div", "Main_Menu", ""),
             ("ul", "x", "Navigation"), ("nav", "", ""), ("aside", "related-posts", ""), ("div", "ads-ad", ""),
             ("div", "adsense shared", ""), ("div", "  ad\tsocial ", ""), ("figcaption", "credit_line", ""),
             ("div", "Über-Menü", ""), ("div", "MORE", "")]
    for tag, names, role in cases:
        assert _rule_of(tag, names, role) == _rule_by_words(tag, names, role), (tag, names)
    assert _rule_of("div", "nocomment", "") is None
    assert _rule_of("div", "comment-list main", "") == "html_comments"


def _features_by_line(lines, verdict, start, end, cfg=CleanConfig()):
    """The line model's features computed one line at a time, as they were before the numpy columns."""
    n = len(lines)
    own = []
    for line in lines:
        k, chars, tokens = words(line), len(line), line.split()
        alpha = sum(c.isalpha() for c in line)
        own.append([math.log1p(k), math.log1p(chars), float(ends_like_sentence(line)), float(is_body_line(line, cfg)),
                    float(is_headline(line)), alpha / chars if chars else 0.0,
                    len([c for c in line if c.isdecimal()]) / chars if chars else 0.0,
                    sum(1 for t in tokens if t[:1].isupper()) / len(tokens) if tokens else 0.0,
                    len([c for c in line if c in ',;:()"“”„«»']) / max(1, k),
                    float(any(c in "|»›•·>/" for c in line)), float(bool(_LINKISH.search(line))), float(line[:1] in "-–—•*·►▶»›" and line != ""),
                    float(line.endswith(":"))])
    wc = [words(line) for line in lines]
    total = sum(wc) or 1
    counts = Counter(normalise_line(line) for line in lines)
    body, sent, logw = [o[3] for o in own], [o[2] for o in own], [o[0] for o in own]
    kept = [float(v is None) for v in verdict]
    inreg = [float(start <= i < end) for i in range(n)]
    run = []
    for i in range(n):
        short = wc[i] <= 6 and not sent[i]
        a = i
        while a > 0 and (wc[a - 1] <= 6 and not sent[a - 1]) == short:
            a -= 1
        b = i
        while b < n - 1 and (wc[b + 1] <= 6 and not sent[b + 1]) == short:
            b += 1
        run.append(b - a + 1 if short else 0)
    rows = []
    for i, line in enumerate(lines):
        dist = 0 if start <= i < end else (i - start if i < start else i - end + 1)
        row = list(own[i]) + [float(_group(verdict[i]) == g) for g in VERDICT_GROUPS]
        row += [float(is_wall(line, verdict[i])), math.log(counts[normalise_line(line)]), i / n, sum(wc[:i]) / total,
                inreg[i], math.copysign(math.log1p(abs(dist)), dist), math.log1p(run[i])]
        for off in NEIGHBOURS:
            j = i + off
            row += [logw[j], sent[j], body[j], kept[j], inreg[j]] if 0 <= j < n else [0.0] * 5
        for w in WINDOWS:
            a, b = max(0, i - w), min(n, i + w + 1)
            row += [sum(v[a:b]) / (b - a) for v in (body, logw, kept, sent)]
        row += [math.log1p(n), sum(wc[start:end]) / total, math.log1p(sum(body))]
        rows.append(row)
    return rows


def test_numpy_features_equal_the_features_line_by_line():
    rng = random.Random(7)
    vocab = ["Home", "News", "the", "council", "voted", "on", "Tuesday", "2024", "By", "Jane", "Roe", "|", "Share"]
    lines = []
    for _ in range(60):
        line = " ".join(rng.choice(vocab) for _ in range(rng.choice([1, 2, 3, 8, 14, 30])))
        lines.append(line + rng.choice(["", ".", ":", "..."]))
    lines += ["Home", "Home", "© 2024 Example", "Reply"]
    verdict = [rng.choice([None, None, None, "page_header", "ad_marker", "title", "link_list"]) for _ in lines]
    for start, end in [(5, 40), (0, len(lines)), (30, 31)]:
        got = line_features(lines, verdict, start, end)
        want = np.array(_features_by_line(lines, verdict, start, end))
        assert got.shape == (len(lines), len(feature_names()))
        for col in range(got.shape[1]):
            assert np.allclose(got[:, col], want[:, col], rtol=0, atol=1e-12), feature_names()[col]


def _walk_each(model: LineModel, x: np.ndarray) -> np.ndarray:
    """The trees walked one row and one tree at a time, from the root until a leaf."""
    out = []
    for row in x:
        total = model.baseline
        for node in model.roots:
            while not model.is_leaf[node]:
                node = model.left[node] if row[model.feature[node]] <= model.split[node] else model.right[node]
            total += model.value[node]
        out.append(total)
    return np.array(out)


def test_shipped_trees_give_the_scores_of_a_walk_per_row():
    model = load_model()
    rng = np.random.default_rng(3)
    x = rng.normal(0.5, 1.0, size=(25, len(feature_names())))
    assert np.allclose(model.decision(x), _walk_each(model, x), rtol=0, atol=1e-9)
    assert model.decision(np.zeros((0, len(feature_names())))).shape == (0,)
