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
from transforms.clean.rules import TITLE, ends_like_sentence, is_byline, match_line_rule, normalise_line, words


@dataclasses.dataclass
class CleanResult:
    """Output of the pure cleaner for one article."""

    text: str
    title: str | None = None
    published_at: dt.datetime | None = None
    author: str | None = None
    removed: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (rule, line)


def clean_lines(
    lines: list[str],
    cfg: CleanConfig = CleanConfig(),
    structural: bool = True,
    known_title: str | None = None,
) -> CleanResult:
    """Remove boilerplate lines from an article given as lines.

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

    res.removed = [(v, lines[i]) for i, v in enumerate(verdict) if v is not None and v != TITLE]
    res.text = "\n".join(lines[i] for i, v in enumerate(verdict) if v is None)
    return res
