"""Boilerplate stage: HTML extraction, named line rules, and per-source template lines learned from the corpus.

Every removed line is kept with the name of the rule that removed it (`boilerplate_removed`,
`boilerplate_rules`), so a user can audit the cleaner.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from collections import Counter
from collections.abc import Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics
from dateutil import parser as date_parser

from schemas.article import UTC, CleanArticle, RawArticle
from schemas.rejects import Reason, Reject, Stage
from transforms.urls import canonical_url

REJECTS = "rejects"


@dataclasses.dataclass(frozen=True)
class CleanConfig:
    """Constants of the cleaner. Defaults are what the pipeline runs with."""

    # A line with at least this many words that ends like a sentence is article body.
    body_min_words: int = 10
    # Lines this long are body whatever their punctuation.
    body_any_words: int = 25
    # Short unpunctuated lines repeated inside one article (source credits) are removed.
    credit_max_words: int = 6
    # Head lines that are not the title and at most this long are section/navigation labels.
    label_max_words: int = 8
    # Learned template: a line is template when it recurs in this many distinct articles of one source.
    learn_min_articles: int = 3
    # ... and longer lines (more words than learn_short_words) need learn_min_articles_long.
    learn_short_words: int = 12
    learn_min_articles_long: int = 6
    learn_max_words: int = 80
    # trafilatura settings (see README "Quality").
    favor_precision: bool = True
    fast: bool = True

    def __post_init__(self):
        if self.learn_min_articles < 2 or self.learn_min_articles_long < self.learn_min_articles:
            raise ValueError("learn_min_articles must be >= 2 and <= learn_min_articles_long")


# --------------------------------------------------------------------------------------------
# Line rules. Each is a named predicate over one stripped line; the first that matches removes it.
# --------------------------------------------------------------------------------------------

def words(line: str) -> int:
    return len(line.split())


def ends_like_sentence(line: str) -> bool:
    return bool(re.search(r"""[.!?…:;]["'”’»)\]]*$""", line))


def _rx(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.IGNORECASE | re.UNICODE)


_AD = _rx(
    r"^(advertisement|advertising|advert|ads?|sponsored( content| post| links?)?|paid (content|post)|"
    r"promoted( content| stories)?|(story|article) continues (below|after)( this)?( advertisement| ad)?|"
    r"continue reading (below|the main story)|scroll (down )?to continue( reading)?|skip (advert(isement)?|ad))"
    r"[\s:.!\-–—]*$"
)
_DONATION = _rx(
    r"\b(donat(e|ion|ions|ing)|make a (charitable )?(gift|contribution)|support (us|our (work|journalism|newsroom|reporting)|"
    r"independent (journalism|media))|become a (member|patron|supporter|subscriber)|chip in|patreon)\b"
)
_NEWSLETTER_CTA = _rx(r"\b(sign ?up|subscribe|join|register|get|receive|enter your email|delivered)\b")
_NEWSLETTER_OBJ = _rx(r"\b(newsletters?|mailing list|e-?mail (alerts?|updates|list)|inbox|daily (digest|briefing)|news alerts)\b")
_SOCIAL_TOKEN = (
    r"(share( this( article| story| page)?)?( on)?|shares?|tweet|e-?mail|print|facebook|twitter|x|linkedin|whatsapp|"
    r"pinterest|reddit|telegram|tumblr|flipboard|messenger|copy( the)? link|link copied|save|bookmark|"
    r"\d+\s*comments?|comments?|leave a (comment|reply)|(view|show|hide|add|post|read) (all )?comments?|reply|"
    r"like|follow( us)?( on)?|google\+?|instagram|youtube)"
)
_SHARE = _rx(rf"^({_SOCIAL_TOKEN}[\s|/·•,:;!-]*)+$")
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
    r"^(related( articles?| stories| coverage| content| news| links?)?|read more|read also|also read|see also|more from|"
    r"recommended( for you| reading)?|you (may|might) also like|most (read|popular|viewed)|trending( now)?|"
    r"more (stories|news|on this)|top stories|latest (news|stories)|editor'?s picks)\b"
)
_FOOTER = _rx(r"^(©|\(c\)\s*\d{4}|copyright\b)|\ball rights reserved\b|^(terms of (use|service)|privacy policy)\b")
_TAGS = _rx(r"^(tags?|topics?|filed under|categories|keywords)\s*:")
_NAV = re.compile(r"^[^.!?]{1,40}(\s+[|»›>•·/]\s+[^.!?]{1,40}){2,}$")
_CAPTION = _rx(
    r"^(photo|image|picture|file photo|illustration|graphic|video)s?\s*(:|credit|by\b|courtesy)|"
    r"\b(photo|image|picture)\s*(credit|courtesy)\b|\((photo|image|file photo|pictured)\b|"
    r"(\bvia|/|\||©|photo:?)\s*(the\s+)?(AP|Associated Press|Reuters|AFP|Getty( Images)?|EPA|Shutterstock|"
    r"Bloomberg|AAP|PA( Images)?|Xinhua|Anadolu|Sputnik|TASS)\b[\w\s./-]*$"
)
_BYLINE = re.compile(
    r"^(by|written by|posted by|von|par|por)\s+[A-Z][\w.'’-]+(\s+[A-Z][\w.'’-]+){0,3}"
    r"((,|\s+and|\s+&)\s+[A-Z][\w.'’-]+(\s+[A-Z][\w.'’-]+){0,3})*(\s*[,|–—-]\s*[\w .'’]{1,40})?$",
    re.IGNORECASE,
)
_DATE_PREFIX = _rx(r"^(published|updated|posted|last updated|first published|last modified|date)( on| at)?\s*:?\s*")
_MONTH = _rx(
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\b|\b\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}\b"
)
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")


def parse_date_line(line: str) -> dt.datetime | None:
    """The date a line holds when the whole line is a date (optionally 'Published: ...'), else None."""
    if words(line) > 10 or not _YEAR.search(line) or not _MONTH.search(line):
        return None
    text = _DATE_PREFIX.sub("", line.strip()).strip(" |,-–—")
    if not text:
        return None
    try:
        parsed = date_parser.parse(text, fuzzy=False)
    except (ValueError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _is_newsletter(line: str) -> bool:
    return words(line) <= 30 and bool(_NEWSLETTER_CTA.search(line)) and bool(_NEWSLETTER_OBJ.search(line))


# (rule name, predicate). Order matters only for which name a line is counted under.
LINE_RULES: tuple[tuple[str, object], ...] = (
    ("ad_marker", lambda s: bool(_AD.match(s))),
    ("share_widget", lambda s: words(s) <= 12 and bool(_SHARE.match(s))),
    ("donation_banner", lambda s: words(s) <= 30 and bool(_DONATION.search(s))),
    ("newsletter_prompt", _is_newsletter),
    ("cookie_notice", lambda s: words(s) <= 60 and bool(_COOKIE.search(s))),
    ("paywall_notice", lambda s: words(s) <= 30 and bool(_PAYWALL.search(s))),
    ("related_links", lambda s: words(s) <= 15 and bool(_RELATED.match(s)) and not ends_like_sentence(s)),
    ("site_footer", lambda s: words(s) <= 30 and bool(_FOOTER.search(s))),
    ("tag_list", lambda s: words(s) <= 40 and bool(_TAGS.match(s))),
    ("navigation", lambda s: bool(_NAV.match(s))),
    ("photo_caption", lambda s: words(s) <= 60 and not ends_like_sentence(s) and bool(_CAPTION.search(s))),
)
RULE_NAMES = tuple(name for name, _ in LINE_RULES) + (
    "byline",
    "date_line",
    "repeated_credit",
    "menu_block",
    "title",
    "section_label",
    "tail_label",
    "learned_template",
)


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


@dataclasses.dataclass
class CleanResult:
    """Output of the pure cleaner for one article."""

    text: str
    title: str | None = None
    published_at: dt.datetime | None = None
    author: str | None = None
    removed: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (rule, line)


def _menu_blocks(lines: list[str]) -> set[int]:
    """Indexes of runs of 3+ consecutive very short unpunctuated lines: menus and link lists."""
    out: set[int] = set()
    run: list[int] = []
    for i, line in enumerate(lines + [""]):
        if line and words(line) <= 3 and not ends_like_sentence(line) and not _YEAR.search(line):
            run.append(i)
            continue
        if len(run) >= 3:
            out.update(run)
        run = []
    return out


def clean_lines(
    lines: list[str],
    cfg: CleanConfig = CleanConfig(),
    structural: bool = True,
    known_title: str | None = None,
) -> CleanResult:
    """Remove boilerplate lines from an article given as lines.

    `structural` turns on the rules that rely on the layout of a whole-page text dump (head labels,
    title detection, tail labels, menus); HTML extracted by trafilatura has no such layout.
    """
    lines = [re.sub(r"\s+", " ", l).strip() for l in lines]
    lines = [l for l in lines if l]
    verdict: list[str | None] = [None] * len(lines)
    res = CleanResult(text="")

    counts = Counter(normalise_line(l) for l in lines if words(l) <= cfg.credit_max_words and not ends_like_sentence(l))
    menus = _menu_blocks(lines) if structural else set()
    title_key = normalise_line(known_title) if known_title else None

    for i, line in enumerate(lines):
        rule = match_line_rule(line)
        if rule is None and title_key is not None and normalise_line(line) == title_key:
            rule = "title"
        if rule is None:
            when = parse_date_line(line)
            if when is not None:
                rule = "date_line"
                res.published_at = res.published_at or when
        if rule is None and words(line) <= 12 and _BYLINE.match(line) and not ends_like_sentence(line):
            rule = "byline"
            res.author = res.author or re.sub(r"^\w+(\s+by)?\s+", "", line, flags=re.I).split(",")[0].strip()
        if rule is None and counts.get(normalise_line(line), 0) >= 2:
            rule = "repeated_credit"
        if rule is None and i in menus:
            rule = "menu_block"
        verdict[i] = rule

    if structural:
        kept = [i for i, v in enumerate(verdict) if v is None]
        body = [i for i in kept if is_body_line(lines[i], cfg)]
        first_body = body[0] if body else len(lines)
        last_body = body[-1] if body else -1
        head = [i for i in kept if i < first_body]
        # The title is the longest unpunctuated head line of 3+ words (headlines rarely end with a period).
        candidates = [i for i in head if 3 <= words(lines[i]) <= 30 and not lines[i].endswith(".")]
        if candidates and known_title is None:
            t = max(candidates, key=lambda i: (words(lines[i]), -i))
            res.title = lines[t]
            verdict[t] = "title"
        for i in head:
            if verdict[i] is None and words(lines[i]) <= cfg.label_max_words and not ends_like_sentence(lines[i]):
                verdict[i] = "section_label"
        for i in kept:
            if i > last_body >= 0 and verdict[i] is None and words(lines[i]) <= cfg.credit_max_words and not ends_like_sentence(lines[i]):
                verdict[i] = "tail_label"

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


def extract_html(html: str, url: str | None, cfg: CleanConfig = CleanConfig()) -> Extracted:
    """Main text and metadata of an HTML page via trafilatura; raises ExtractionError when there is none."""
    import trafilatura

    if not re.search(r"<\s*(html|body|p|div|article)\b", html[:200000], re.I):
        raise ExtractionError("input has no HTML markup")
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        fast=cfg.fast,
        favor_precision=cfg.favor_precision,
        include_comments=False,
        deduplicate=False,
        with_metadata=True,
    )
    if doc is None or not (doc.text or "").strip():
        raise ExtractionError("trafilatura found no main text")
    published = None
    if doc.date:
        try:
            published = dt.datetime.fromisoformat(doc.date).replace(tzinfo=UTC)
        except ValueError:
            published = None
    lang = doc.language
    if not lang:
        m = _HTML_LANG.search(html[:5000])
        lang = m.group(1).lower() if m else None
    return Extracted(
        text=doc.text,
        title=doc.title or None,
        author=doc.author or None,
        published_at=published,
        site=doc.sitename or doc.hostname or None,
        language=lang,
        url=doc.url or url,
    )


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
    )


def article_fingerprint(text: str) -> str:
    """A short hash of an article's longest line: equal for copies of one article, different across articles."""
    lines = split_lines(text)
    longest = max(lines, key=len) if lines else ""
    return hashlib.blake2b(normalise_line(longest).encode(), digest_size=6).hexdigest()


def template_candidates(article: CleanArticle, cfg: CleanConfig = CleanConfig()) -> Iterable[tuple[tuple[str, str], str]]:
    """((source_key, normalised line), fingerprint) for each distinct line that could be a template line."""
    fp = article_fingerprint(article.text)
    seen = set()
    for line in split_lines(article.text):
        if not line.strip() or words(line) > cfg.learn_max_words:
            continue
        key = normalise_line(line)
        if key not in seen:
            seen.add(key)
            yield (article.source_key, key), fp


def is_template(key: tuple[str, str], fingerprints: frozenset | set, cfg: CleanConfig = CleanConfig()) -> bool:
    """A line is template when enough distinct articles of its source carry it."""
    need = cfg.learn_min_articles if words(key[1]) <= cfg.learn_short_words else cfg.learn_min_articles_long
    return len(fingerprints) >= need


def second_pass(article: CleanArticle, learned: frozenset[str]) -> CleanArticle:
    """Remove lines learned as template of the article's source."""
    if not learned:
        return article
    kept, removed = [], []
    for line in split_lines(article.text):
        if normalise_line(line) in learned:
            removed.append(line)
        else:
            kept.append(line)
    if not removed:
        return article
    return dataclasses.replace(
        article,
        text="\n".join(kept),
        boilerplate_removed=article.boilerplate_removed + tuple(removed),
        boilerplate_rules=article.boilerplate_rules + ("learned_template",) * len(removed),
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
        if not article.text.strip():
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
    """PCollection[RawArticle] -> (articles: PCollection[CleanArticle], rejects: PCollection[Reject]).

    First pass: trafilatura for HTML, named line rules for all text. Then lines that recur across
    distinct articles of one source are learned as template (a keyed count feeding a side input)
    and removed in a second pass. Articles left with no text become rejects.
    """

    def __init__(self, cfg: CleanConfig = CleanConfig()):
        super().__init__()
        self.cfg = cfg

    def expand(self, raws):
        cfg = self.cfg
        first = raws | "FirstPass" >> beam.ParDo(FirstPassFn(cfg)).with_outputs(REJECTS, main="articles")
        # ((source_key, normalised line), fingerprint) -> frozenset of fingerprints, capped
        learned = (
            first.articles
            | "TemplateCandidates" >> beam.FlatMap(template_candidates, cfg)
            | "CountArticlesPerLine" >> beam.CombinePerKey(DistinctUpTo(cfg.learn_min_articles_long))
            | "KeepTemplate" >> beam.Filter(lambda kv: is_template(kv[0], kv[1], cfg))
            | "Keys" >> beam.Keys()
            | "Gather" >> beam.combiners.ToList()
            | "BySource" >> beam.Map(_group_learned)
        )
        second = first.articles | "SecondPass" >> beam.ParDo(
            SecondPassFn(), beam.pvalue.AsSingleton(learned, default_value={})
        ).with_outputs(REJECTS, main="articles")
        rejects = (first[REJECTS], second[REJECTS]) | "MergeRejects" >> beam.Flatten()
        return {"articles": second["articles"], REJECTS: rejects}
