"""Title, date and byline picking on raw text: which line is the headline, the dateline and the credit."""
from __future__ import annotations

import datetime as dt
import re

from transforms.clean.config import CleanConfig
from transforms.clean.rules import MONTH, YEAR, ends_like_sentence, is_byline, pattern, words
from transforms.dates import DateMode, parse_date

_CREDIT_LIKE = pattern(r"^(by|posted by|written by|posted in|filed under)\b|(^|\s)@\w")
_CONTENT_WORD = re.compile(r"[^\W\d_]{4,}")
_DATE_PREFIX = pattern(r"^(published|updated|posted|last updated|first published|last modified|date)( on| at)?\s*:?\s*")


def is_headline(line: str) -> bool:
    """Looks like a headline: 3-30 words, no final period, mostly letters."""
    n = words(line)
    return 3 <= n <= 30 and not line.endswith(".") and sum(c.isalpha() for c in line) >= 0.6 * len(line)


def _content_words(text: str) -> set[str]:
    return {w.lower() for w in _CONTENT_WORD.findall(text)}


def find_title(lines: list[str], verdict: list[str | None], start: int, end: int, cfg: CleanConfig) -> int | None:
    """Index of the article's headline in a page dump, or None.

    Candidates are headline-shaped lines (`is_headline`) the line rules kept, up to `title_window` lines above
    the body, that are not credits ("By ...", "Posted by ...", an @handle). A headline names what the lead is
    about, so the candidate with the largest share of its words (4+ letters) among the body's first
    `title_lead_words` words wins, the nearer one on a tie; when none shares `title_min_overlap` of its
    words, the nearest candidate is taken.
    """
    cands = [i for i in range(start - 1, max(-1, start - 1 - cfg.title_window), -1)
             if verdict[i] is None and is_headline(lines[i]) and not _CREDIT_LIKE.search(lines[i])]
    if not cands:
        return None
    lead = _content_words(" ".join(" ".join(lines[start:end]).split()[: cfg.title_lead_words]))
    best, best_share = cands[0], 0.0
    for i in cands:
        own = _content_words(lines[i])
        share = len(own & lead) / len(own) if own else 0.0
        if share > best_share:
            best, best_share = i, share
    return best if best_share >= cfg.title_min_overlap else cands[0]


def _date_text(line: str) -> str:
    """A line without its 'Published:'-style prefix and edge punctuation."""
    return _DATE_PREFIX.sub("", line.strip()).strip(" |,-–—")


def parse_date_line(line: str) -> dt.datetime | None:
    """The date a line holds when the whole line is a date (optionally 'Published: ...'), else None."""
    if words(line) > 10 or not YEAR.search(line) or not MONTH.search(line):
        return None
    text = _date_text(line)
    return parse_date(text, DateMode.TEXT) if text else None


def credit_date(line: str) -> dt.datetime | None:
    """The date in a short credit or dateline ("By Jane Smith on July 24, 2012 at 7:29 am"), or None."""
    if words(line) > 20 or ends_like_sentence(line) or not YEAR.search(line) or not MONTH.search(line):
        return None
    return parse_date(_date_text(line), DateMode.FULL_TEXT, fuzzy=True)


def pick_date(lines: list[str], dated: list[int], start: int, end: int, cfg: CleanConfig) -> dt.datetime | None:
    """`published_at` of a page dump: the date line (`dated`: their indices) nearest the start of the body, up to
    `date_window` lines above it or `date_body_lines` into it; else the first date in a short credit line there
    ("By Jane Smith on July 24, 2012"). Only full dates count. None when there is none near the body: a date
    elsewhere on a page more often belongs to a sidebar or an archive list than to the article."""
    lo, hi = start - cfg.date_window, min(end, start + cfg.date_body_lines)
    for i in sorted((i for i in dated if lo <= i < hi), key=lambda i: abs(i - start + 0.5)):
        when = parse_date(_date_text(lines[i]), DateMode.FULL_TEXT)
        if when is not None:
            return when
    for i in [*range(start - 1, max(-1, lo - 1), -1), *range(start, hi)]:
        when = credit_date(lines[i])
        if when is not None:
            return when
    return None


def byline_author(lines: list[str]) -> str | None:
    """The name in the first byline line ("By Jane Smith, Reuters") among `lines`, or None."""
    for line in lines:
        line = line.strip()
        if is_byline(line):
            return re.sub(r"^\w+(\s+by)?\s+", "", line, flags=re.I).split(",")[0].strip()
    return None
