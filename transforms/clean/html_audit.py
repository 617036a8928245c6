"""The audit trail for HTML: which blocks of a page the extraction left out, each named for the part of the page
it sat in (navigation, related links, share bar, newsletter box, comment section, ...).

`page_blocks` reads the parsed page before trafilatura cleans it; `left_out` keeps the blocks whose text is not
in the extracted text. Both are pure; the cleaner lists the result in `boilerplate_removed`/`boilerplate_rules`.
"""
from __future__ import annotations

import re

from lxml import etree

# Rule names of the blocks the extraction left out (a vocabulary of their own: never learned as template lines).
HTML_RULES = ("html_navigation", "html_header", "html_footer", "html_sidebar", "html_share", "html_related",
              "html_newsletter", "html_comments", "html_cookie", "html_ad", "html_caption", "html_tags",
              "html_not_main_text")
_INVISIBLE = {"script", "style", "noscript", "template", "head", "title", "meta", "link", "svg", "iframe", "object",
              "embed", "select", "option", "textarea", "map", "canvas"}
_BLOCK = {"address", "article", "aside", "blockquote", "body", "dd", "details", "div", "dl", "dt", "fieldset",
          "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "li", "main", "nav",
          "ol", "p", "pre", "section", "summary", "table", "td", "th", "tr", "ul", "button"}
_TAG_RULES = {"nav": "html_navigation", "header": "html_header", "footer": "html_footer", "aside": "html_sidebar",
              "figcaption": "html_caption"}
# class/id words (split on -, _ and spaces) that name a part of the page, checked in this order.
_WORD_RULES = (
    ("html_comments", {"comment", "comments", "disqus", "replies", "respond"}),
    ("html_cookie", {"cookie", "cookies", "consent", "gdpr"}),
    ("html_newsletter", {"newsletter", "subscribe", "signup", "subscription"}),
    ("html_share", {"share", "sharing", "social", "sharebar"}),
    ("html_related", {"related", "recommended", "recommendations", "teaser", "teasers", "more", "trending", "popular"}),
    ("html_ad", {"ad", "ads", "advert", "advertisement", "sponsor", "sponsored", "promo"}),
    ("html_navigation", {"nav", "navbar", "navigation", "menu", "breadcrumb", "breadcrumbs", "pagination"}),
    ("html_tags", {"tags", "tag", "topics", "keywords"}),
    ("html_caption", {"caption", "credit"}),
    ("html_sidebar", {"sidebar", "aside", "rail"}),
    ("html_footer", {"footer"}),
    ("html_header", {"header", "masthead"}),
)
_SPLIT = re.compile(r"[\s_-]+")
# Any of those words as a whole class/id word: most elements name none, and need no split into words.
_KNOWN = "|".join(sorted({re.escape(w) for _, known in _WORD_RULES for w in known}, key=len, reverse=True))
_ANY_WORD = re.compile(rf"(?<![^\s_-])(?:{_KNOWN})(?![^\s_-])")
_SPACE = re.compile(r"\s+")
# At most this many blocks per page are listed, each cut to MAX_BLOCK_CHARS characters.
MAX_BLOCKS = 200
MAX_BLOCK_CHARS = 300


def _rule_of(tag: str, names: str, role: str) -> str | None:
    """What part of the page an element is, by its class/id words first (an <aside class="related"> is related
    links), then by its tag or ARIA role; None when it says nothing."""
    low = names.lower()
    if _ANY_WORD.search(low):
        words = {w for w in _SPLIT.split(low) if w}
        for rule, known in _WORD_RULES:
            if words & known:
                return rule
    if role.lower() == "navigation":
        return "html_navigation"
    return _TAG_RULES.get(tag)


def page_blocks(tree) -> list[tuple[str, str]]:
    """(rule, text) of every visible text block of the page, in page order; the rule is that of the nearest
    enclosing part of the page that names one, else html_not_main_text."""
    body = tree.find(".//body")
    if body is None:
        return []
    if next(body.iter(etree.Comment, etree.ProcessingInstruction, etree.Entity), None) is not None:
        return _walk_blocks(body)  # lxml's iterwalk does not visit these, and their tails are text
    out: list[tuple[str, str]] = []
    memo: dict[tuple, str | None] = {}  # pages repeat the same few class names on thousands of elements
    bufs: list[list[str]] = [[]]  # the text of the block being read, per open block
    rules: list[str | None] = [None]  # the rule of each open element
    kinds: list[int] = []  # per open element: _SKIPPED, _INLINE or _BLOCKED
    walker = etree.iterwalk(body, events=("start", "end"))
    for event, node in walker:
        if event == "start":
            tag = node.tag
            if tag in _INVISIBLE:
                walker.skip_subtree()
                kinds.append(_SKIPPED)
                continue
            attrib = node.attrib
            if attrib:
                if attrib.get("hidden") is not None:
                    walker.skip_subtree()
                    kinds.append(_SKIPPED)
                    continue
                key = (tag, attrib.get("class") or "", attrib.get("id") or "", attrib.get("role") or "")
            else:
                key = tag
            own = memo.get(key, _UNKNOWN)
            if own is _UNKNOWN:
                own = memo[key] = _rule_of(tag, "", "") if key is tag else _rule_of(tag, f"{key[1]} {key[2]}", key[3])
            text = node.text
            if tag in _BLOCK:
                if bufs[-1]:
                    _flush(bufs[-1], rules[-1], out)
                bufs.append([text] if text else [])
                kinds.append(_BLOCKED)
            else:
                if text:
                    bufs[-1].append(text)
                kinds.append(_INLINE)
            rules.append(own or rules[-1])
            continue
        kind = kinds.pop()
        if kind != _SKIPPED:
            own = rules.pop()
            if kind == _BLOCKED:
                buf = bufs.pop()
                if buf:
                    _flush(buf, own, out)
        if node.tail:
            bufs[-1].append(node.tail)
    return out


_SKIPPED, _INLINE, _BLOCKED = 0, 1, 2
_UNKNOWN = object()


def _flush(buf: list[str], rule: str | None, out: list[tuple[str, str]]) -> None:
    text = "".join(buf)
    buf.clear()
    if text and not text.isspace():
        out.append((rule or "html_not_main_text", _SPACE.sub(" ", text).strip()))


def _walk_blocks(body) -> list[tuple[str, str]]:
    """page_blocks by a walk in Python, for a page that kept comments, processing instructions or entities."""
    out: list[tuple[str, str]] = []
    memo: dict[tuple, str | None] = {}

    def walk(node, rule: str | None, buf: list[str]):
        tag = node.tag if isinstance(node.tag, str) else None
        if tag is None or tag in _INVISIBLE or node.get("hidden") is not None:
            if node.tail:
                buf.append(node.tail)
            return
        key = (tag, node.get("class") or "", node.get("id") or "", node.get("role") or "")
        if key not in memo:
            memo[key] = _rule_of(tag, f"{key[1]} {key[2]}", key[3])
        own = memo[key] or rule
        if tag in _BLOCK:
            _flush(buf, rule, out)
            inner: list[str] = [node.text or ""]
            for child in node:
                walk(child, own, inner)
            _flush(inner, own, out)
        else:
            buf.append(node.text or "")
            for child in node:
                walk(child, own, buf)
        if node.tail:
            buf.append(node.tail)

    walk(body, None, [])
    return out


def left_out(blocks: list[tuple[str, str]], text: str) -> list[tuple[str, str]]:
    """The blocks whose text the extracted `text` does not contain, at most MAX_BLOCKS, each cut short."""
    kept = _SPACE.sub(" ", text)
    out = []
    for rule, block in blocks:
        if block not in kept:
            out.append((rule, block[:MAX_BLOCK_CHARS]))
            if len(out) >= MAX_BLOCKS:
                break
    return out
