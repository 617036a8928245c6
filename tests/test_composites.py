"""One TestPipeline per composite stage, asserting its main and its rejects output."""
import datetime as dt
import json

import apache_beam as beam
import duckdb
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.layout import COUNTS_FILE
from schemas.records import UTC, CleanArticle, RawArticle, StoryAssignment, StoryRow
from schemas.rejects import Reject
from transforms.clean import StripBoilerplate
from transforms.copies import FindCopies
from transforms.fingerprints import comparison_text, content_hash
from transforms.identity import content_id
from transforms.stories import GroupStories
from transforms.write import WriteTables


def raw(uri, content, is_html=False, **kw):
    return RawArticle(
        article_id=content_id(uri, content),
        source_uri=uri,
        input_format="html" if is_html else "text",
        content=content,
        is_html=is_html,
        source_key=kw.pop("source_key", "dir:x"),
        **kw,
    )


BODY = [
    "Officials in the northern province confirmed on Tuesday that the river had burst its banks after three days of rain.",
    "Rescue teams moved hundreds of families to schools on higher ground, the regional governor told reporters.",
    "Forecasters expect more rain before the weekend, and farmers fear that the harvest will be lost.",
    "The national weather agency said the flooding was the worst in the region for more than forty years.",
]


@pytest.mark.parametrize("split_inputs", [False, True], ids=["one-pcollection", "tuple-of-pcollections"])
def test_strip_boilerplate_composite(split_inputs):
    page = "<html><body><nav>Home</nav><article>" + "".join(f"<p>{s}</p>" for s in BODY) + "</article></body></html>"
    template = "Read our coverage of the elections on the live blog page"
    texts = [
        raw("a.txt", "ADVERTISEMENT\n" + BODY[0] + "\n" + template),
        raw("b.txt", BODY[1] + "\n" + template),
        raw("c.txt", BODY[2] + "\n" + template),
        raw("p.html", page, is_html=True),
        raw("empty.txt", "ADVERTISEMENT\nComments"),
        raw("noext.html", "just some words, no markup at all", is_html=True),
    ]
    with TestPipeline() as p:
        if split_inputs:  # several sources (files, records, fetched pages), learned templates span them all
            out = (p | "A" >> beam.Create(texts[:2]), p | "B" >> beam.Create(texts[2:])) | StripBoilerplate()
        else:
            out = p | beam.Create(texts) | StripBoilerplate()
        assert_that(
            out["articles"] | "Summ" >> beam.Map(lambda a: (a.source_uri, a.text)),
            equal_to([("a.txt", BODY[0]), ("b.txt", BODY[1]), ("c.txt", BODY[2]), ("p.html", "\n".join(BODY))]),
            label="articles",
        )
        assert_that(
            out["articles"] | "Rules" >> beam.Map(lambda a: (a.source_uri, sorted(set(a.boilerplate_rules)))),
            equal_to(
                [
                    ("a.txt", ["ad_marker", "learned_template"]),
                    ("b.txt", ["learned_template"]),
                    ("c.txt", ["learned_template"]),
                    ("p.html", ["html_navigation"]),  # what the HTML extraction left out is listed too
                ]
            ),
            label="rules",
        )
        assert_that(
            out["rejects"] | "Why" >> beam.Map(lambda r: (r.source_uri, r.stage, r.reason)),
            equal_to([("empty.txt", "extract", "empty_after_cleaning"), ("noext.html", "extract", "extraction_failed")]),
            label="rejects",
        )


def clean(aid, text, title=None, published=None, url=None, site=None):
    return CleanArticle(
        article_id=aid, source_uri=aid + ".txt", input_format="text", text=text, title=title,
        published_at=published, url=url, canonical_url=url, site=site, source_key="dir:x",
        content_hash=content_hash(comparison_text(text, title)),
    )


STORY_A = " ".join(BODY)
STORY_B = (
    "The central bank raised its benchmark interest rate by half a percentage point on Wednesday, citing stubborn "
    "inflation in services and a tight labour market. The governor said further increases were likely this year. "
    "Mortgage lenders responded within hours by lifting their fixed rates."
)


def test_find_copies_then_group_stories_composites():
    day = dt.datetime(2024, 5, 1, tzinfo=UTC)
    arts = [
        clean("a1", STORY_A, "River floods northern province", day, site="one"),
        clean("a2", STORY_A, "River floods northern province", day + dt.timedelta(hours=5), site="two"),  # exact copy
        clean("a3", STORY_A.replace("Tuesday", "Monday").replace("forty", "fifty") + " More updates follow.",
              "Floods in the north", day + dt.timedelta(hours=2), site="three"),  # near copy
        clean("b1", STORY_B, "Central bank raises rates", day, site="one"),
    ]
    with TestPipeline() as p:
        articles = p | beam.Create(arts)
        copies = articles | FindCopies()
        out = {"articles": articles, "copies": copies["copies"]} | GroupStories()
        rows = out["articles"] | beam.Map(lambda x: (x[1].article_id, x[1].duplicate_of, x[1].duplicate_kind, x[1].is_canonical))
        assert_that(
            rows,
            equal_to([("a1", None, None, True), ("a2", "a1", "exact", False), ("a3", "a1", "near", False), ("b1", None, None, True)]),
            label="dups",
        )
        stories = out["stories"] | beam.Map(lambda s: (s.canonical_article_id, s.article_count, s.unique_article_count, s.site_count))
        assert_that(stories, equal_to([("a1", 3, 1, 3), ("b1", 1, 1, 1)]), label="stories")


def test_write_tables_composite(tmp_path):
    when = dt.datetime(2024, 5, 1, tzinfo=UTC)
    a = clean("a1", "Some body text.", "T", when)
    s = StoryAssignment("a1", "sa1", True, None, None)
    rej = Reject("bad.pdf", None, "read", "unsupported_format", "nope")
    staging = str(tmp_path / "stage")
    with TestPipeline() as p:
        tables = {
            "articles": p | "Articles" >> beam.Create([(a, s)]),
            "stories": p | "Stories" >> beam.Create([StoryRow("sa1", "a1", "T", when, when, article_count=1, unique_article_count=1,
                                                              site_count=0, continued=False)]),
            "rejects": p | "Rejects" >> beam.Create([rej]),
        }
        tables | WriteTables(staging, "run1", when)
    con = duckdb.connect()
    got = con.sql(f"SELECT article_id, title, published_at, story_id, word_count, run_id FROM read_parquet('{staging}/articles/*.parquet')").fetchall()
    assert got == [("a1", "T", when, "sa1", 3, "run1")]
    assert con.sql(f"SELECT reason, run_id FROM read_parquet('{staging}/rejects/*.parquet')").fetchall() == [("unsupported_format", "run1")]
    counts = json.loads((tmp_path / "stage" / COUNTS_FILE).read_text())
    assert counts == {"articles": 1, "stories": 1, "rejects": 1, "rejects.unsupported_format": 1, "rejects_at.read": 1}


def test_write_run_state_composite_keeps_the_kept_articles_only(tmp_path):
    from collections import Counter

    from schemas.layout import SIGNATURES_STATE, STORY_TERMS_STATE
    from schemas.records import ArticleTerms
    from transforms.write import WriteRunState

    when = dt.datetime(2024, 5, 1, tzinfo=UTC)
    kept, copy = clean("a1", "Some body text.", "T", when), clean("a2", "Some body text.", "T", when)
    verdicts = [(kept, StoryAssignment("a1", "sa1", True, None, None)), (copy, StoryAssignment("a2", "sa1", False, "a1", "exact"))]
    terms = ArticleTerms("a1", (when.timestamp(), -3, "a1"), when.timestamp(), (Counter({7: 2}), Counter({9: 1})))
    staging = str(tmp_path / "stage")
    with TestPipeline() as p:
        {
            "articles": p | "Articles" >> beam.Create(verdicts),
            "signatures": p | "Signatures" >> beam.Create([("a1", b"sig1"), ("a2", b"sig2")]),
            "terms": p | "Terms" >> beam.Create([terms]),
        } | WriteRunState(staging, "run1", (128, 42, 5), 22)
    con = duckdb.connect()
    sigs = con.sql(f"SELECT article_id, story_id, signature, num_perm, seed, shingle_size, run_id "
                   f"FROM read_parquet('{staging}/{SIGNATURES_STATE}/*.parquet')").fetchall()
    assert sigs == [("a1", "sa1", b"sig1", 128, 42, 5, "run1")]
    rows = con.sql(f"SELECT article_id, story_id, word_count, terms, counts, name_terms, vocab_bits "
                   f"FROM read_parquet('{staging}/{STORY_TERMS_STATE}/*.parquet')").fetchall()
    assert rows == [("a1", "sa1", 3, [7], [2], [9], 22)]
