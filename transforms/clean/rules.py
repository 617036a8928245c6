"""The named line rules: predicates over one stripped line, the rule names, and the line vocabulary they share
(word counts, sentence endings, the line key that folds case, spacing and digits)."""
from __future__ import annotations

import functools
import re
from collections.abc import Callable

from transforms.clean.config import CleanConfig
from transforms.clean.html_audit import HTML_RULES

# Scripts written without spaces between words: Han, Hiragana, Katakana, Thai, Lao, Myanmar, Khmer.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]")
# Characters of those scripts counted as one word (Chinese and Japanese words average 1.5-2.5 characters).
UNSPACED_CHARS_PER_WORD = 2
# The line predicates below are pure and asked about the same line many times (the rules, the layout, the
# line model's features: about twenty calls per line of a page dump), and a site repeats its furniture
# lines on every page: their answers are cached per line, in a bounded cache per process.
LINE_CACHE = 1 << 15


@functools.lru_cache(maxsize=LINE_CACHE)
def words(line: str) -> int:
    """Number of words: whitespace-separated tokens, and one per UNSPACED_CHARS_PER_WORD characters of a script
    written without spaces, so a Japanese paragraph is as long as its English translation, not one word."""
    if not _UNSPACED.search(line):
        return len(line.split())
    unspaced = len(_UNSPACED.findall(line))
    return len(_UNSPACED.sub(" ", line).split()) + unspaced // UNSPACED_CHARS_PER_WORD


def split_lines(text: str) -> list[str]:
    """The lines of a text, whatever its line endings."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


_SPACES = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+")


@functools.lru_cache(maxsize=LINE_CACHE)
def normalise_line(line: str) -> str:
    """Key for comparing lines across articles: case, spacing and digits folded."""
    return _DIGITS.sub("0", _SPACES.sub(" ", line.strip().lower()))


# Sentence punctuation (Latin, CJK full-width, Devanagari danda, Arabic), then any closing quotes or brackets,
# typed either way round (“ ” ‘ ’ « » '' " 」 』): a text whose quotes were retyped must not lose its sentences.
_END = re.compile(r"""[.!?…:;。！？．；：।॥۔؟]["'“”‘’«»„)\]*_」』）】〕]*$""")
# A trailing ellipsis: a truncated teaser ("Arsenio Hall's Talk Show Now A Firm Go For …"), not a sentence.
_TRUNCATED = re.compile(r"(…|\.\.\.+|\[\.\.\.\]|\[…\])\s*$")


# Bidirectional marks (LRM, RLM, ALM, embeddings, isolates) that right-to-left text carries after its punctuation.
_TRAILING_BIDI = re.compile(r"[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]+$")
# Thai and Lao write no sentence punctuation (a space ends a sentence): a line ending in one of their letters is a
# sentence when it holds at least this many of them (a menu item or a tag is a word or two).
_NO_PUNCTUATION_SCRIPT = re.compile(r"[\u0e01-\u0e5b\u0e81-\u0edf]")
NO_PUNCTUATION_SENTENCE_CHARS = 20


@functools.lru_cache(maxsize=LINE_CACHE)
def ends_like_sentence(line: str) -> bool:
    """Ends with sentence punctuation (bidi marks after it aside), or is a long enough Thai or Lao line; a trailing
    ellipsis marks a truncated teaser, not a sentence."""
    line = _TRAILING_BIDI.sub("", line)
    if _NO_PUNCTUATION_SCRIPT.match(line[-1:]) and len(_NO_PUNCTUATION_SCRIPT.findall(line)) >= NO_PUNCTUATION_SENTENCE_CHARS:
        return True
    return bool(_END.search(line)) and not _TRUNCATED.search(line)


def is_body_line(line: str, cfg: CleanConfig) -> bool:
    """A line of article body: long enough and ending like a sentence, or very long."""
    n = words(line)
    return n >= cfg.body_any_words or (n >= cfg.body_min_words and ends_like_sentence(line))


def pattern(regex: str) -> re.Pattern:
    """A case-insensitive Unicode pattern (every rule's flags)."""
    return re.compile(regex, re.IGNORECASE | re.UNICODE)


# Patterns the layout analysis and the metadata pickers share with the rules.
MONTHS = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# A month name or a numeric date ("3/10/2016").
MONTH = pattern(rf"\b{MONTHS}\b|\b\d{{1,4}}[-/.]\d{{1,2}}[-/.]\d{{1,4}}\b")
YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
# Where the comment thread starts on a page dump.
COMMENT_HEAD = pattern(
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


def is_byline(line: str) -> bool:
    """A stripped line that is a byline ("By Jane Smith, Reuters"), not a sentence starting with "By"."""
    return words(line) <= 12 and bool(_BYLINE.match(line)) and not ends_like_sentence(line)


_AD = pattern(
    r"^(advertisement|advertising|advert|ads?|sponsored( content| post| links?)?|paid (content|post)|"
    r"promoted( content| stories)?|(story|article) continues (below|after)( this)?( advertisement| ad)?|"
    r"continue reading (below|the main story)|scroll (down )?to continue( reading)?|skip (advert(isement)?|ad))"
    r"[\s:.!\-–—]*$"
)
# A call to give money, not a sentence that mentions donations.
_DONATION = pattern(
    r"\b(donate (now|today|here)|please donate|make a (charitable |tax[- ]deductible )?(donation|gift|contribution)|"
    r"support (us|our (work|journalism|newsroom|reporting|mission)|independent (journalism|media))|"
    r"become a (member|patron|supporter|sustaining member)|chip in|support .{1,30} on patreon)\b"
)
_NEWSLETTER_CTA = pattern(r"\b(sign ?up|subscribe|join|register|get|receive|enter your email|delivered)\b")
_NEWSLETTER_OBJ = pattern(r"\b(newsletters?|mailing list|e-?mail (alerts?|updates|list)|inbox|daily (digest|briefing)|news alerts)\b")
_SOCIAL_TOKEN = (
    r"(share( this( article| story| page| post)?)?( on)?|shares?|tweet|e-?mail( this)?( post| article| story)?|print( this)?|"
    r"facebook|twitter|x|linkedin|whatsapp|pinterest|reddit|telegram|tumblr|flipboard|messenger|digg|stumbleupon|delicious|"
    r"copy( the)? link|link copied|save|bookmark|permalink|trackback( uri)?|rss( feed)?|"
    r"\d+\s*comments?|comments?|leave a (comment|reply)|(view|show|hide|add|post|read) (all |a )?comments?|reply|"
    r"like|follow( us)?( on)?|google\+?|instagram|youtube)"
)
_SHARE = pattern(rf"^({_SOCIAL_TOKEN}[\s|/·•,:;!()-]*)+$")
_COOKIE = pattern(
    r"\b(we use cookies|(this|our) (web)?site uses cookies|cookie (policy|settings|preferences|consent)|"
    r"accept (all )?cookies|manage (your )?cookies)\b"
)
_PAYWALL = pattern(
    r"\b(subscribe (now )?to (continue|read|unlock)|already a (subscriber|member)|to continue reading|"
    r"(log|sign) ?in to (continue|read)|for (subscribers|members) only|subscribers? only|"
    r"(you have|you've) reached your (free )?(article )?limit|free articles? (left|remaining)|"
    # The same notices in other languages of the news (fr, es, de).
    r"réservé aux abonnés|exclusivo para suscriptores|nur für abonnenten|jetzt weiterlesen mit)\b|"
    r"この記事は(有料)?会員限定です"
)
_RELATED = pattern(
    r"^(related( articles?| stories| coverage| content| news| links?| posts?)?|read more|read also|also read|see also|more from|"
    r"recommended( for you| reading)?|you (may|might) also like|most (read|popular|viewed|shared|emailed)|trending( now)?|"
    r"more (stories|news|on this)|more\s*:|top stories|latest (news|stories)|editor'?s picks|"
    # The same headings in other languages of the news (de, fr, es, it, pt, nl, the nordic languages, tr, ja).
    r"mehr zum thema|lesen sie (auch|mehr)|auch interessant|das könnte sie (auch )?interessieren|"
    r"weitere (artikel|nachrichten)|verwandte (artikel|themen)|meistgelesen|(à )?lire aussi|sur le même sujet|"
    r"les plus lus|voir aussi|lee también|te puede interesar|noticias relacionadas|lo más leído|leggi anche|"
    r"potrebbe interessarti|articoli correlati|leia (também|mais)|veja também|lees ook|meer nieuws|les også|"
    r"læs også|läs också|ilgili haberler|関連(記事|キーワード|ニュース|リンク)|おすすめ(情報|記事)?|人気記事)\b"
)
_FOOTER = pattern(r"^(©|\(c\)\s*\d{4}|copyright\b)|\ball rights reserved\b|^(terms of (use|service)|privacy policy)\b")
_TAGS = pattern(r"^(tags?|topics?|filed under|categories|keywords)\s*:")
_NAV = re.compile(r"^[^.!?|]{1,40}(\s+[|»›>•·/]\s+[^.!?]{1,40}){2,}$")
_CAPTION = pattern(
    r"^(photo|image|picture|file photo|illustration|graphic|video)s?\s*(:|credit|by\b|courtesy)|"
    r"\b(photo|image|picture)\s*(credit|courtesy)\b|\((photo|image|file photo|pictured)\b|"
    r"(\bvia|/|\||©|photo:?)\s*(the\s+)?(AP|Associated Press|Reuters|AFP|Getty( Images)?|EPA|Shutterstock|"
    r"Bloomberg|AAP|PA( Images)?|Xinhua|Anadolu|Sputnik|TASS)\b[\w\s./-]*$|^enlarge (photo|image)$"
)
# Blog archive widgets: "February (60)", "March 2012 (4)".
_ARCHIVE = pattern(rf"^[-•»\s]*{MONTHS}(\s+\d{{4}})?\s*\(\d+\)$")
# Comment-thread metadata: "Posted by: Mario | Mar 21, 2007 2:51:31 AM", "Jeff on July 25, 2012 at 11:01 am".
_COMMENT_META = pattern(
    rf"^(posted by:?\s+.{{1,40}}\s+(\||at|on)\s+.*\d|.{{1,40}}\s+(on|—|-|\|)\s+{MONTHS}\s+\d{{1,2}}(st|nd|rd|th)?,?\s+\d{{4}}.*\d:\d\d\s*([ap]\.?m\.?)?)$"
)


def _is_newsletter(line: str) -> bool:
    return words(line) <= 30 and bool(_NEWSLETTER_CTA.search(line)) and bool(_NEWSLETTER_OBJ.search(line))


# (rule name, predicate). Order matters only for which name a line is counted under.
LINE_RULES: tuple[tuple[str, Callable[[str], bool]], ...] = (
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
LINE_MODEL = "line_model"  # raw text: a line the learned line model (transforms/clean/line_model.py) did not take for body
POSITIONAL_RULES = ("page_header", "page_footer", "link_list", "comment_section", "menu_block", "section_label", "tail_label",
                    LINE_MODEL)
LEARNED_TEMPLATE = "learned_template"
TITLE = "title"  # the line the title was taken from: removed from the text, not listed among the removed lines
RULE_NAMES = tuple(name for name, _ in LINE_RULES) + HTML_RULES + (
    "byline",
    "date_line",
    "repeated_credit",
    TITLE,
    LEARNED_TEMPLATE,
) + POSITIONAL_RULES


def match_line_rule(line: str) -> str | None:
    """Name of the first line rule that marks this line as boilerplate, or None to keep it."""
    for name, predicate in LINE_RULES:
        if predicate(line):
            return name
    return None
