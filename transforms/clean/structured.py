"""Structured metadata of a page: JSON-LD (schema.org NewsArticle and kin) and OpenGraph / article:* meta tags.

Pure functions over a parsed lxml tree. Each field comes with the name of the source it was read from, so
the articles table can say where `title`, `published_at`, `author` and `site` came from.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import re
import unicodedata
import warnings
from collections import Counter
from urllib.parse import urlsplit

from dateutil import parser as date_parser

UTC = dt.UTC

# schema.org types that describe the article itself (lower case).
ARTICLE_TYPES = frozenset({
    "newsarticle", "article", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
    "backgroundnewsarticle", "reviewnewsarticle", "askpublicnewsarticle", "satiricalarticle", "blogposting",
    "liveblogposting", "socialmediaposting", "techarticle", "report", "posting",
})
ORGANISATION_TYPES = frozenset({"organization", "newsmediaorganization", "corporation", "onlinebusiness"})
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_SPACE = re.compile(r"\s+")
# Time-zone abbreviations dateutil does not know but pages write ("Fri Apr 28 19:20:36 CEST 2023").
TZ_ABBREVIATIONS = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 3600, "BST": 3600, "IST": 19800, "CET": 3600, "CEST": 7200,
    "MEZ": 3600, "MESZ": 7200, "EET": 7200, "EEST": 10800, "MSK": 10800, "EST": -18000, "EDT": -14400,
    "CST": -21600, "CDT": -18000, "MST": -25200, "MDT": -21600, "PST": -28800, "PDT": -25200, "JST": 32400,
    "KST": 32400, "AEST": 36000, "AEDT": 39600, "SAST": 7200,
}


def clean_value(text) -> str | None:
    """A metadata string with entities decoded (twice: pages escape their JSON-LD), NFC, whitespace collapsed."""
    if not isinstance(text, str):
        return None
    text = html.unescape(html.unescape(text))
    text = _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()
    return text or None


@dataclasses.dataclass(frozen=True)
class Stamp:
    """A publication time as a page wrote it: `when` is aware when the page gave a zone."""

    when: dt.datetime
    has_time: bool
    has_zone: bool

    def utc(self) -> dt.datetime:
        when = self.when if self.has_zone else self.when.replace(tzinfo=UTC)
        return when.astimezone(UTC)


def parse_stamp(value) -> Stamp | None:
    """A date or date-time string (ISO 8601, RFC 2822, "Fri Apr 28 19:20:36 CEST 2023") as a Stamp, else None."""
    text = clean_value(value)
    if not text or len(text) > 60 or not re.search(r"\d{4}", text):
        return None
    iso = re.match(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?$", text)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if iso:
                when = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(",", "."))
            else:
                when = date_parser.parse(text, tzinfos=TZ_ABBREVIATIONS)
        except (ValueError, OverflowError, TypeError):
            return None
    has_time = bool(re.search(r"\d{1,2}:\d{2}", text))
    if not 1990 <= when.year <= 2100:
        return None
    return Stamp(when=when, has_time=has_time, has_zone=when.tzinfo is not None)


def _types(obj: dict) -> set[str]:
    t = obj.get("@type")
    items = t if isinstance(t, list) else [t]
    return {x.lower().rsplit("/", 1)[-1] for x in items if isinstance(x, str)}


def _walk(obj, depth: int = 0):
    if depth > 6:
        return
    if isinstance(obj, list):
        for x in obj:
            yield from _walk(x, depth + 1)
    elif isinstance(obj, dict):
        yield obj
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            if isinstance(obj.get(key), (dict, list)):
                yield from _walk(obj[key], depth + 1)


def json_ld_objects(tree) -> list[dict]:
    """Every JSON-LD object of the page (top-level, in @graph and mainEntity), malformed scripts skipped."""
    out = []
    for node in tree.iterfind(".//script"):
        if (node.get("type") or "").strip().lower() != "application/ld+json":
            continue
        raw = (node.text or "").strip()
        raw = re.sub(r"^(//\s*)?<!\[CDATA\[", "", raw)
        raw = re.sub(r"(//\s*)?\]\]>$", "", raw).strip()
        try:
            data = json.loads(_CTRL.sub(" ", raw), strict=False)
        except ValueError:
            continue
        out.extend(_walk(data))
    return out


def _name(value) -> str | None:
    if isinstance(value, list):
        return _name(value[0]) if value else None
    if isinstance(value, dict):
        if "name" not in value and isinstance(value.get("familyName"), str):  # a Person by its name parts
            return clean_value(f"{value.get('givenName') or ''} {value['familyName']}")
        return _name(value.get("name"))
    return clean_value(value)


# A CMS's administrator account as the author's profile ("/author/admin/"): the site posting, not a person.
_ADMIN_ACCOUNT = re.compile(r"/(?:author|authors|user|users|profile)/(?:admin|administrator|webmaster)/?(?:[?#].*)?$",
                            re.I)


def is_admin_account(url) -> bool:
    return isinstance(url, str) and bool(_ADMIN_ACCOUNT.search(url.strip()))


_URLISH = re.compile(r"^(https?:|www\.)", re.I)  # a URL, not a name


def _resolved(item, ids: dict[str, dict] | None):
    """A JSON-LD `{"@id": ...}` reference replaced by the object of that id elsewhere on the page."""
    if isinstance(item, dict) and "name" not in item and ids and isinstance(item.get("@id"), str):
        return ids.get(item["@id"], item)
    return item


def account_names(value, ids: dict[str, dict] | None, tree=None) -> set[str]:
    """Names the page gives its CMS administrator account (a JSON-LD author or an author link whose profile is
    `/author/admin/`): the site posting, counted as the publication, not a person."""
    out = set()
    for item in value if isinstance(value, list) else [value]:
        item = _resolved(item, ids)
        if isinstance(item, dict) and any(is_admin_account(item.get(k)) for k in ("@id", "url")):
            out.update(person_names(item))
    for a in tree.xpath("//a[@rel='author']") if tree is not None else ():
        if is_admin_account(a.get("href")):
            out.add(clean_value("".join(a.itertext())))
    return out - {None}


def person_names(value, ids: dict[str, dict] | None = None) -> list[str]:
    """Names of a JSON-LD `author`: strings, Person objects (by `name`, or `givenName` and `familyName`) or
    `{"@id": ...}` references to an object elsewhere on the page (what WordPress SEO plugins write); URLs are not
    names."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        name = _name(_resolved(item, ids))
        if name and not _URLISH.match(name) and name not in out:
            out.append(name)
    return out


def article_object(objs: list[dict]) -> dict | None:
    """The JSON-LD object describing the article: an article type with a headline or body, else one without."""
    best, best_rank = None, 9
    for obj in objs:
        types = _types(obj)
        if types & ARTICLE_TYPES:
            rank = 0 if ("headline" in obj or "articleBody" in obj) else 1
        elif "webpage" in types and ("headline" in obj or "datePublished" in obj):
            rank = 2
        else:
            continue
        if rank < best_rank:
            best, best_rank = obj, rank
    return best


def meta_tags(tree) -> dict[str, str]:
    """First value of each <meta property|name|itemprop> key, lower-cased keys."""
    out: dict[str, str] = {}
    for node in tree.iterfind(".//meta"):
        key = (node.get("property") or node.get("name") or node.get("itemprop") or "").strip().lower()
        value = node.get("content")
        if key and value and value.strip() and key not in out:
            out[key] = value.strip()
    return out


@dataclasses.dataclass
class Structured:
    """What a page's structured data says, each field with its source (`json_ld`, `og`, `meta`, `h1`)."""

    title_candidates: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (source, title)
    html_title: str | None = None
    h1_home: bool | None = None  # the first <h1> links to the home page or a section (False: to a permalink)
    stamps: list[tuple[str, Stamp]] = dataclasses.field(default_factory=list)  # (source, stamp), best first
    authors: list[tuple[str, list[str]]] = dataclasses.field(default_factory=list)  # (source, names), best first
    sites: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (source, publication name)
    url: str | None = None
    body: str | None = None  # JSON-LD articleBody
    language: str | None = None
    is_article: bool = False  # the page declares itself an article (JSON-LD article type or og:type article)
    bold_names: list[str] = dataclasses.field(default_factory=list)  # bold-only paragraphs that read as names
    accounts: set[str] = dataclasses.field(default_factory=set)  # names of the CMS's admin account


_DATE_KEYS = ("article:published_time", "og:article:published_time", "datepublished", "date", "pubdate",
              "publishdate", "publish-date", "dc.date", "dc.date.issued", "dcterms.created", "dcterms.date",
              "parsely-pub-date", "sailthru.date", "citation_publication_date")
_AUTHOR_KEYS = ("author", "article:author", "dc.creator", "parsely-author", "sailthru.author", "cxenseparse:author",
                "byl")
# In-page author markup: schema.org microdata and author links. trafilatura's wider search of the page (class and
# id names such as "byline") runs only when neither these nor the structured data name a person.
_ARTICLE_ITEMTYPE = re.compile(r"Article|Posting|Report", re.I)
# Author links inside these are other articles' (teaser lists, related links, footers).
_TEASER_TAGS = frozenset({"aside", "footer", "nav", "li"})
# More author links than this outside teasers are a list of other articles' authors, not a byline.
MAX_MARKUP_AUTHORS = 5
SOURCE_MARKUP = "markup"  # itemprop=author / rel=author
SOURCE_PAGE_SEARCH = "page_search"  # trafilatura's in-page author search


def read_structured(tree) -> Structured:
    """The page's JSON-LD article object and meta tags, as candidates per field."""
    objs = json_ld_objects(tree)
    ids = {obj["@id"]: obj for obj in objs if isinstance(obj.get("@id"), str) and len(obj) > 1}
    art = article_object(objs)
    meta = meta_tags(tree)
    out = Structured()
    out.is_article = art is not None
    if art is not None:
        headline = clean_value(art.get("headline")) or clean_value(art.get("name"))
        if headline:
            out.title_candidates.append(("json_ld", headline))
        for key in ("datePublished", "dateCreated"):
            stamp = parse_stamp(art.get(key)) if isinstance(art.get(key), str) else None
            if stamp:
                out.stamps.append(("json_ld", stamp))
                break
        names = person_names(art.get("author"), ids)
        if names:
            out.authors.append(("json_ld", names))
        publisher = _name(art.get("publisher"))
        if publisher:
            out.sites.append(("json_ld", publisher))
        if isinstance(art.get("articleBody"), str):
            out.body = html.unescape(art["articleBody"]).strip() or None
        url = art.get("url")
        out.url = url if isinstance(url, str) and url.startswith("http") else None
        if isinstance(art.get("inLanguage"), str):
            out.language = art["inLanguage"]
    og_title = clean_value(meta.get("og:title"))
    if og_title:
        out.title_candidates.append(("og", og_title))
    h1 = tree.find(".//h1")
    if h1 is not None:
        text = clean_value("".join(h1.itertext()))
        if text:
            out.title_candidates.append(("h1", text))
        links = h1.findall(".//a[@href]")
        out.h1_home = _links_home_or_section(links[0]) if len(links) == 1 else None
    node = tree.find(".//title")
    out.html_title = clean_value(node.text) if node is not None else None
    for key in _DATE_KEYS:
        stamp = parse_stamp(meta.get(key))
        if stamp:
            out.stamps.append(("og" if key.startswith(("article:", "og:")) else "meta", stamp))
    modified = parse_stamp(art.get("dateModified")) if art is not None and isinstance(art.get("dateModified"), str) else None
    if modified:
        out.stamps.append(("json_ld_modified", modified))
    # The known keys first, then any other key that names an author ("dcsext.author", "articleauthor").
    keys = list(_AUTHOR_KEYS) + [k for k in meta if k.endswith("author") and k not in _AUTHOR_KEYS]
    for key in keys:
        value = clean_value(meta.get(key))
        if value and _clean_names([value]):
            out.authors.append(("meta", [value]))
            break
    if clean_value(meta.get("og:site_name")):
        out.sites.append(("og", clean_value(meta.get("og:site_name"))))
    for obj in objs:
        if _types(obj) & ORGANISATION_TYPES and _name(obj):
            out.sites.append(("json_ld_organization", _name(obj)))
            break
    names = markup_authors(tree)
    if names:
        out.authors.append((SOURCE_MARKUP, names))
    if out.authors:  # author links are looked at only where the markup credited someone
        out.accounts = account_names(art.get("author") if art is not None else None, ids, tree if names else None)
    if not credits_person(out):
        # No source names a person (none at all, or only the publication): the page's byline, if it has one. An
        # author link or microdata naming the site (a personal blog named after its author) is not searched past.
        if not any(source == SOURCE_MARKUP for source, _ in out.authors):
            found = page_search_authors(_headline_scope(tree) if out.authors else tree)
            names = [n for n in found if not _is_organisation(n, out)] or found
            if names:
                out.authors.append((SOURCE_PAGE_SEARCH, names))
        out.bold_names = bold_name_paragraphs(tree)
    if not out.url:
        node = tree.find(".//link[@rel='canonical']")
        href = node.get("href") if node is not None else None
        out.url = href if href and href.startswith("http") else (meta.get("og:url") if (meta.get("og:url") or "").startswith("http") else None)
    return out


# ------------------------------------------------------------------------------------------------
# Choosing one value per field.
# ------------------------------------------------------------------------------------------------

_SEPS = (" - ", " | ", " – ", " — ", "｜", "|", " :: ", " · ", " / ", " -", "-")


def _strip_site(title: str, sites: list[str]) -> str:
    """A title without a site name before or after it ("Headline - Golem.de", "DW | Headline")."""
    low = title.lower()
    for site in sites:
        s = site.lower()
        for sep in _SEPS:
            if low.endswith(sep + s) and len(title) > len(sep + s) + 3:
                return title[: -len(sep + s)].strip()
            if low.startswith(s + sep) and len(title) > len(sep + s) + 3:
                return title[len(s + sep):].strip()
    return title


def _title_suffixes(html_title: str | None, titles: list[str]) -> list[str]:
    """What the page's <title> adds after one of the headlines: the site name, as this page writes it."""
    if not html_title:
        return []
    out = []
    for t in titles:
        if html_title.startswith(t) and len(html_title) > len(t):
            rest = re.sub(r"^\s*[-|–—·:•｜/]+\s*", "", html_title[len(t):]).strip()
            if rest:
                out.append(rest)
    return out


def pick_title(st: Structured, site_names: list[str]) -> tuple[str | None, str | None]:
    """(title, source): the JSON-LD headline, og:title and <h1>, each without a site name; two that agree
    win over a third; else the first of JSON-LD, og, h1."""
    raw = [t for _, t in st.title_candidates]
    sites = [s for s in site_names if s] + _title_suffixes(st.html_title, raw)
    cands = [(src, _strip_site(t, sites)) for src, t in st.title_candidates]
    texts = [t for _, t in cands]
    for i, a in enumerate(texts):  # "Headline | Sport" is "Headline" with a section suffix
        for b in texts:
            if a != b and a.startswith(b) and any(a[len(b):].startswith(s) for s in _SEPS):
                texts[i] = b
    votes = Counter(texts)
    if not votes:
        return None, None
    best = max(range(len(texts)), key=lambda i: (votes[texts[i]], -i))
    if [src for src, _ in cands] == ["h1"] and st.html_title:
        headline = _headline_beside_h1(st.html_title, texts[0], st.h1_home)
        if headline:
            return headline, SOURCE_HTML_TITLE
    return texts[best], cands[best][0]


SOURCE_HTML_TITLE = "html_title"  # the page's <title>, when its only <h1> is the site's name
TITLE_OVER_H1 = 3  # a <title> this many times as long as an <h1> it shares no word with holds the headline
_TITLE_SEP = re.compile(r"\s+[-|–—:·»/]\s+|\s*[|｜]\s*")


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def _links_home_or_section(link) -> bool | None:
    """True for a link to a site's home page or a section ("/", "/blog/"), False for an article's permalink
    (rel=bookmark, a deeper path or a slug: "/2012/11/the-pickup/", "/the-wrong-pickup/"), None for no link."""
    if link is None or not (link.get("href") or "").strip() or (link.get("href") or "").startswith("#"):
        return None
    if "bookmark" in (link.get("rel") or "").lower().split():
        return False
    segments = [seg for seg in urlsplit(link.get("href").strip()).path.split("/") if seg]
    return not segments or len(segments) == 1 and not re.search(r"[-_.\d]", segments[0])


def _headline_beside_h1(html_title: str, h1: str, h1_home: bool | None) -> str | None:
    """The headline in <title> on a page whose only <h1> is the site's or a section's name (older layouts make the
    logo the <h1>), else None. The <h1> is taken for such a name when it links to the home page or a section (an
    <h1> linking to the article's own permalink is its headline), when it is a later part of the <title> ("Troy
    Carter At Wired 2012 - hypebot": headlines come first), or when it shares no word with a <title> at least
    TITLE_OVER_H1 times as long ("OCT 24" beside "Synthetic Fuel Made From Air and Water"). The headline is then
    the <title> without that name."""
    h1_words, title_words = _words(h1), _words(html_title)
    if not h1_words or not title_words:
        return None
    if h1_home is False:
        return None
    site_like = bool(h1_home)
    bounds = [0]
    for m in _TITLE_SEP.finditer(html_title):
        bounds += [m.start(), m.end()]
    bounds.append(len(html_title))
    parts = [(bounds[i], bounds[i + 1]) for i in range(0, len(bounds), 2)]
    for i, (start, end) in enumerate(parts):
        if len(parts) > 1 and html_title[start:end].strip().casefold() == h1.casefold():
            if i == 0 and not site_like:
                return None  # "Headline | Site": the <h1> is the headline
            rest = html_title[:parts[i - 1][1]] if i else html_title[parts[i + 1][0]:]
            return rest.strip() or None
    if site_like and h1.casefold() not in html_title.casefold():
        return html_title
    if not set(h1_words) & set(title_words) and len(title_words) >= TITLE_OVER_H1 * len(h1_words):
        return html_title
    return None


def pick_stamp(stamps: list[tuple[str, Stamp]]) -> tuple[Stamp | None, str | None]:
    """(stamp, source): the first published stamp; completed by another source of the page that gives the same
    day with a time, or the same wall-clock time with a zone (the most precise consistent value)."""
    published = [(s, st) for s, st in stamps if s != "json_ld_modified"]
    if not published:
        return None, None
    source, best = published[0]
    for other_src, other in stamps:
        if other is best:
            continue
        if not best.has_time and other.has_time and other.when.date() == best.when.date() and other_src != "json_ld_modified":
            best, source = other, other_src
        if best.has_time and not best.has_zone and other.has_zone and other.has_time and \
                other.when.replace(tzinfo=None) == best.when.replace(tzinfo=None):
            best, source = other, other_src
    if best.has_time and not best.has_zone:
        # Same page, a zoned stamp (often dateModified) gives the page's UTC offset.
        zoned = next((st for _, st in stamps if st.has_zone and st.has_time), None)
        if zoned is not None and abs((zoned.when.replace(tzinfo=None) - best.when).days) < 30:
            best = Stamp(best.when.replace(tzinfo=zoned.when.tzinfo), True, True)
    return best, source


_EMAIL = re.compile(r"\S+@\S+\.\w+")
# A short staff code after a name: "Elena Oberholzer (obe)".
_STAFF_CODE = re.compile(r"\s*\([^()\s]{1,6}\.?\)\s*$")


# A label before the names ("By Jane Smith", "Autor: ..."); the scorer's and most readers' idea of a name has none.
_BYLINE_LABEL = re.compile(r"^(?:by|von|par|por|door|autor|autorin|author|text|texte|texto)\b\s*:?\s+", re.I)
# A host name ("mdr.de", "www.dw.com", "ntv.com.tr"): a site credited as author, not a person.
_HOSTNAME = re.compile(r"(?:^|[\s(])(?:www\.)?[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?=$|[\s),;])", re.I)


# A comma-separated part of an author string longer than this is a description (job, affiliation), not a name.
MAX_NAME_WORDS = 4
_CONJUNCTION = re.compile(r"\s(?:and|und|et|y|e|i|og|och|en|ve|&)\s", re.I)  # "Sarah Roe and Tanya Zack" is two names


def _squash(name: str) -> str:
    return re.sub(r"\W+", "", unicodedata.normalize("NFKC", name).casefold())


def _is_organisation(name: str, st: Structured) -> bool:
    """True for an author that is the publication or a site: the site's name or its initials ("LTO" for "Legal
    Tribune Online"), a host name, or the name of the site's admin account. (A JSON-LD @type Organization is not trusted: pages type their reporters
    so.)"""
    if _HOSTNAME.search(name) or name in st.accounts:
        return True
    key = _squash(name)
    for _, site in st.sites:
        words = re.findall(r"\w+", site)
        site_key = _squash(site)
        if key and (key == site_key or key == _squash(re.sub(r"\.\w+$", "", site))
                    or len(words) > 1 and key == "".join(w[0] for w in words).casefold()):
            return True
        name_words = re.findall(r"\w+", name.casefold())
        if words and len(name_words) > len(words) and name_words[: len(words)] == [w.casefold() for w in words]:
            return True  # the site's name and a desk or region after it ("MDR THÜRINGEN")
    return False


def _clean_names(names: list[str]) -> list[str]:
    """Names without labels, staff codes, e-mail addresses, URLs, numbers (a CMS user id) and repeats."""
    out = []
    for name in names:
        name = _STAFF_CODE.sub("", _BYLINE_LABEL.sub("", name.strip())).strip(" ,;:")
        parts = name.split(", ")
        for i, part in enumerate(parts[1:], 1):  # "Jane Roe, professor of history at ..., Site.lt": the name
            if len(_CONJUNCTION.sub(" ", part).split()) > MAX_NAME_WORDS or _HOSTNAME.search(part):
                name = ", ".join(parts[:i])
                break
        if not name or _EMAIL.search(name) or _URLISH.match(name) or not re.search(r"[^\W\d_]", name) \
                or name.startswith("("):  # "(Image: Getty Images)": a credit, not a name
            continue
        if name not in out:
            out.append(name)
    return out


def _people(names: list[str], st: Structured) -> list[str]:
    return [n for n in _clean_names(names) if not _is_organisation(n, st)]


def credits_person(st: Structured) -> bool:
    """True when one of the page's author sources names a person (not only the publication)."""
    return any(_people(names, st) for _, names in st.authors)


def pick_authors(st: Structured) -> tuple[str | None, str | None]:
    """(authors joined by ", ", source): the first source that names a person, with all the names it gives (an
    agency or the newsroom credited beside a person included); else the first source that names anyone, so a
    publication credited as the only author is kept. Labels ("By"), e-mail addresses, URLs, CMS user numbers and
    a short staff code after a name are dropped."""
    for source, names in st.authors:
        if _people(names, st):
            return ", ".join(_clean_names(names)), source
    for source, names in st.authors:
        names = _clean_names(names)
        if names:
            return ", ".join(names), source
    return None, None


def _in_article_item(node) -> bool:
    """False for microdata of another item (a teaser's Article inside a list, a comment's Person)."""
    for anc in node.iterancestors():
        if anc.tag in _TEASER_TAGS:
            return False
        if anc.get("itemscope") is not None:
            return bool(_ARTICLE_ITEMTYPE.search(anc.get("itemtype") or "Article"))
    return True


def markup_authors(tree) -> list[str]:
    """Names in the page's author markup: itemprop=author of the article's microdata item (its name, content or
    text), else a rel=author link when the page has only one author so linked (several are teasers' authors)."""
    out: list[str] = []
    for node in tree.xpath("//*[@itemprop='author']"):
        if not _in_article_item(node):
            continue
        inner = node.find(".//*[@itemprop='name']")
        text = (inner.get("content") or "".join(inner.itertext())) if inner is not None else \
            (node.get("content") or "".join(node.itertext()))
        for name in (clean_value(part) for part in (text or "").split(";")):  # "srf/hosb;kesm": two names
            if name and len(name) <= 80 and name not in out:
                out.append(name)
    if not out:
        linked = {clean_value("".join(a.itertext())) for a in tree.xpath("//a[@rel='author']")} - {None}
        out = list(linked) if len(linked) == 1 and looks_like_name(next(iter(linked))) else []
    return out if len(out) <= MAX_MARKUP_AUTHORS else []


# A personal name as a byline found by class names gives it: 2 to 5 words, each capitalised (particles such as
# "de", "van", "bin" allowed), letters, hyphens, apostrophes and dots only.
_NAME_WORD = re.compile(r"^(?:[^\W\d_][^\W\d_'’.-]*(?:[-'’.][^\W\d_]*)*\.?)$")
# Link labels and widgets that author-classed elements hold instead of a name.
_UI_WORDS = re.compile(r"\b(?:view|profile|about|contact|posted|reblogged|comments?|share|follow|more|authors?|"
                       r"name)\b", re.I)
_PARTICLES = frozenset({"de", "da", "del", "der", "den", "di", "du", "la", "le", "van", "von", "bin", "al", "el",
                        "y", "e", "dos", "das", "ter", "zu"})


def looks_like_name(text: str) -> bool:
    """True for "Jane Roe", "Ana de la Cruz", "Eva Kirchner-Rätsch"; False for "View Profile"-like one-word or
    lower-case phrases, digits and scripts without capitals are judged by length only (2 to 40 characters)."""
    words = text.split()
    if _UI_WORDS.search(text):
        return False
    if not any(ch.isupper() or ch.islower() for ch in text):  # CJK, Arabic script, ...: no case to judge
        return 2 <= len(text) <= 40
    if not 2 <= len(words) <= 5 or not all(_NAME_WORD.match(w) for w in words):
        return False
    return all(w[0].isupper() or w in _PARTICLES for w in words)


_BOLD = frozenset({"strong", "b"})
_NAMES_SPLIT = re.compile(r"\s*(?:/|&|\band\b|,)\s*")


def bold_name_paragraphs(tree) -> list[str]:
    """The texts of <p> elements that are one bold run and read as one or more personal names ("<p><strong>Jane
    Roe</strong></p>", "Jane Roe/John Doe"): where many CMS templates set the byline, as the first or the last
    paragraph of the body. Whether it is the byline is decided against the extracted text (`byline_in_text`)."""
    out = []
    for p in tree.iter("p"):
        if len(p) != 1 or (p.text or "").strip() or p[0].tag not in _BOLD or (p[0].tail or "").strip():
            continue
        text = clean_value("".join(p[0].itertext()))
        if text and len(text) <= 80:
            parts = [x for x in _NAMES_SPLIT.split(text) if x]
            if parts and all(looks_like_name(x) and not set(x.casefold().split()) & _HEADING_WORDS for x in parts):
                out.append(text)
    return out


# Words of a bold heading ("I. The Pancake", "Notes on the Game") that a personal name does not hold.
_HEADING_WORDS = frozenset({"the", "of", "in", "on", "for", "to", "at", "from", "with", "a", "an", "is", "i.", "ii.",
                            "iii.", "iv.", "v."})
# The byline paragraph is one of the extracted text's first lines, after at most a short kicker or standfirst (a
# byline after the lead's sentences is a section heading), or its last line.
BYLINE_HEAD_LINES = 3
BYLINE_LEAD_WORDS = 20
_WORD = re.compile(r"\w+")


def byline_in_text(bold_names: list[str], lines: list[str]) -> str | None:
    """The bold name paragraph (`bold_name_paragraphs`) that is the extracted text's last line, or one of its first
    BYLINE_HEAD_LINES lines with under BYLINE_LEAD_WORDS words above it; its names joined by ", "; else None."""
    lines = [line.strip() for line in lines if line.strip()]
    if not bold_names or not lines:
        return None
    ends, above = [lines[-1]], 0
    for line in lines[:BYLINE_HEAD_LINES]:
        if above >= BYLINE_LEAD_WORDS:
            break
        ends.append(line)
        above += len(_WORD.findall(line))
    for text in bold_names:
        if text in ends:
            return ", ".join(x for x in _NAMES_SPLIT.split(text) if x)
    return None


# An editing credit ("Redaktion: Jane Roe", "Edited by ..."): the editor, not the author.
_EDITOR_LABEL = re.compile(r"^(?:redaktion|redakteur(?:in)?|bearbeitung|edited by|editor|editing|rédaction|redacción|"
                           r"redazione|redactie)\b\s*:?\s+(?=[^\W\d_])", re.I)
_INNER_LABEL = re.compile(r"^(\S+)\s+(?:by|von|par|por|door)\s+(?=[^\W\d_])", re.I)


def _after_label(text: str) -> str:
    """ "Capital Von Jemima Kelly" (a brand, then the byline label) is "Jemima Kelly"; a capitalised name must
    follow the label ("Ursula von der Leyen" stays)."""
    m = _INNER_LABEL.match(text)
    return text[m.end():] if m and text[m.end()].isupper() else text


def _headline_scope(tree):
    """The outermost <article> or <main> around the page's first <h1> (where its byline sits), else the page: the
    search copies what it is given, so a smaller scope is cheaper."""
    h1 = tree.find(".//h1")
    scope = None
    for anc in h1.iterancestors() if h1 is not None else ():
        if anc.tag in ("article", "main"):
            scope = anc
    return scope if scope is not None else tree


def page_search_authors(tree) -> list[str]:
    """trafilatura's search of the page for a byline (author class and id names), split into names; only the
    parts that look like a personal name are kept (its finds include "View Profile" and section names). The search
    is author_search's, trafilatura's `extract_author` without its copy of the tree: the same answer."""
    from transforms.clean.author_search import search_author

    found = search_author(tree)
    names = [_after_label(_BYLINE_LABEL.sub("", n.strip())) for n in (found or "").split(";")
             if not _EDITOR_LABEL.match(n.strip())]
    return [n for n in names if n and looks_like_name(n)]


# Longest publication name kept; a longer og:site_name is a page title or a slogan.
MAX_SITE_CHARS = 60
_SITE_SEP = re.compile(r"\s+[-|–—:·]\s+")


def clean_site(name: str | None, title: str | None = None) -> str | None:
    """A publication name, or None: never a URL, never the page's title; "Zillow Blog - Real Estate Market
    Stats, ..." is "Zillow Blog"."""
    name = clean_value(name)
    if not name:
        return None
    name = name.lstrip("@").strip()
    if _URLISH.match(name) or "/" in name:
        return None
    if len(name) > MAX_SITE_CHARS or _SITE_SEP.search(name) and len(name) > 30:
        name = _SITE_SEP.split(name)[0].strip()
    if not name or len(name) > MAX_SITE_CHARS:
        return None
    if title and name.casefold() == title.casefold():
        return None
    return name


def pick_site(st: Structured, title: str | None = None) -> tuple[str | None, str | None]:
    """(publication name, source): JSON-LD publisher, og:site_name, else the page's JSON-LD organisation."""
    for source, name in st.sites:
        site = clean_site(name, title)
        if site:
            return site, source
    return None, None
