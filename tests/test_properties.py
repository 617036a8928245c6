"""Property tests: random bytes, JSON values and Unicode (surrogates, RTL, combining marks, NUL) through the
readers and the cleaner. Whatever the input, every record leaves as exactly one article or one reject, and no
exception escapes. Bounded for CI: a fixed number of examples per property, a deadline per example."""
from __future__ import annotations

import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.records import RawArticle
from schemas.rejects import Reason, Reject
from transforms.clean.config import CleanConfig
from transforms.clean.rules import normalise_line, split_lines
from transforms.clean.templates import template_candidates
from transforms.clean.transform import CleanArticleFn, RemoveLearnedTemplateFn
from transforms.decoding import without_surrogates
from transforms.read.jsonl import bounded_lines, iter_jsonl
from transforms.read.transform import ParseInputFileFn

BOUNDED = settings(max_examples=40, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Characters that break naive text handling: lone surrogates, NUL and other controls, bidi controls,
# right-to-left letters, combining marks, unspaced scripts, the BOM, line and paragraph separators.
NASTY = st.sampled_from(["\ud800", "\udfff", "\x00", "\x07", "\x1b", "\u200f", "\u202e", "\u2066", "\u061c", "א", "ش",
                         "\u0301", "\u0e31", "東", "ก", "\ufeff", "\u2028", "\u2029", "\r", "\n", "\t", " ", ".", "<", "&"])
TEXT = st.lists(st.one_of(NASTY, st.characters(), st.text(min_size=1, max_size=8)), max_size=60).map("".join)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
FIELDS = ["id", "text", "html", "title", "url", "published", "site", "source", "language", "author"]
RECORDS = st.dictionaries(st.sampled_from(FIELDS), st.one_of(TEXT, JSON_VALUES), max_size=len(FIELDS))
LINE = st.one_of(
    st.binary(max_size=300),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    RECORDS.map(lambda r: json.dumps(r).encode()),  # json.dumps escapes lone surrogates as \ud800
    RECORDS.map(lambda r: json.dumps(r, ensure_ascii=False).encode("utf-8", "surrogatepass")),
)


def split(outputs) -> tuple[list, list]:
    main, rejects = [], []
    for out in outputs:
        value = getattr(out, "value", out)
        (rejects if isinstance(value, Reject) else main).append(value)
    return main, rejects


@BOUNDED
@given(st.lists(LINE, max_size=8))
def test_every_jsonl_line_is_one_article_or_one_reject(lines):
    data = b"\n".join(line.replace(b"\n", b" ").replace(b"\r", b" ") for line in lines) + b"\n"
    items = list(iter_jsonl("mem.jsonl", bounded_lines(io.BytesIO(data), 200), 200))
    non_blank = [n for n, line in enumerate(data.split(b"\n")[:-1], start=1) if line.strip()]
    assert sorted(int(i.source_uri.rsplit(":", 1)[1]) for i in items) == non_blank  # one item per non-blank line
    for item in items:
        assert isinstance(item, (RawArticle, Reject))
        if isinstance(item, Reject):
            assert item.reason != Reason.INTERNAL_ERROR, item.detail
            item.detail.encode("utf-8")  # storable
        else:  # no lone surrogate gets past a reader: every string the stages see has a UTF-8 form
            for value in (item.content, item.title, item.author, item.site, item.url, item.input_id):
                (value or "").encode("utf-8")


@BOUNDED
@given(st.binary(max_size=2000), st.sampled_from(["a.txt", "a.html", "a.jsonl", "a.warc", "a.html.gz", "a.jsonl.gz", "a.warc.gz"]))
def test_random_bytes_in_any_file_kind_never_escape(tmp_path_factory, data, name):
    path = tmp_path_factory.mktemp("p") / name
    path.write_bytes(data)
    main, rejects = split(ParseInputFileFn().process(str(path)))
    if name.endswith((".txt", ".html", ".html.gz")):
        assert len(main) + len(rejects) == 1  # a whole file is one article or one reject
    assert not [r.detail for r in rejects if r.reason == Reason.INTERNAL_ERROR]
    for article in main:
        article.content.encode("utf-8")


@BOUNDED
@given(TEXT, st.booleans(), st.one_of(st.none(), TEXT))
def test_the_cleaner_gives_one_article_or_one_reject(content, is_html, title):
    # Text as a reader hands it on: lone surrogates already replaced (the reader property above checks that).
    content, title = without_surrogates(content), title and without_surrogates(title)
    raw = RawArticle(article_id="x", source_uri="mem:x", input_format="text", content=content, is_html=is_html, title=title)
    main, rejects = split(CleanArticleFn(CleanConfig()).process(raw))
    assert len(main) + len(rejects) == 1
    assert not [r.detail for r in rejects if r.reason == Reason.INTERNAL_ERROR]
    for article in main:
        list(template_candidates(article))  # template learning hashes every line
        learned = {article.source_key: frozenset(normalise_line(line) for line in split_lines(article.text)[:1])}
        final, more = split(RemoveLearnedTemplateFn().process(article, learned))
        assert len(final) + len(more) == 1
        assert not [r.detail for r in more if r.reason == Reason.INTERNAL_ERROR]
