"""Agreement checks on an HTML page's extracted text: how much of the page's own article paragraphs (or of its
JSON-LD articleBody) the text holds, measured in shared 4-token shingles, so that a second opinion is asked only
where the first text looks wrong, and kept only where it agrees better with the page.

Pure functions over a parsed lxml tree and strings.
"""
from __future__ import annotations

import re
from collections import Counter

_TOKEN = re.compile(r"\w+")
# Containers of reader comments, by their class or id.
_COMMENTISH = re.compile(r"comment|reply|respond|disqus|discussion", re.I)
SHINGLE = 4


def shingle_bag(text: str) -> Counter:
    """Bag of overlapping 4-token shingles of `text` (a text of fewer tokens is one shingle of what it has)."""
    tokens = _TOKEN.findall(text or "")
    if len(tokens) < SHINGLE:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(zip(*(tokens[i:] for i in range(SHINGLE))))


def coverage(reference: Counter, text: Counter) -> float:
    """Share of the reference's shingles that `text` holds (multiset intersection); 0.0 for an empty reference."""
    total = sum(reference.values())
    return sum((reference & text).values()) / total if total else 0.0


def agreement(reference: Counter, text: Counter) -> float:
    """F1 of `text` against the reference, in shared shingles: high when the text holds the reference and little
    else; 0.0 when they share nothing."""
    shared = sum((reference & text).values())
    total = sum(reference.values()) + sum(text.values())
    return 2 * shared / total if total else 0.0


def _inside_comments(node) -> bool:
    while node is not None:
        if _COMMENTISH.search(f"{node.get('class') or ''} {node.get('id') or ''}"):
            return True
        node = node.getparent()
    return False


def _outermost_article(node):
    """The outermost <article> element around `node`, or None."""
    top = None
    for anc in node.iterancestors("article"):
        top = anc
    return top


def paragraph_groups(tree, whole_page: bool) -> tuple[list[str], list[list[str]]]:
    """(paragraphs outside any <article>, [paragraphs of each outermost <article>]): the text of the page's <p>
    elements outside comment sections, in page order. Only those inside <article>/<main>/articleBody unless
    `whole_page` (a page that declares itself an article)."""
    scopes = [tree] if whole_page else tree.xpath("//article|//main|//*[@itemprop='articleBody']")
    seen = set()  # the elements themselves: an id() of an lxml proxy is reused once it is freed
    outside: list[str] = []
    articles: dict = {}
    for scope in scopes:
        for p in scope.iter("p"):
            if p in seen or _inside_comments(p):
                continue
            seen.add(p)
            text = "".join(p.itertext()).strip()
            if not text:
                continue
            top = _outermost_article(p)
            (outside if top is None else articles.setdefault(top, [])).append(text)
    return outside, list(articles.values())


def pick_reference(outside: list[str], articles: list[list[str]], text_bag: Counter, min_share: float) -> list[str]:
    """The paragraphs a page's article text should hold: those outside any <article>, plus those of the one
    <article> the text agrees with most, when that one holds at least `min_share` of the largest <article>'s
    text (else the largest: the text found a teaser). A page that appends the next story in an <article> of
    its own, or lists teasers as <article>s, is about one of them."""
    if len(articles) < 2:
        return outside + (articles[0] if articles else [])
    sizes = [sum(len(p) for p in group) for group in articles]
    bags = [shingle_bag("\n".join(group)) for group in articles]
    best = max(range(len(articles)), key=lambda k: (sum((bags[k] & text_bag).values()), sizes[k]))
    if sizes[best] < min_share * max(sizes):
        best = sizes.index(max(sizes))
    return outside + articles[best]


def on_page_lines(body: str, page: Counter, min_share: float) -> list[str]:
    """The lines of `body` (JSON-LD articleBody) whose shingles the page's paragraphs hold at least `min_share`
    of: what the page shows of it, without the markup codes or hidden paywalled paragraphs a CMS puts there."""
    return [line.strip() for line in body.splitlines()
            if line.strip() and coverage(shingle_bag(line), page) >= min_share]


def fuller_body(body: str | None, text_bag: Counter, page_paragraphs: list[str], min_share: float) -> str | None:
    """The page's JSON-LD articleBody (its lines shown on the page) in place of an extracted text that is a
    fragment of it: the text holds under `min_share` of the body, the body holds at least `min_share` of the
    text (they agree on what they share), and the page's paragraphs show at least `min_share` of the body.
    None otherwise."""
    if not body or not text_bag:
        return None
    body_bag = shingle_bag(body)
    if coverage(body_bag, text_bag) >= min_share or coverage(text_bag, body_bag) < min_share:
        return None
    page = shingle_bag("\n".join(page_paragraphs))
    if coverage(body_bag, page) < min_share:
        return None
    lines = on_page_lines(body, page, min_share)
    return "\n".join(lines) if lines else None
