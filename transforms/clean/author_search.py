"""trafilatura's in-page author search (`trafilatura.metadata.extract_author`) without copying the tree.

The library deep-copies the tree, deletes the subtrees its AUTHOR_DISCARD_XPATHS select (comments, sidebars,
dates, figures: `delete_element` keeps each one's tail text, joined to the previous sibling's tail or the
parent's text), then returns the first element of its AUTHOR_XPATHS, in order, whose trimmed text is 3 to 119
characters. Its XPaths test class and id names with EXSLT `re:test`, which calls back into Python for each
element (and libxml2's `contains` is no faster). Here one pass over the original tree tests each element's
attributes with the same regular expressions (once per distinct class or id value), and a candidate's text is
read skipping the deleted subtrees, with their tails joined as the deletion joins them. The result is the
library's (tests/test_author_search.py compares the two on hand-written and generated pages); where this module
could not be sure of that (another trafilatura, or a `<rel>` element, which the library's `rel='me'` tests by
its text after the deletion) the library's own function runs.
"""
from __future__ import annotations

import re

import trafilatura
from lxml import etree
from trafilatura.json_metadata import normalize_authors
from trafilatura.metadata import extract_author
from trafilatura.utils import trim
from trafilatura.xpaths import AUTHOR_DISCARD_XPATHS, AUTHOR_XPATHS

LEN_LIMIT = 120  # extract_author's len_limit: a text this long or longer is not a byline

# The library's XPaths these are translated from (whitespace collapsed): another text takes its own function.
TRANSLATED_VERSION = "2.3.1"
TRANSLATED_FROM = (
    "//*[self::a or self::address or self::div or self::link or self::p or self::span or self::strong][ "
    "@rel='author' or @id='author' or @class='author' or @itemprop='author name' or rel='me' or "
    "@data-testid='AuthorCard' or @data-testid='AuthorURL' or re:test(@class, 'author-?name|AuthorName|authorName')]"
    "|//author",
    "//*[self::a or self::div or self::h3 or self::h4 or self::p or self::span][ @class='byline' or "
    "@class='username' or @class='byl' or @class='BBL' or contains(@itemprop, 'author') or re:test(@id, "
    "'author|zuozhe|bianji|xiaobian') or re:test(@class, 'author|channel-name|zuozhe|bianji|xiaobian|submitted-by|"
    "posted-by|journalist-name')]",
    "//*[ contains(@data-component, 'Byline') or contains(@itemprop, 'author') or re:test(@id, '[Aa]uthor') or "
    "re:test(@class, '[Aa]uthor|screenname|writer|[Bb]yline')]",
    ".//*[self::a or self::div or self::section or self::span][ @id='comments' or @class='comments' or "
    "@class='title' or @class='date' or re:test(@id, '^comments|comment-?list|ProductReviews') or re:test(@class, "
    "'^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|article-(?:share|support)|"
    "print|category|meta-date|meta-reviewer') or contains(@data-component, 'Figure')]",
    "//time|//figure",
)


# Tags each XPath asks for (`self::a or ...`).
_TAGS_1 = frozenset({"a", "address", "div", "link", "p", "span", "strong"})
_TAGS_2 = frozenset({"a", "div", "h3", "h4", "p", "span"})
_TAGS_DISCARD = frozenset({"a", "div", "section", "span"})
# Their `re:test` patterns: lxml's EXSLT `re:test(@x, p)` is `re.compile(p, re.UNICODE).search(value of @x or "")`.
_CLASS_1 = re.compile("author-?name|AuthorName|authorName")
_ID_2 = re.compile("author|zuozhe|bianji|xiaobian")
_CLASS_2 = re.compile("author|channel-name|zuozhe|bianji|xiaobian|submitted-by|posted-by|journalist-name")
_ID_3 = re.compile("[Aa]uthor")
_CLASS_3 = re.compile("[Aa]uthor|screenname|writer|[Bb]yline")
_ID_DISCARD = re.compile("^comments|comment-?list|ProductReviews")
_CLASS_DISCARD = re.compile("^[Cc]omments|commentlist|comments-list|sidebar|is-hidden|quote|embedly-instagram|"
                            "article-(?:share|support)|print|category|meta-date|meta-reviewer")
# One bit per XPath: the three searches in order, then the discarding one.
S1, S2, S3, DISCARD = 1, 2, 4, 8


def _class_bits(value: str) -> int:
    return ((S1 if value == "author" or _CLASS_1.search(value) else 0)
            | (S2 if value in ("byline", "username", "byl", "BBL") or _CLASS_2.search(value) else 0)
            | (S3 if _CLASS_3.search(value) else 0)
            | (DISCARD if value in ("comments", "title", "date") or _CLASS_DISCARD.search(value) else 0))


def _id_bits(value: str) -> int:
    return ((S1 if value == "author" else 0)
            | (S2 if _ID_2.search(value) else 0)
            | (S3 if _ID_3.search(value) else 0)
            | (DISCARD if value == "comments" or _ID_DISCARD.search(value) else 0))


def _other_bits(name: str, value: str) -> int:
    """Bits of the attributes other than class and id that the XPaths test."""
    if name == "rel":
        return S1 if value == "author" else 0
    if name == "itemprop":
        return (S1 if value == "author name" else 0) | (S2 | S3 if "author" in value else 0)
    if name == "data-testid":
        return S1 if value in ("AuthorCard", "AuthorURL") else 0
    if name == "data-component":
        return (S3 if "Byline" in value else 0) | (DISCARD if "Figure" in value else 0)
    return 0


_OTHER = frozenset({"rel", "itemprop", "data-testid", "data-component"})
_NO_TEXT = (etree.Comment, etree.PI)  # nodes whose own text itertext does not give (their tails it does)


class _LibraryOnly(Exception):
    """A page this module does not answer for: a `<rel>` element (the library tests `rel='me'` on its text after
    the deletion)."""


def _source_texts() -> tuple[str, ...]:
    return tuple(" ".join(x.path.split()) for x in (*AUTHOR_XPATHS, *AUTHOR_DISCARD_XPATHS))


EXACT = trafilatura.__version__ == TRANSLATED_VERSION and _source_texts() == TRANSLATED_FROM


class _TooLong(Exception):
    pass


def _pruned_text(elem, deleted: set, limit: int = LEN_LIMIT) -> str | None:
    """`trim(" ".join(elem.itertext()))` as the library reads it after deleting `deleted` (the subtrees go, their
    tails are joined to the text before them); None once the text is sure to be `limit` characters or longer."""
    pieces: list[str] = []
    size = 0  # characters other than white space so far: the trimmed text is at least this long

    def put(piece: str) -> None:
        nonlocal size
        pieces.append(piece)
        size += sum(map(len, piece.split()))
        if size >= limit:
            raise _TooLong

    def walk(node) -> None:
        cur = node.text
        for child in node:
            if child in deleted:
                if child.tail:
                    cur = (cur or "") + child.tail
                continue
            if cur is not None:
                put(cur)
            if child.tag not in _NO_TEXT:
                walk(child)
            cur = child.tail
        if cur is not None:
            put(cur)

    try:
        walk(elem)
    except _TooLong:
        return None
    return trim(" ".join(pieces))


def _select(root) -> tuple[list, list, list, set]:
    """What the library's XPaths select below `root` after its deletion, in one pass in document order: the
    elements of the three searches outside the deleted subtrees, and those subtrees' elements, roots and inner
    ones (never `root`: the library cannot delete its copy's root). A parent comes before its children, so an
    element is in a deleted subtree when it is deleted or its parent is."""
    found: tuple[list, list, list] = ([], [], [])
    deleted = set()
    class_bits: dict[str, int] = {}
    id_bits: dict[str, int] = {}
    for el in root.iter():
        tag = el.tag
        if tag.__class__ is not str:
            continue  # comment or processing instruction: no XPath here selects one
        bits = 0
        for name, value in el.items():
            if name == "class":
                b = class_bits.get(value)
                if b is None:
                    b = class_bits[value] = _class_bits(value)
                bits |= b
            elif name == "id":
                b = id_bits.get(value)
                if b is None:
                    b = id_bits[value] = _id_bits(value)
                bits |= b
            elif name in _OTHER:
                bits |= _other_bits(name, value)
        if tag == "author":
            bits |= S1
        elif tag in ("time", "figure"):
            bits |= DISCARD
        elif tag == "rel":
            raise _LibraryOnly
        if deleted and el.getparent() in deleted:
            deleted.add(el)
            continue
        if not bits:
            continue
        if bits & DISCARD and (tag in _TAGS_DISCARD or tag in ("time", "figure")) and el is not root:
            deleted.add(el)
            continue
        if bits & S1 and (tag in _TAGS_1 or tag == "author"):
            found[0].append(el)
        if bits & S2 and tag in _TAGS_2:
            found[1].append(el)
        if bits & S3:
            found[2].append(el)
    return (*found, deleted)


def search_author(tree) -> str | None:
    """`trafilatura.metadata.extract_author(tree)`, the same string or None, without copying `tree`."""
    if not EXACT:
        return extract_author(tree)
    try:
        *searches, deleted = _select(tree)
    except _LibraryOnly:
        return extract_author(tree)
    for results in searches:
        for elem in results:
            content = _pruned_text(elem, deleted)
            if content and 2 < len(content) < LEN_LIMIT:
                return normalize_authors(None, content)
    return None
