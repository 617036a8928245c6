"""The line cleaner: applies the line rules and, on page dumps, the layout analysis and metadata pickers to one
article's lines, keeping every removed line with the rule that removed it."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import Counter

from transforms.clean.config import CleanConfig
from transforms.clean.headings import byline_author, find_title, parse_date_line, pick_date
from transforms.clean.layout import body_region, link_lists, menu_blocks
from transforms.clean.line_model import MIN_LINES, line_features, load_model
from transforms.clean.rules import LINE_MODEL, LINE_RULES, TITLE, ends_like_sentence, is_byline, match_line_rule, normalise_line, words


@dataclasses.dataclass
class CleanResult:
    """Output of the pure cleaner for one article."""

    text: str
    title: str | None = None
    published_at: dt.datetime | None = None
    author: str | None = None
    removed: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (rule, line)


# Verdicts the line model never overrides: what a line says (an ad marker, a cookie notice, ...) and the title.
FIXED_VERDICTS = frozenset(name for name, _ in LINE_RULES) | {TITLE}


def rule_verdicts(
    lines: list[str],
    cfg: CleanConfig = CleanConfig(),
    structural: bool = True,
    known_title: str | None = None,
) -> tuple[list[str], list[str | None], int, int, CleanResult]:
    """The rules' pass over an article's lines: (stripped non-empty lines, verdict per line (a rule name or None to
    keep), body region [start, end) (0, 0 without layout), the result with title, date and author filled in).

    `structural` turns on the rules for a whole-page text dump (raw text): the body region, the
    title above it, headers and footers around it, link lists inside it. HTML extracted by
    trafilatura has already lost the page layout and gets only the line rules (and menu blocks).
    """
    lines = [re.sub(r"\s+", " ", l).strip() for l in lines]
    lines = [l for l in lines if l]
    verdict: list[str | None] = [None] * len(lines)
    res = CleanResult(text="")

    counts = Counter(normalise_line(l) for l in lines if words(l) <= cfg.credit_max_words and not ends_like_sentence(l))
    title_key = normalise_line(known_title) if known_title else None
    dated: list[int] = []  # raw text: the lines that are a date

    for i, line in enumerate(lines):
        rule = match_line_rule(line)
        if rule is None and title_key is not None and normalise_line(line) == title_key:
            rule = TITLE
        if rule is None and structural:
            when = parse_date_line(line)
            if when is not None:
                rule = "date_line"
                dated.append(i)
        if rule is None and structural and is_byline(line):
            rule = "byline"
            res.author = res.author or byline_author([line])
        if rule is None and counts.get(normalise_line(line), 0) >= 2:
            rule = "repeated_credit"
        verdict[i] = rule

    start = end = 0
    if structural:
        start, end = body_region(lines, verdict, cfg)
        if start == end:
            # No body line at all (a short note, a list): judge only by the line rules, never empty a page by layout.
            start, end = 0, len(lines)
        res.published_at = pick_date(lines, dated, start, end, cfg)
        # The title: the headline-like line above the body that shares most words with the body's lead.
        if known_title is None:
            i = find_title(lines, verdict, start, end, cfg)
            if i is not None:
                res.title = lines[i]
                verdict[i] = TITLE
        for i in range(len(lines)):
            if verdict[i] is None and not start <= i < end:
                verdict[i] = "page_header" if i < start else "page_footer"
        # Inside the body: runs of short unpunctuated lines are link lists; a single one is a subheading.
        for i in link_lists(lines, verdict, start, end, cfg):
            verdict[i] = "link_list"
    else:
        for i in menu_blocks(lines, verdict):
            verdict[i] = "menu_block"
    return lines, verdict, start, end, res


def clean_lines(
    lines: list[str],
    cfg: CleanConfig = CleanConfig(),
    structural: bool = True,
    known_title: str | None = None,
    model: bool = True,
) -> CleanResult:
    """Remove boilerplate lines from an article given as lines (see `rule_verdicts`).

    On a page dump (`structural`) with `model`, the learned line model (transforms/clean/line_model.py) has the
    last word on each line the rules left to layout; the title line always goes to `title`.
    """
    lines, verdict, start, end, res = rule_verdicts(lines, cfg, structural, known_title)
    if structural and model:
        verdict = apply_line_model(lines, verdict, start, end, cfg)
    res.removed = [(v, lines[i]) for i, v in enumerate(verdict) if v is not None and v != TITLE]
    res.text = "\n".join(lines[i] for i, v in enumerate(verdict) if v is None)
    return res


def apply_line_model(lines: list[str], verdict: list[str | None], start: int, end: int,
                     cfg: CleanConfig = CleanConfig()) -> list[str | None]:
    """The verdicts with the line model's say (`LineModel.keep`): a line it takes for body is kept, one it does not
    is removed as `line_model`, unless a rule of what the line says (or the title) removed it. Unchanged without
    a model."""
    lm = load_model()
    if lm is None or len(lines) < MIN_LINES:  # the model keeps the rules' verdicts there (LineModel.keep)
        return verdict
    keep = lm.keep(line_features(lines, verdict, start, end, cfg), [v is None for v in verdict], [words(l) for l in lines])
    out = list(verdict)
    for i, v in enumerate(verdict):
        if v in FIXED_VERDICTS:
            continue
        out[i] = None if keep[i] else (v or LINE_MODEL)
    return out
