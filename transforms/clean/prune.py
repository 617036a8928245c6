"""What is rewritten in a parsed HTML page before its main text is extracted: ruby annotations as inline text.

Pure functions that edit an lxml tree in place; each returns how many elements it changed.
"""
from __future__ import annotations


def flatten_ruby(tree) -> int:
    """Turn each <ruby> annotation into plain inline text, base then reading in its brackets ("尹錫悦（ユンソンニョル）",
    what a browser without ruby support shows), so that the extraction neither breaks the sentence there nor
    drops the reading."""
    found = list(tree.iter("ruby"))
    for ruby in found:
        text = "".join(ruby.itertext())
        for child in list(ruby):
            ruby.remove(child)
        ruby.text = text
        ruby.tag = "span"
    return len(found)
