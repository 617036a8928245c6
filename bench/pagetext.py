"""Whole visible page as plain text, one block per line (navigation, ads, captions, footers and all).

This is what a copy-paste of a rendered page or a naive crawler's text dump looks like: the input
of the raw-text path of the extraction benchmark. Nothing is judged here; only invisible parts
(scripts, styles, <head>, hidden elements, form option lists) are left out.
"""
from __future__ import annotations

import re

# Elements whose text is never shown on the page.
_INVISIBLE = {"script", "style", "noscript", "template", "head", "title", "meta", "link", "svg", "iframe",
              "object", "embed", "select", "option", "textarea", "map", "canvas"}
# Elements that start and end a block (a line of the dump).
_BLOCK = {"address", "article", "aside", "blockquote", "body", "center", "dd", "details", "dialog", "dir", "div",
          "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "frame", "frameset", "h1", "h2", "h3",
          "h4", "h5", "h6", "header", "hgroup", "hr", "html", "legend", "li", "main", "menu", "nav", "noframes",
          "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
          "caption", "br", "button"}
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_SPACE = re.compile(r"\s+")


def _hidden(el) -> bool:
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    style = el.get("style")
    return bool(style and _HIDDEN_STYLE.search(style))


def tree_text_blocks(root) -> list[str]:
    """The visible text of an lxml tree as a list of blocks (whitespace folded, empty blocks dropped)."""
    blocks: list[str] = []
    buf: list[str] = []

    def flush():
        line = _SPACE.sub(" ", "".join(buf)).strip()
        if line:
            blocks.append(line)
        buf.clear()

    def walk(el):
        tag = el.tag if isinstance(el.tag, str) else ""
        tag = tag.lower().rsplit("}", 1)[-1]
        if not tag or tag in _INVISIBLE or _hidden(el):
            # Comments and processing instructions (non-string tags) or invisible: skip, keep the tail.
            if el.tail:
                buf.append(el.tail)
            return
        block = tag in _BLOCK
        if block:
            flush()
        if el.text:
            buf.append(el.text)
        for child in el:
            walk(child)
        if block:
            flush()
        elif tag in ("td", "th", "span", "a", "img") and buf and not buf[-1].endswith(" "):
            buf.append(" ")
        if el.tail:
            buf.append(el.tail)

    walk(root)
    flush()
    return blocks


def page_text(html: bytes | str) -> str:
    """The whole visible text of an HTML page, one block per line; '' when it cannot be parsed."""
    from trafilatura.utils import load_html

    tree = load_html(html)
    if tree is None:
        return ""
    body = tree.find(".//body")
    return "\n".join(tree_text_blocks(body if body is not None else tree))
