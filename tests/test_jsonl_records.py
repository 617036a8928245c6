"""JSONL records as analysts' tools write them (transforms/read/jsonl.py): news-please and trafilatura field names,
headline feeds whose text repeats the title, dates that are no date."""
from __future__ import annotations

import datetime as dt
import json

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.records import FORMAT_JSONL_TEXT, FORMAT_JSONL_TITLE
from transforms.clean import StripBoilerplate
from transforms.read.jsonl import parse_jsonl_record, repeats_title

BODY = ("The council voted on Tuesday to rebuild the harbour wall before the winter storms arrive. "
        "Work will start next month and is expected to last until the end of the year.")


def parse(record: dict):
    return parse_jsonl_record("feed.jsonl:1", json.dumps(record))


def test_news_please_fields():
    a = parse({"maintext": BODY, "title": "Harbour wall to be rebuilt", "date_publish": "2024-05-14 11:00:00",
               "authors": ["Mara Quill", "Tobias Reed"], "source_domain": "courier.example", "language": "en",
               "url": "https://courier.example/harbour"})
    assert (a.input_format, a.content, a.title) == (FORMAT_JSONL_TEXT, BODY, "Harbour wall to be rebuilt")
    assert a.published_at == dt.datetime(2024, 5, 14, 11, tzinfo=dt.UTC)
    assert a.author == "Mara Quill, Tobias Reed"
    assert a.url == "https://courier.example/harbour"
    assert a.site is None  # a domain is not a publication name


def test_trafilatura_json_fields():
    a = parse({"text": BODY, "title": "Harbour wall to be rebuilt", "date": "2024-05-14", "author": "Mara Quill; Tobias Reed",
               "hostname": "courier.example", "source": "https://courier.example/harbour", "source-hostname": "The Courier"})
    assert a.url == "https://courier.example/harbour"
    assert a.site == "The Courier"
    assert a.author == "Mara Quill, Tobias Reed"
    assert a.published_at == dt.datetime(2024, 5, 14, tzinfo=dt.UTC)
    assert a.source_key == "site:the courier"


def test_newsbeam_source_field_is_still_a_site_name():
    assert parse({"text": BODY, "source": "Wire Service"}).site == "Wire Service"


@pytest.mark.parametrize(
    "text, title, repeats",
    [
        ("Quake hits coast", "Quake hits coast", True),
        ("quake hits coast.", "Quake Hits Coast", True),
        ("Quake hits coast - Daily News", "Quake hits coast", True),
        ("Quake hits", "Quake hits coast", True),
        (BODY, "Harbour wall to be rebuilt", False),
        ("Quake hits coast. Thousands of people left their homes overnight as aftershocks continued.", "Quake hits coast", False),
    ],
    ids=["same", "case-punctuation", "site-suffix", "cut-short", "body", "title-then-body"],
)
def test_repeats_title(text, title, repeats):
    assert repeats_title(text, title) is repeats


def test_headline_record_whose_text_repeats_the_title_is_a_headline_article():
    a = parse({"id": "h1", "title": "Quake hits coast", "text": "Quake hits coast", "published": "2014-03-10T16:52:00Z"})
    assert (a.input_format, a.content, a.title) == (FORMAT_JSONL_TITLE, "", "Quake hits coast")


@pytest.mark.parametrize("value", ["yesterday-ish", 1715684400, "2024-13-45"], ids=["words", "number", "bad-day"])
def test_unparseable_date_leaves_the_article_undated_with_a_note(value):
    a = parse({"text": BODY, "published": value})
    assert a.published_at is None
    assert a.metadata_notes == "published=unparsed"


def test_headline_feed_comes_out_as_articles_not_rejects():
    """A record whose text is all boilerplate keeps its title as a headline article; without a title it is a reject."""
    records = [
        {"id": "1", "title": "Quake hits coast", "text": "Quake hits coast"},
        {"id": "2", "title": "Markets fall", "text": "Advertisement\nShare on Facebook"},
        {"id": "3", "text": "Advertisement\nShare on Facebook"},
    ]
    raws = [parse_jsonl_record(f"feed.jsonl:{i}", json.dumps(r)) for i, r in enumerate(records, 1)]
    with TestPipeline() as p:
        out = p | beam.Create(raws) | StripBoilerplate()
        assert_that(out["articles"] | beam.Map(lambda a: (a.input_id, a.title, a.text)),
                    equal_to([("1", "Quake hits coast", ""), ("2", "Markets fall", "")]), label="Articles")
        assert_that(out["rejects"] | beam.Map(lambda r: (r.input_id, r.reason.value)),
                    equal_to([("3", "empty_after_cleaning")]), label="Rejects")
