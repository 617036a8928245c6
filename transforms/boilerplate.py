"""Boilerplate stage: HTML extraction, named line rules, and per-source template lines learned from the corpus.

Every removed line is kept with the name of the rule that removed it (`boilerplate_removed`,
`boilerplate_rules`), so a user can audit the cleaner.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import warnings
from collections import Counter
from collections.abc import Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.records import FORMAT_JSONL_TITLE, UTC, CleanArticle, RawArticle
from schemas.rejects import Reason, Reject, Stage
from transforms.dates import DateMode, parse_date
from transforms.fingerprints import comparison_text, content_hash
from transforms.urls import canonical_url
from transforms.urls import identity_host as host_of

REJECTS = "rejects"


@dataclasses.dataclass(frozen=True)
class CleanConfig:
    """Constants of the cleaner. Defaults are what the pipeline runs with (measured: README "Quality")."""

    # A line with at least this many words that ends like a sentence is article body.
    body_min_words: int = 10
    # Lines this long are body whatever their punctuation.
    body_any_words: int = 25
    # Short unpunctuated lines repeated inside one article (source credits) are removed.
    credit_max_words: int = 6
    # Raw text: a line that is not body costs this much (in words of body) inside the body region,
    # so a region only bridges a gap of short lines when there is more body on both sides.
    gap_cost: float = 4.0
    # Raw text: the article is the first comment-free section with a run of this many body words.
    body_min_region: int = 80
    # ... and at least this share of the best section's body words (a short blurb above the article is not it).
    body_min_share: float = 0.2
    # Raw text: comment furniture (stamps, "Reply", headings) recurring within this many lines is a thread ...
    thread_gap: int = 12
    # ... when a wall is followed by this many more, each within thread_gap lines of the one before.
    thread_follow: int = 2
    # ... and the article is above the thread when a run there weighs this many body words (however long the
    # thread); below a comment heading alone, body_min_region words are needed.
    thread_article_min: float = 40.0
    # Raw text: runs of this many short unpunctuated lines inside the body are link lists.
    link_run: int = 2
    # ... of lines up to this many words; a longer unpunctuated line is a list item of the article.
    link_max_words: int = 10
    # Raw text: the title is a headline-like line at most this many lines above the body.
    title_window: int = 8
    # ... preferring the one whose words (4+ letters) recur in the body's first title_lead_words words, when
    # at least title_min_overlap of them do.
    title_lead_words: int = 150
    title_min_overlap: float = 0.3
    # Raw text: published_at is the date line nearest the body's start, at most date_window lines above it or
    # date_body_lines into it (else a date in a credit line there); a date further away is not taken.
    date_window: int = 15
    date_body_lines: int = 3
    # Learned template: a line is template when it recurs in this many distinct articles of one source.
    learn_min_articles: int = 3
    # ... and longer lines (more words than learn_short_words) need learn_min_articles_long.
    learn_short_words: int = 12
    learn_min_articles_long: int = 6
    learn_max_words: int = 80
    # trafilatura settings: fast=True without favor_precision scored best on the dev sets and is the quickest.
    favor_precision: bool = False
    fast: bool = True
    include_tables: bool = True

    def __post_init__(self):
        if self.learn_min_articles < 2 or self.learn_min_articles_long < self.learn_min_articles:
            raise ValueError("learn_min_articles must be >= 2 and <= learn_min_articles_long")
        if self.gap_cost <= 0 or self.link_run < 2:
            raise ValueError("gap_cost must be > 0 and link_run >= 2")
        if self.thread_gap < 1 or self.thread_follow < 1:
            raise ValueError("thread_gap and thread_follow must be >= 1")
        if not 0.0 <= self.title_min_overlap <= 1.0:
            raise ValueError("title_min_overlap must be between 0 and 1")


# --------------------------------------------------------------------------------------------
# Line rules. Each is a named predicate over one stripped line; the first that matches removes it.
# --------------------------------------------------------------------------------------------

def words(line: str) -> int:
    return len(line.split())


# Sentence punctuation, then any closing quotes or brackets, typed either way round (“ ” ‘ ’ « » '' "):
# a text whose quotes were retyped must not lose its sentences.
_END = re.compile(r"""[.!?…:;]["'“”‘’«»„)\]*_]*$""")
# A trailing ellipsis: a truncated teaser ("Arsenio Hall's Talk Show Now A Firm Go For …"), not a sentence.
_TRUNCATED = re.compile(r"(…|\.\.\.+|\[\.\.\.\]|\[…\])\s*$")


def ends_like_sentence(line: str) -> bool:
    """Ends with sentence punctuation; a trailing ellipsis marks a truncated teaser, not a sentence."""
    return bool(_END.search(line)) and not _TRUNCATED.search(line)


def _rx(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE | re.UNICODE)


_AD = _rx(
    r"^(advertisement|advertising|advert|ads?|sponsored( content| post| links?)?|paid (content|post)|"
    r"promoted( content| stories)?|(story|article) continues (below|after)( this)?( advertisement| ad)?|"
    r"continue reading (below|the main story)|scroll (down )?to continue( reading)?|skip (advert(isement)?|ad))"
    r"[\s:.!\-–—]*$"
)
# A call to give money, not a sentence that mentions donations.
_DONATION = _rx(
    r"\b(donate (now|today|here)|please donate|make a (charitable |tax[- ]deductible )?(donation|gift|contribution)|"
    r"support (us|our (work|journalism|newsroom|reporting|mission)|independent (journalism|media))|"
    r"become a (member|patron|supporter|sustaining member)|chip in|support .{1,30} on patreon)\b"
)
_NEWSLETTER_CTA = _rx(r"\b(sign ?up|subscribe|join|register|get|receive|enter your email|delivered)\b")
_NEWSLETTER_OBJ = _rx(r"\b(newsletters?|mailing list|e-?mail (alerts?|updates|list)|inbox|daily (digest|briefing)|news alerts)\b")
_SOCIAL_TOKEN = (
    r"(share( this( article| story| page| post)?)?( on)?|shares?|tweet|e-?mail( this)?( post| article| story)?|print( this)?|"
    r"facebook|twitter|x|linkedin|whatsapp|pinterest|reddit|telegram|tumblr|flipboard|messenger|digg|stumbleupon|delicious|"
    r"copy( the)? link|link copied|save|bookmark|permalink|trackback( uri)?|rss( feed)?|"
    r"\d+\s*comments?|comments?|leave a (comment|reply)|(view|show|hide|add|post|read) (all |a )?comments?|reply|"
    r"like|follow( us)?( on)?|google\+?|instagram|youtube)"
)
_SHARE = _rx(rf"^({_SOCIAL_TOKEN}[\s|/·•,:;!()-]*)+$")
_COOKIE = _rx(
    r"\b(we use cookies|(this|our) (web)?site uses cookies|cookie (policy|settings|preferences|consent)|"
    r"accept (all )?cookies|manage (your )?cookies)\b"
)
_PAYWALL = _rx(
    r"\b(subscribe (now )?to (continue|read|unlock)|already a (subscriber|member)|to continue reading|"
    r"(log|sign) ?in to (continue|read)|for (subscribers|members) only|subscribers? only|"
    r"(you have|you've) reached your (free )?(article )?limit|free articles? (left|remaining))\b"
)
_RELATED = _rx(
    r"^(related( articles?| stories| coverage| content| news| links?| posts?)?|read more|read also|also read|see also|more from|"
    r"recommended( for you| reading)?|you (may|might) also like|most (read|popular|viewed|shared|emailed)|trending( now)?|"
    r"more (stories|news|on this)|top stories|latest (news|stories)|editor'?s picks)\b"
)
_FOOTER = _rx(r"^(©|\(c\)\s*\d{4}|copyright\b)|\ball rights reserved\b|^(terms of (use|service)|privacy policy)\b")
_TAGS = _rx(r"^(tags?|topics?|filed under|categories|keywords)\s*:")
_NAV = re.compile(r"^[^.!?|]{1,40}(\s+[|»›>•·/]\s+[^.!?]{1,40}){2,}$")
_CAPTION = _rx(
    r"^(photo|image|picture|file photo|illustration|graphic|video)s?\s*(:|credit|by\b|courtesy)|"
    r"\b(photo|image|picture)\s*(credit|courtesy)\b|\((photo|image|file photo|pictured)\b|"
    r"(\bvia|/|\||©|photo:?)\s*(the\s+)?(AP|Associated Press|Reuters|AFP|Getty( Images)?|EPA|Shutterstock|"
    r"Bloomberg|AAP|PA( Images)?|Xinhua|Anadolu|Sputnik|TASS)\b[\w\s./-]*$|^enlarge (photo|image)$"
)
_MONTHS = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# Blog archive widgets: "February (60)", "March 2012 (4)".
_ARCHIVE = _rx(rf"^[-•»\s]*{_MONTHS}(\s+\d{{4}})?\s*\(\d+\)$")
# Comment-thread metadata: "Posted by: Mario | Mar 21, 2007 2:51:31 AM", "Jeff on July 25, 2012 at 11:01 am".
_COMMENT_META = _rx(
    rf"^(posted by:?\s+.{{1,40}}\s+(\||at|on)\s+.*\d|.{{1,40}}\s+(on|—|-|\|)\s+{_MONTHS}\s+\d{{1,2}}(st|nd|rd|th)?,?\s+\d{{4}}.*\d:\d\d\s*([ap]\.?m\.?)?)$"
)
# Where the comment thread starts on a page dump.
_COMMENT_HEAD = _rx(
    r"^[{\[(]?\s*(\d+\s+)?(comments?|responses?|replies|(reader|public) (comments|discussion)|discussion)"
    r"( \(?\d+\)?)?\s*[:}\])»›]?$|"
    r"^(leave|post|add|write) (a|your) (comment|reply|response)|^join the (discussion|conversation)|"
    r"^\d+ (\w+ )?(comments?|responses?|thoughts?) (on|to)\b"
)
_BYLINE = re.compile(
    r"^(by|written by|posted by|von|par|por)\s+[A-Z][\w.'’-]+(\s+[A-Z][\w.'’-]+){0,3}"
    r"((,|\s+and|\s+&)\s+[A-Z][\w.'’-]+(\s+[A-Z][\w.'’-]+){0,3})*(\s*[,|–—-]\s*[\w .'’]{1,40})?$",
    re.IGNORECASE,
)
_DATE_PREFIX = _rx(r"^(published|updated|posted|last updated|first published|last modified|date)( on| at)?\s*:?\s*")
_MONTH = _rx(rf"\b{_MONTHS}\b|\b\d{{1,4}}[-/.]\d{{1,2}}[-/.]\d{{1,4}}\b")
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")


def _date_text(line: str) -> str:
    """A line without its 'Published:'-style prefix and edge punctuation."""
    return _DATE_PREFIX.sub("", line.strip()).strip(" |,-–—")


def _parse_date(text: str, fuzzy: bool = False, full: bool = False) -> dt.datetime | None:
    """The date in page text (see transforms/dates.py), in UTC; with `full`, only one that gives day, month and year."""
    return parse_date(text, DateMode.FULL_TEXT if full else DateMode.TEXT, fuzzy=fuzzy)


def parse_date_line(line: str) -> dt.datetime | None:
    """The date a line holds when the whole line is a date (optionally 'Published: ...'), else None."""
    if words(line) > 10 or not _YEAR.search(line) or not _MONTH.search(line):
        return None
    text = _date_text(line)
    return _parse_date(text) if text else None


def byline_author(lines: list[str]) -> str | None:
    """The name in the first byline line ("By Jane Smith, Reuters") among `lines`, or None."""
    for line in lines:
        line = line.strip()
        if words(line) <= 12 and _BYLINE.match(line) and not ends_like_sentence(line):
            return re.sub(r"^\w+(\s+by)?\s+", "", line, flags=re.I).split(",")[0].strip()
    return None


def _is_newsletter(line: str) -> bool:
    return words(line) <= 30 and bool(_NEWSLETTER_CTA.search(line)) and bool(_NEWSLETTER_OBJ.search(line))


# (rule name, predicate). Order matters only for which name a line is counted under.
LINE_RULES: tuple[tuple[str, object], ...] = (
    ("ad_marker", lambda s: bool(_AD.match(s))),
    ("share_widget", lambda s: words(s) <= 12 and bool(_SHARE.match(s))),
    ("donation_banner", lambda s: words(s) <= 25 and bool(_DONATION.search(s))),
    ("newsletter_prompt", _is_newsletter),
    ("cookie_notice", lambda s: words(s) <= 60 and bool(_COOKIE.search(s))),
    ("paywall_notice", lambda s: words(s) <= 30 and bool(_PAYWALL.search(s))),
    ("related_links", lambda s: words(s) <= 15 and bool(_RELATED.match(s)) and not ends_like_sentence(s)),
    ("site_footer", lambda s: words(s) <= 30 and bool(_FOOTER.search(s))),
    ("tag_list", lambda s: words(s) <= 40 and bool(_TAGS.match(s))),
    ("navigation", lambda s: bool(_NAV.match(s))),
    ("photo_caption", lambda s: words(s) <= 60 and not ends_like_sentence(s) and bool(_CAPTION.search(s))),
    ("archive_list", lambda s: bool(_ARCHIVE.match(s))),
    ("comment_meta", lambda s: words(s) <= 16 and bool(_COMMENT_META.match(s))),
)
# Rules that judge a line by where it sits rather than by what it says; a learned template line
# is counted as `learned_template` even when one of these removed it first.
POSITIONAL_RULES = ("page_header", "page_footer", "link_list", "comment_section", "menu_block", "section_label", "tail_label")
RULE_NAMES = tuple(name for name, _ in LINE_RULES) + (
    "byline",
    "date_line",
    "repeated_credit",
    "title",
    "learned_template",
) + POSITIONAL_RULES


def match_line_rule(line: str) -> str | None:
    """Name of the first line rule that marks this line as boilerplate, or None to keep it."""
    for name, predicate in LINE_RULES:
        if predicate(line):
            return name
    return None


def normalise_line(line: str) -> str:
    """Key for comparing lines across articles: case, spacing and digits folded."""
    return re.sub(r"\d+", "0", re.sub(r"\s+", " ", line.strip().lower()))


def is_body_line(line: str, cfg: CleanConfig) -> bool:
    n = words(line)
    return n >= cfg.body_any_words or (n >= cfg.body_min_words and ends_like_sentence(line))


def is_headline(line: str) -> bool:
    """Looks like a headline: 3-30 words, no final period, mostly letters."""
    n = words(line)
    return 3 <= n <= 30 and not line.endswith(".") and sum(c.isalpha() for c in line) >= 0.6 * len(line)


_CREDIT_LIKE = _rx(r"^(by|posted by|written by|posted in|filed under)\b|(^|\s)@\w")
_CONTENT_WORD = re.compile(r"[^\W\d_]{4,}")


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


def credit_date(line: str) -> dt.datetime | None:
    """The date in a short credit or dateline ("By Jane Smith on July 24, 2012 at 7:29 am"), or None."""
    if words(line) > 20 or ends_like_sentence(line) or not _YEAR.search(line) or not _MONTH.search(line):
        return None
    return _parse_date(_date_text(line), fuzzy=True, full=True)


def pick_date(lines: list[str], dated: list[int], start: int, end: int, cfg: CleanConfig) -> dt.datetime | None:
    """`published_at` of a page dump: the date line (`dated`: their indices) nearest the start of the body, up to
    `date_window` lines above it or `date_body_lines` into it; else the first date in a short credit line there
    ("By Jane Smith on July 24, 2012"). Only full dates count. None when there is none near the body: a date
    elsewhere on a page more often belongs to a sidebar or an archive list than to the article."""
    lo, hi = start - cfg.date_window, min(end, start + cfg.date_body_lines)
    for i in sorted((i for i in dated if lo <= i < hi), key=lambda i: abs(i - start + 0.5)):
        when = _parse_date(_date_text(lines[i]), full=True)
        if when is not None:
            return when
    for i in [*range(start - 1, max(-1, lo - 1), -1), *range(start, hi)]:
        when = credit_date(lines[i])
        if when is not None:
            return when
    return None


@dataclasses.dataclass
class CleanResult:
    """Output of the pure cleaner for one article."""

    text: str
    title: str | None = None
    published_at: dt.datetime | None = None
    author: str | None = None
    removed: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (rule, line)


def _menu_blocks(lines: list[str], verdict: list[str | None]) -> set[int]:
    """Indexes of runs of 3+ consecutive very short unpunctuated kept lines: menus and link lists."""
    out: set[int] = set()
    run: list[int] = []
    for i, line in enumerate(lines + [""]):
        if i < len(lines) and verdict[i] is not None:
            continue
        if line and words(line) <= 3 and not ends_like_sentence(line) and not _YEAR.search(line):
            run.append(i)
            continue
        if len(run) >= 3:
            out.update(run)
        run = []
    return out


# Lines of a comment thread's furniture: "Jane says:", "July 5, 2012 at 9:42 am", "Reply", "Report abuse".
_COMMENT_MARK = _rx(
    r"^(.{1,60}\s(says|said|wrote|writes)\s*:?|(reply|report( abuse| comment)?|(log|sign) in to reply|flag( as inappropriate)?)"
    r"( ↓| »)?)$"
)
_TIME = _rx(r"\b\d{1,2}:\d\d\s*([ap]\.?m\.?)?\b")


def is_wall(line: str, verdict: str | None) -> bool:
    """Where the article ends on a page dump: a comment-thread heading, a comment's furniture ("Jane says:",
    "Reply", a date-and-time stamp) or a share widget. A body run never spans one."""
    if verdict in (None, "share_widget") and _COMMENT_HEAD.match(line):
        return True
    if verdict in ("comment_meta", "share_widget"):
        return True
    short = words(line) <= 12
    if short and _COMMENT_MARK.match(line):
        return True
    # A comment's date-time stamp, with its author and links ("Jo responded to Ann on May 2, 2012 at 8:19 am
    # Link To Comment | Reply") up to 20 words.
    return words(line) <= 20 and not ends_like_sentence(line) and bool(_TIME.search(line)) and bool(_MONTH.search(line))


def _is_weak_wall(line: str, verdict: str | None) -> bool:
    """A wall only by a date-time stamp or an "X said:" mark: on its own it is the article's dateline or a quote."""
    return verdict not in ("comment_meta", "share_widget") and not _COMMENT_HEAD.match(line) and not _REPLY.match(line)


_REPLY = _rx(r"^(reply|report( abuse| comment)?|(log|sign) in to reply|flag( as inappropriate)?)( ↓| »)?$")


def _is_comment_wall(line: str, verdict: str | None) -> bool:
    """A wall that belongs to a comment thread (not a share bar, unless the bar is a comment heading)."""
    if verdict == "share_widget":
        return bool(_COMMENT_HEAD.match(line))
    return is_wall(line, verdict)


def _drop_lone_stamps(lines, verdict, walls: list[int], cfg: CleanConfig) -> list[int]:
    """Walls minus weak ones (stamps, "X said:") with no other wall within `thread_gap` lines: a thread's
    stamps recur, a post's own dateline ("Posted at 10:00 AM ET, 11/29/2011") or a quoted "X said:" does not.
    A stamp right next to another weak wall (a two-line dateline) does not count as recurring."""
    weak = {i for i in walls if _is_weak_wall(lines[i], verdict[i])}
    kept = []
    for n, i in enumerate(walls):
        if i in weak:
            near = [j for j in walls[max(0, n - cfg.thread_gap): n + cfg.thread_gap + 1]
                    if j != i and abs(i - j) <= cfg.thread_gap and not (j in weak and abs(i - j) <= 1)]
            if not near:
                continue
        kept.append(i)
    return kept


def _thread_start(lines, verdict, sections, cfg: CleanConfig) -> int | None:
    """(index of the section a comment thread follows, body words the sections above need to hold the article).

    The thread starts at the first comment wall followed by `thread_follow` more, each within `thread_gap`
    lines of the one before (`thread_article_min` above it), or at a comment heading such as "{ 131 comments }"
    (a full `body_min_region` above it, since a bare count also sits under headlines); (None, 0) without one."""
    ks = [k for k, (_, b) in enumerate(sections) if b < len(lines) and _is_comment_wall(lines[b], verdict[b])]
    at = [sections[k][1] for k in ks]
    for n, k in enumerate(ks):
        if n + cfg.thread_follow < len(ks) and all(
            at[n + m + 1] - at[n + m] <= cfg.thread_gap for m in range(cfg.thread_follow)
        ):
            return k, cfg.thread_article_min
        if _COMMENT_HEAD.match(lines[at[n]]) and not _BARE_COMMENTS.match(lines[at[n]]):
            return k, cfg.body_min_region
    return None, 0.0


def _best_segment(lines, verdict, cfg, lo, hi) -> tuple[float, int, int]:
    """(score, start, end) of the maximum-sum run of lines in [lo, hi) (see body_region)."""
    best, best_span = 0.0, (lo, lo)
    acc, start = 0.0, lo
    for i in range(lo, hi):
        line = lines[i]
        if verdict[i] is not None:
            w = 0.0
        elif is_body_line(line, cfg):
            w = float(words(line))
        elif ends_like_sentence(line) and words(line) >= 3:
            w = 0.0
        else:
            w = -cfg.gap_cost
        if acc <= 0:
            acc, start = 0.0, i
        acc += w
        if acc > best:
            best, best_span = acc, (start, i + 1)
    return best, best_span[0], best_span[1]


_BARE_COMMENTS = _rx(r"^(comments?|discussion)$")


def _between_paragraphs(lines: list[str], verdict: list[str | None], i: int, cfg: CleanConfig) -> bool:
    """A share widget or a bare "Comments" link with article paragraphs right above and below it
    (removed lines aside) sits inside the article, not at its end."""
    if verdict[i] != "share_widget" or (_COMMENT_HEAD.match(lines[i]) and not _BARE_COMMENTS.match(lines[i])):
        return False

    def nearest(step):
        j = i + step
        while 0 <= j < len(lines) and verdict[j] is not None and not is_wall(lines[j], verdict[j]):
            j += step
        return j if 0 <= j < len(lines) else None

    before, after = nearest(-1), nearest(1)
    return (before is not None and after is not None and verdict[before] is None and verdict[after] is None
            and is_body_line(lines[before], cfg) and is_body_line(lines[after], cfg))


def body_region(lines: list[str], verdict: list[str | None], cfg: CleanConfig) -> tuple[int, int]:
    """[start, end) of the main body of a page dump: the run of lines with the most body words net of gaps.

    Body lines weigh their word count, other kept lines cost `gap_cost`, short sentences and removed
    lines are neutral (maximum-sum segment). Walls (`is_wall`: comment headings and furniture, share
    widgets) split the page into sections a run cannot cross; the article is the first section holding
    a substantial run (`body_min_region` words or half the best section's, and at least `body_min_share`
    of it), since comments and share bars follow the article and a "Comments" tab may sit above it.
    A lone date-time stamp is the post's dateline, not a wall; above a comment thread (furniture that
    recurs, or a comment heading) only the sections before it compete when they hold an article's run.
    """
    walls = [i for i, line in enumerate(lines) if is_wall(line, verdict[i]) and not _between_paragraphs(lines, verdict, i, cfg)]
    walls = _drop_lone_stamps(lines, verdict, walls, cfg)
    bounds = [-1, *walls, len(lines)]
    sections = [(_best_segment(lines, verdict, cfg, a + 1, b), b) for a, b in zip(bounds, bounds[1:])]
    opens = dict(zip(bounds[1:], (a + 1 for a in bounds)))  # a section's first line, by the wall that ends it
    # Above a comment thread, a run of a few body lines is the article, however long the thread below it.
    thread, need_above = _thread_start(lines, verdict, sections, cfg)
    if thread is not None and max(score for (score, _, _), _ in sections[: thread + 1]) >= need_above:
        sections = sections[: thread + 1]
    top = max(score for (score, _, _), _ in sections)
    need = max(min(cfg.body_min_region, 0.5 * top), cfg.body_min_share * top)
    for (score, start, end), wall in sections:
        if score > 0 and score >= need:
            start, end = _extend_run(lines, verdict, start, end, opens[wall], wall, cfg)
            if wall < len(lines) and (verdict[wall] is None or _COMMENT_HEAD.match(lines[wall])):
                verdict[wall] = "comment_section"
            return start, end
    return 0, 0


def _is_sentence_like(line: str, cfg: CleanConfig) -> bool:
    """A short paragraph of the article: a sentence of a few words, not a body line on its own."""
    return ends_like_sentence(line) and words(line) >= 3


def _extend_run(lines, verdict, start: int, end: int, lo: int, hi: int, cfg: CleanConfig) -> tuple[int, int]:
    """The body run [start, end) widened over the short sentences right next to it (removed lines in between are
    neutral): a short paragraph at either end of the article weighs nothing in the maximum-sum run, yet belongs
    to it. It stops at any other kept line, at a wall and at the bounds [lo, hi) of its section."""
    def reach(i, step):
        edge, j = i, i + step
        while lo <= j < hi and not is_wall(lines[j], verdict[j]):
            if verdict[j] is None:
                if not _is_sentence_like(lines[j], cfg):
                    break
                edge = j
            j += step
        return edge
    if start >= end:
        return start, end
    return reach(start, -1), reach(end - 1, 1) + 1


def clean_lines(
    lines: list[str],
    cfg: CleanConfig = CleanConfig(),
    structural: bool = True,
    known_title: str | None = None,
) -> CleanResult:
    """Remove boilerplate lines from an article given as lines.

    `structural` turns on the rules for a whole-page text dump (raw text): the body region, the
    title above it, headers and footers around it, link lists inside it. HTML extracted by
    trafilatura has already lost the page layout and gets only the line rules.
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
            rule = "title"
        if rule is None and structural:
            when = parse_date_line(line)
            if when is not None:
                rule = "date_line"
                dated.append(i)
        if rule is None and structural and words(line) <= 12 and _BYLINE.match(line) and not ends_like_sentence(line):
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
                verdict[i] = "title"
        for i in range(len(lines)):
            if verdict[i] is None and not start <= i < end:
                verdict[i] = "page_header" if i < start else "page_footer"
        # Inside the body: runs of short unpunctuated lines are link lists; a single one is a subheading.
        run: list[int] = []
        for i in list(range(start, end)) + [end]:
            line = lines[i] if i < end else ""
            listy = not is_body_line(line, cfg) and not ends_like_sentence(line) and words(line) <= cfg.link_max_words
            if i < end and verdict[i] is None and listy:
                run.append(i)
                continue
            if i < end and verdict[i] is not None:
                continue
            if len(run) >= cfg.link_run:
                for j in run:
                    verdict[j] = "link_list"
            run = []
    else:
        for i in _menu_blocks(lines, verdict):
            verdict[i] = "menu_block"

    res.removed = [(v, lines[i]) for i, v in enumerate(verdict) if v is not None and v != "title"]
    res.text = "\n".join(lines[i] for i, v in enumerate(verdict) if v is None)
    return res


def split_lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


# --------------------------------------------------------------------------------------------
# HTML extraction (trafilatura) and language detection.
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Extracted:
    text: str
    title: str | None = None
    author: str | None = None
    published_at: dt.datetime | None = None
    site: str | None = None
    language: str | None = None
    url: str | None = None


class ExtractionError(Exception):
    pass


_HTML_LANG = re.compile(r"<html[^>]*\blang\s*=\s*[\"']?([a-zA-Z]{2,3})", re.I)


def page_metadata(tree, url: str | None) -> Extracted:
    """Title, author, date, site and URL of a parsed page: trafilatura's metadata steps minus the slow ones.

    Meta tags and JSON-LD first, then the page's own title/author elements; the date comes from
    htmldate without its extensive search (which parses every date-like string on the page and
    costs more than the text extraction itself). Categories, tags and licence are not needed.
    """
    from htmldate import find_date
    from trafilatura import metadata as tm

    meta = tm.examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None
    try:
        meta = tm.extract_meta_json(tree, meta)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        pass  # malformed JSON-LD: keep what the meta tags gave
    title = meta.title or tm.extract_title(tree)
    # trafilatura's in-page author search (an XPath sweep of the whole tree) costs a fifth of the
    # extraction time; without meta/JSON-LD author, the byline at the top of the text is used instead.
    author = meta.author
    page_url = meta.url or tm.extract_url(tree, url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        date = find_date(tree, url=page_url, original_date=True, extensive_search=False,
                         max_date=dt.date.today().isoformat())
    site = meta.sitename or tm.extract_sitename(tree)
    if site:
        site = site.lstrip("@") or None
    if not site and page_url:
        site = host_of(page_url)
    published = None
    if date:
        try:
            published = dt.datetime.fromisoformat(date).replace(tzinfo=UTC)
        except ValueError:
            published = None
    return Extracted(text="", title=title or None, author=author or None, published_at=published, site=site,
                     url=page_url or url)


def extract_html(html: str, url: str | None, cfg: CleanConfig = CleanConfig()) -> Extracted:
    """Main text and metadata of an HTML page via trafilatura; raises ExtractionError when there is none."""
    import trafilatura
    from trafilatura.utils import load_html

    if not re.search(r"<\s*(html|body|p|div|article)\b", html[:200000], re.I):
        raise ExtractionError("input has no HTML markup")
    tree = load_html(html)
    if tree is None:
        raise ExtractionError("HTML could not be parsed")
    ex = page_metadata(tree, url)  # reads the tree; trafilatura cleans a copy of it
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        fast=cfg.fast,
        favor_precision=cfg.favor_precision,
        include_comments=False,
        include_tables=cfg.include_tables,
        deduplicate=False,
        with_metadata=False,
    )
    if doc is None or not (doc.text or "").strip():
        raise ExtractionError("trafilatura found no main text")
    m = _HTML_LANG.search(html[:5000])
    ex.text = doc.text
    if ex.author is None:
        ex.author = byline_author(split_lines(doc.text)[:5])
    ex.language = m.group(1).lower() if m else None
    return ex


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language (py3langid), or None for very short text."""
    if len(text) < 20:
        return None
    import py3langid

    lang, _ = py3langid.classify(text[:3000])
    return lang


# --------------------------------------------------------------------------------------------
# Per-article cleaning (first pass) and learned-template removal (second pass).
# --------------------------------------------------------------------------------------------


def first_pass(raw: RawArticle, cfg: CleanConfig = CleanConfig()) -> CleanArticle:
    """Rule-based cleaning of one article; raises ExtractionError for HTML without main text."""
    url, site, author, language = raw.url, raw.site, raw.author, raw.language
    title, published = raw.title, raw.published_at
    if raw.is_html:
        ex = extract_html(raw.content, raw.url, cfg)
        lines, structural = split_lines(ex.text), False
        url = url or ex.url
        site = site or ex.site
        author = author or ex.author
        language = language or ex.language
        title = title or ex.title
        published = published or ex.published_at
    else:
        lines, structural = split_lines(raw.content), True
    res = clean_lines(lines, cfg, structural=structural, known_title=title)
    return CleanArticle(
        article_id=raw.article_id,
        source_uri=raw.source_uri,
        input_format=raw.input_format,
        text=res.text,
        input_id=raw.input_id,
        url=url,
        canonical_url=canonical_url(url),
        site=site,
        title=title or res.title or raw.fallback_title,
        author=author or res.author or raw.fallback_author,
        published_at=published or res.published_at or raw.fallback_published_at,
        language=language,
        source_key=raw.source_key if not (raw.is_html and not raw.site and site) else "site:" + site.lower(),
        boilerplate_removed=tuple(line for _, line in res.removed),
        boilerplate_rules=tuple(rule for rule, _ in res.removed),
        content_hash=content_hash(comparison_text(res.text, title or res.title or raw.fallback_title)),
    )


def article_fingerprint(text: str) -> str:
    """A short hash of an article's longest line: equal for copies of one article, different across articles."""
    lines = split_lines(text)
    longest = max(lines, key=len) if lines else ""
    return hashlib.blake2b(normalise_line(longest).encode(), digest_size=6).hexdigest()


def template_candidates(article: CleanArticle, cfg: CleanConfig = CleanConfig()) -> Iterable[tuple[tuple[str, str], str]]:
    """((source_key, normalised line), fingerprint) for each distinct line that could be a template line.

    Kept lines and lines removed only for where they sit (page header/footer, link lists) are
    candidates; the fingerprint identifies the article's content, so copies of one story count once.
    """
    fp = article_fingerprint(article.text)
    positional = [l for r, l in zip(article.boilerplate_rules, article.boilerplate_removed) if r in POSITIONAL_RULES]
    seen = set()
    for line in split_lines(article.text) + positional:
        if not line.strip() or words(line) > cfg.learn_max_words:
            continue
        key = normalise_line(line)
        if key not in seen:
            seen.add(key)
            yield (article.source_key, key), fp


def is_template(key: tuple[str, str], fingerprints: frozenset | set, cfg: CleanConfig = CleanConfig()) -> bool:
    """A line is template when enough distinct articles (by content fingerprint) of its source carry it."""
    need = cfg.learn_min_articles if words(key[1]) <= cfg.learn_short_words else cfg.learn_min_articles_long
    return len(fingerprints) >= need


def second_pass(article: CleanArticle, learned: frozenset[str]) -> CleanArticle:
    """Remove lines learned as template of the article's source (and name positional removals that are template).

    Never empties an article that had text.
    """
    if not learned:
        return article
    kept, removed = [], []
    for line in split_lines(article.text):
        if normalise_line(line) in learned:
            removed.append(line)
        else:
            kept.append(line)
    if removed and not any(line.strip() for line in kept):
        # Template evidence never empties an article that had text: a page whose only body is lines
        # its site repeats (a stub, a gallery) keeps them rather than becoming an empty reject.
        kept, removed = split_lines(article.text), []
    rules = tuple(
        "learned_template" if r in POSITIONAL_RULES and normalise_line(l) in learned else r
        for r, l in zip(article.boilerplate_rules, article.boilerplate_removed)
    )
    if not removed and rules == article.boilerplate_rules:
        return article
    text = "\n".join(kept)
    return dataclasses.replace(
        article,
        text=text,
        content_hash=content_hash(comparison_text(text, article.title)),
        boilerplate_removed=article.boilerplate_removed + tuple(removed),
        boilerplate_rules=rules + ("learned_template",) * len(removed),
    )


class DistinctUpTo(beam.CombineFn):
    """Set of distinct values, capped at `limit` (enough to decide a threshold)."""

    def __init__(self, limit: int):
        self.limit = limit

    def create_accumulator(self):
        return set()

    def add_input(self, acc, value):
        if len(acc) < self.limit:
            acc.add(value)
        return acc

    def merge_accumulators(self, accs):
        out = set()
        for a in accs:
            for v in a:
                if len(out) >= self.limit:
                    return out
                out.add(v)
        return out

    def extract_output(self, acc):
        return frozenset(acc)


class FirstPassFn(beam.DoFn):
    def __init__(self, cfg: CleanConfig):
        self.cfg = cfg

    def process(self, raw: RawArticle):
        try:
            article = first_pass(raw, self.cfg)
        except ExtractionError as exc:
            Metrics.counter("extract", "rejected_" + Reason.EXTRACTION_FAILED.value).inc()
            yield beam.pvalue.TaggedOutput(
                REJECTS, Reject.of(raw.source_uri, raw.input_id, Stage.EXTRACT, Reason.EXTRACTION_FAILED, str(exc))
            )
            return
        yield article


class SecondPassFn(beam.DoFn):
    def process(self, article: CleanArticle, learned: dict):
        lines = learned.get(article.source_key, frozenset())
        article = second_pass(article, lines)
        if not article.text.strip() and article.input_format != FORMAT_JSONL_TITLE:
            Metrics.counter("extract", "rejected_" + Reason.EMPTY_AFTER_CLEANING.value).inc()
            detail = f"all {len(article.boilerplate_removed)} lines were boilerplate"
            yield beam.pvalue.TaggedOutput(
                REJECTS, Reject.of(article.source_uri, article.input_id, Stage.EXTRACT, Reason.EMPTY_AFTER_CLEANING, detail)
            )
            return
        if article.language is None:
            article = dataclasses.replace(article, language=detect_language(article.text))
        for rule in article.boilerplate_rules:
            Metrics.counter("boilerplate", "removed_" + rule).inc()
        yield article


def _group_learned(items):
    """[(source_key, line)] -> {source_key: frozenset(lines)}."""
    out: dict[str, set] = {}
    for src, line in items:
        out.setdefault(src, set()).add(line)
    return {k: frozenset(v) for k, v in out.items()}


class StripBoilerplate(beam.PTransform):
    """PCollection[RawArticle], or a tuple of them -> (articles: PCollection[CleanArticle], rejects: PCollection[Reject]).

    First pass: trafilatura for HTML, named line rules for all text. Then lines that recur across
    distinct articles of one source are learned as template (a keyed count feeding a side input)
    and removed in a second pass. Articles left with no text become rejects.
    """

    def __init__(self, cfg: CleanConfig = CleanConfig()):
        super().__init__()
        self.cfg = cfg

    def expand(self, raws):
        cfg = self.cfg
        if isinstance(raws, (tuple, list)):
            # Several inputs (files, records, fetched pages): each gets its own first pass, so a runner
            # fuses it with the step that produced the input instead of materialising a Flatten of raw pages.
            firsts = [pc | f"FirstPass{i}" >> beam.ParDo(FirstPassFn(cfg)).with_outputs(REJECTS, main="articles") for i, pc in enumerate(raws)]
            first = {
                "articles": [f["articles"] for f in firsts] | "FirstPassArticles" >> beam.Flatten(),
                REJECTS: [f[REJECTS] for f in firsts] | "FirstPassRejects" >> beam.Flatten(),
            }
        else:
            first = raws | "FirstPass" >> beam.ParDo(FirstPassFn(cfg)).with_outputs(REJECTS, main="articles")
        # ((source_key, normalised line), fingerprint) -> frozenset of fingerprints, capped
        learned = (
            first["articles"]
            | "TemplateCandidates" >> beam.FlatMap(template_candidates, cfg)
            | "CountArticlesPerLine" >> beam.CombinePerKey(DistinctUpTo(cfg.learn_min_articles_long))
            | "KeepTemplate" >> beam.Filter(lambda kv: is_template(kv[0], kv[1], cfg))
            | "Keys" >> beam.Keys()
            | "Gather" >> beam.combiners.ToList()
            | "BySource" >> beam.Map(_group_learned)
        )
        second = first["articles"] | "SecondPass" >> beam.ParDo(
            SecondPassFn(), beam.pvalue.AsSingleton(learned, default_value={})
        ).with_outputs(REJECTS, main="articles")
        rejects = (first[REJECTS], second[REJECTS]) | "MergeRejects" >> beam.Flatten()
        return {"articles": second["articles"], REJECTS: rejects}
