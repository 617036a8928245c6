"""What is cut from the edges of an HTML page's extracted text: a sign-up or paywall box that ends it, and a bare
date line that opens or closes it (the page's time stamp, which `published_at` already holds).

Pure functions over the text's lines; each returns the lines kept and the (rule, line) pairs cut, for the audit
trail (`boilerplate_removed` / `boilerplate_rules`).
"""
from __future__ import annotations

import re

from transforms.clean.rules import match_line_rule

# Membership and paywall notices of Japanese news sites ("paid members can read ...", "register for free", "read
# the rest"): the line rules' paywall notice covers English, French, Spanish and German ones.
_PAYWALL_JA = re.compile(r"有料会員|会員登録|会員限定|定期購読|有料記事|続きを読む|ログインして|登録すると")
# A paywall line longer than this is a sentence of the article that mentions subscriptions.
MAX_NOTICE_CHARS = 80
# A box's lines are short (offers, bullet points); a longer line after the notice is the article going on.
MAX_BOX_LINE_CHARS = 120
# A date line: digits, date and time marks (年月日時分, separators) and an "updated"/"published" mark only.
_DATE_MARKS = r"[\d\s年月日時分秒:：./\-()（）,、]*"
_DATE_LINE = re.compile(rf"^{_DATE_MARKS}(?:更新|公開|配信|掲載)?{_DATE_MARKS}$")
RULE_PAYWALL = "html_paywall_box"
RULE_DATE = "html_date_line"


def is_paywall_notice(line: str) -> bool:
    return match_line_rule(line) == "paywall_notice" or len(line) <= MAX_NOTICE_CHARS and bool(_PAYWALL_JA.search(line))


def is_date_line(line: str) -> bool:
    """True for "2025年1月14日 01時28分 (1月14日 01時40分更新)" or "10.11.2025 17:59": two or more numbers and
    nothing but date and time marks."""
    return len(re.findall(r"\d+", line)) >= 2 and bool(_DATE_LINE.match(line))


def cut_edges(text: str, title: str | None = None) -> tuple[str, list[tuple[str, str]]]:
    """(text kept, (rule, line) cut): a paywall or sign-up notice after the first line with only short lines after
    it is cut with those lines (the box); a date line as the first line (after the title, which the line rules
    remove later) or the last line is cut. Blank lines go."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    cut: list[tuple[str, str]] = []
    box = len(lines)  # the run of short lines that ends the text; the notice opens it or stands just above it
    while box > 1 and len(lines[box - 1]) <= MAX_BOX_LINE_CHARS:
        box -= 1
    for i in range(max(1, box - 1), len(lines)):
        if is_paywall_notice(lines[i]):
            cut += [(RULE_PAYWALL, line) for line in lines[i:]]
            lines = lines[:i]
            break
    first = 1 if lines and title and lines[0] == title.strip() else 0
    if len(lines) > first + 1 and is_date_line(lines[first]):
        cut.append((RULE_DATE, lines.pop(first)))
    if len(lines) > first + 1 and is_date_line(lines[-1]):
        cut.append((RULE_DATE, lines.pop()))
    return "\n".join(lines), cut
