"""Read stage: pure parsing functions, then the ReadArticles composite with its rejects."""
import datetime as dt
import gzip
import io
import json

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.records import FORMAT_HTML, FORMAT_JSONL_HTML, FORMAT_JSONL_TEXT, FORMAT_JSONL_TITLE, FORMAT_TEXT, UTC, RawArticle
from schemas.rejects import Reason, Reject, RejectError
from transforms.dates import DateMode, parse_date
from transforms.identity import content_id, source_key
from transforms.read import ReadArticles
from transforms.read.files import parse_file
from transforms.read.formats import detect_format
from transforms.read.jsonl import iter_jsonl, parse_jsonl_record, peek_id
from transforms.read.parts import line_ranges, range_lines
from transforms.read.transform import ParseInputFileFn, SplitInputFileFn
from transforms.rejecting import REJECTS


def parse_published(value):
    return parse_date(value, DateMode.GIVEN)


@pytest.mark.parametrize(
    "path,expected",
    [
        ("a/b.txt", ("text", False)),
        ("feed/x.ndjson.gz", ("jsonl", True)),
        ("a/b.HTML", ("html", False)),
        ("a/b.htm.gz", ("html", True)),
        ("x.jsonl", ("jsonl", False)),
        ("x.jsonl.gz", ("jsonl", True)),
        ("x.pdf", (None, False)),
        ("x.gz", (None, True)),
    ],
    ids=["txt", "ndjson-gz", "html-upper", "htm-gz", "jsonl", "jsonl-gz", "pdf", "bare-gz"],
)
def test_detect_format(path, expected):
    assert detect_format(path) == expected


def test_content_id_is_stable_and_depends_on_source_and_content():
    assert content_id("a.txt", "hello") == content_id("a.txt", "hello")
    assert content_id("a.txt", "hello") != content_id("b.txt", "hello")
    assert content_id("a.txt", "hello") != content_id("a.txt", "hello!")


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2016-10-03T18:13:00Z", dt.datetime(2016, 10, 3, 18, 13, tzinfo=UTC)),
        ("2016-10-03T20:13:00+02:00", dt.datetime(2016, 10, 3, 18, 13, tzinfo=UTC)),
        ("2016-10-03", dt.datetime(2016, 10, 3, tzinfo=UTC)),
        ("Mon, 03 Oct 2016 18:13:00 GMT", dt.datetime(2016, 10, 3, 18, 13, tzinfo=UTC)),
        (None, None),
        ("", None),
    ],
    ids=["zulu", "offset", "date-only", "rfc822", "none", "empty"],
)
def test_parse_published(value, expected):
    assert parse_published(value) == expected


def test_parse_published_rejects_garbage():
    with pytest.raises(RejectError) as err:
        parse_published("not a date at all")
    assert err.value.reason == Reason.INVALID_RECORD


def test_jsonl_text_record_keeps_metadata():
    line = json.dumps(
        {"id": 7, "url": "https://www.example.com/a", "title": "T", "text": "Body.", "published": "2020-01-02", "site": "Ex", "language": "en"}
    )
    a = parse_jsonl_record("f.jsonl:3", line)
    assert (a.input_id, a.url, a.title, a.site, a.language) == ("7", "https://www.example.com/a", "T", "Ex", "en")
    assert a.input_format == FORMAT_JSONL_TEXT and not a.is_html
    assert a.published_at == dt.datetime(2020, 1, 2, tzinfo=UTC)
    assert a.source_key == "site:ex"


def test_jsonl_headline_only_record_is_an_article():
    a = parse_jsonl_record("f.jsonl:2", json.dumps({"id": "h1", "title": "Quake hits coast", "published": "2024-01-01T10:00:00Z"}))
    assert a.input_format == FORMAT_JSONL_TITLE and a.content == "" and a.title == "Quake hits coast"
    other = parse_jsonl_record("f.jsonl:2", json.dumps({"id": "h1", "title": "Another headline"}))
    assert a.article_id != other.article_id


def test_jsonl_html_record_goes_to_html_extraction():
    a = parse_jsonl_record("f.jsonl:1", json.dumps({"html": "<html><body><p>x</p></body></html>", "source": "S"}))
    assert a.is_html and a.input_format == FORMAT_JSONL_HTML and a.site == "S"


@pytest.mark.parametrize(
    "line,reason",
    [
        ("{not json", Reason.INVALID_JSON),
        ("[1, 2]", Reason.INVALID_RECORD),
        ('{"id": "x", "url": "https://example.com/only-a-url"}', Reason.NO_CONTENT),
        ('{"text": "   "}', Reason.NO_CONTENT),
        ('{"text": ["a"]}', Reason.INVALID_RECORD),
        (b'{"text": "\xff\xfe"}', Reason.BAD_ENCODING),
    ],
    ids=["not-json", "not-object", "no-content", "blank-text", "text-not-string", "bad-bytes"],
)
def test_jsonl_bad_records(line, reason):
    with pytest.raises(RejectError) as err:
        parse_jsonl_record("f.jsonl:1", line)
    assert err.value.reason == reason


def test_jsonl_record_too_large():
    with pytest.raises(RejectError) as err:
        parse_jsonl_record("f.jsonl:1", json.dumps({"text": "x" * 100}), max_bytes=50)
    assert err.value.reason == Reason.TOO_LARGE


def test_iter_jsonl_skips_blank_lines_and_names_each_line():
    lines = [json.dumps({"id": "a", "text": "Body."}).encode(), b"  \n", b"{broken", json.dumps({"id": 9, "url": "u"}).encode()]
    items = list(iter_jsonl("d/f.jsonl", lines, 1000))
    assert isinstance(items[0], RawArticle) and items[0].source_uri == "d/f.jsonl:1" and items[0].source_key == "dir:d"
    assert [(r.source_uri, r.input_id, r.reason) for r in items[1:]] == [
        ("d/f.jsonl:3", None, Reason.INVALID_JSON),
        ("d/f.jsonl:4", "9", Reason.NO_CONTENT),
    ]
    assert all(isinstance(r, Reject) and r.stage == "read" for r in items[1:])


@pytest.mark.parametrize(
    "line,expected",
    [(b'{"id": "x"}', "x"), (b'{"id": 3}', "3"), (b'{"id": true}', None), (b"[1]", None), (b"{broken", None), (b'{"id": "\xff"}', None)],
    ids=["string", "number", "bool", "not-object", "not-json", "not-utf8"],
)
def test_peek_id_of_a_rejected_line(line, expected):
    assert peek_id(line) == expected


def test_parse_text_file_and_latin1_fallback():
    a = parse_file("d/a.txt", "text", "Caf\u00e9 news body.".encode("latin-1"))
    assert a.content == "Café news body." and a.input_format == FORMAT_TEXT
    assert a.source_key == "dir:d"


def test_parse_html_file_honours_declared_charset():
    html = '<html><head><meta charset="iso-8859-1"></head><body><p>Caf\u00e9</p></body></html>'.encode("latin-1")
    a = parse_file("a.html", "html", html)
    assert "Café" in a.content and a.is_html and a.input_format == FORMAT_HTML


BODY = "Storm hits the coast. Thousands of residents were evacuated on Tuesday as the storm approached.\n" * 3


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_decoded_not_read_as_nul_riddled_utf8(encoding):
    # UTF-16 text without a byte-order mark is valid UTF-8 byte for byte ("S\0t\0o\0..."); it used to become an
    # article full of NUL characters.
    a = parse_file("a.txt", "text", BODY.encode(encoding))
    assert a.content == BODY
    html = f"<html><body><p>{BODY}</p></body></html>"
    assert parse_file("a.html", "html", html.encode(encoding)).content == html


def test_binary_data_is_a_bad_encoding_reject_not_an_article():
    noise = bytes((n * 7919 + 13) % 255 + 1 for n in range(5000))  # no NUL bytes, all byte values
    for kind, data in [("html", b"<html><body>" + noise + b"</body></html>"), ("text", noise),
                       ("html", b"<html><body>\x00\x01\x02" * 500 + b"</body></html>")]:
        with pytest.raises(RejectError) as err:
            parse_file(f"a.{kind}", kind, data)
        assert err.value.reason == Reason.BAD_ENCODING


def test_jsonl_text_gets_the_same_control_character_check():
    a = parse_jsonl_record("f.jsonl:1", json.dumps({"text": "A stray \x00NUL in " + BODY}))
    assert a.content == "A stray NUL in " + BODY
    with pytest.raises(RejectError) as err:
        parse_jsonl_record("f.jsonl:2", json.dumps({"text": "\x00\x01" * 50 + BODY}))
    assert err.value.reason == Reason.BAD_ENCODING


def test_stray_control_characters_are_removed_and_page_breaks_kept():
    data = ("Page one.\x0cPage two with a stray \x00NUL and \x1bescape. " + BODY).encode("utf-8")
    a = parse_file("a.txt", "text", data)
    assert a.content == "Page one.\x0cPage two with a stray NUL and escape. " + BODY


@pytest.mark.parametrize("data", [b"", b"   \n\t "], ids=["empty", "whitespace"])
def test_parse_file_empty(data):
    with pytest.raises(RejectError) as err:
        parse_file("a.txt", "text", data)
    assert err.value.reason == Reason.EMPTY_INPUT


def test_source_key_prefers_site_then_host_then_folder():
    assert source_key("BBC", "https://bbc.co.uk/x", "d/f") == "site:bbc"
    assert source_key(None, "https://www.bbc.co.uk/x", "d/f") == "host:bbc.co.uk"
    assert source_key(None, None, "d/f") == "dir:d"


# ------------------------------------------------------------------ composite


def _write_inputs(tmp_path):
    (tmp_path / "a.txt").write_text("Headline here\n\nA body sentence that is long enough to count as body text here.\n")
    (tmp_path / "b.html.gz").write_bytes(gzip.compress(b"<html><body><article><p>Page text.</p></article></body></html>"))
    lines = [
        json.dumps({"id": "j1", "text": "First record body."}),
        "",
        "{broken",
        json.dumps({"id": "j3", "url": "https://example.com/no-body"}),
    ]
    (tmp_path / "c.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "d.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "e.html.gz").write_bytes(b"this is not gzip")
    (tmp_path / "f.txt").write_bytes(b"")


def test_read_articles_composite(tmp_path):
    _write_inputs(tmp_path)
    d = str(tmp_path)
    with TestPipeline() as p:
        out = p | ReadArticles([d + "/*", d + "/*.txt"])  # a.txt matched twice, read once
        assert_that(
            (out["files"], out["records"]) | beam.Flatten() | "Uri" >> beam.Map(lambda a: (a.source_uri.rsplit("/", 1)[1], a.input_id, a.is_html)),
            equal_to([("a.txt", None, False), ("b.html.gz", None, True), ("c.jsonl:1", "j1", False)]),
            label="articles",
        )
        assert_that(
            out[REJECTS] | "Why" >> beam.Map(lambda r: (r.source_uri.rsplit("/", 1)[1], r.input_id, r.stage, r.reason)),
            equal_to(
                [
                    ("c.jsonl:3", None, "read", "invalid_json"),
                    ("c.jsonl:4", "j3", "read", "no_content"),
                    ("d.pdf", None, "read", "unsupported_format"),
                    ("e.html.gz", None, "read", "unreadable"),
                    ("f.txt", None, "read", "empty_input"),
                ]
            ),
            label="rejects",
        )


# ---------------------------------------------------------------------------------------------
# Large files in parts: byte ranges that begin at line / record starts, read by several workers
# ---------------------------------------------------------------------------------------------

JSONL_BODY = b'{"id": "a", "text": "one"}\n\n{"id": "b", "text": "two"}\nnot json\n{"id": "c", "text": "three"}'


@pytest.mark.parametrize("part_bytes", [1, 5, 27, 28, 40, 1000], ids=["1", "5", "line-end-1", "line-end", "40", "whole"])
def test_line_ranges_cover_the_file_at_line_starts_with_their_line_numbers(part_bytes):
    ranges = list(line_ranges(io.BytesIO(JSONL_BODY), part_bytes, chunk_bytes=7))
    assert ranges[0][0] == 0 and ranges[-1][1] == len(JSONL_BODY)
    assert all(end == next_start for (_, end, _), (next_start, _, _) in zip(ranges, ranges[1:]))
    for start, end, first_line in ranges:
        assert start == 0 or JSONL_BODY[start - 1:start] == b"\n"  # no line is cut
        assert first_line == JSONL_BODY[:start].count(b"\n") + 1
        assert end - start >= min(part_bytes, len(JSONL_BODY) - start) or end == len(JSONL_BODY)


def test_range_lines_reads_exactly_its_range():
    lines = [line for start, end, _ in line_ranges(io.BytesIO(JSONL_BODY), 10) for line in range_lines(io.BytesIO(JSONL_BODY), start, end, 1000)]
    assert b"".join(lines) == JSONL_BODY


def test_line_ranges_rejects_a_part_size_below_one():
    with pytest.raises(ValueError):
        list(line_ranges(io.BytesIO(JSONL_BODY), 0))


def _parts_read(path: str, part_bytes: int) -> list[tuple]:
    """(source_uri, article_id or reject reason) of every output of splitting `path` and parsing each part."""
    out = []
    for part in SplitInputFileFn(part_bytes).process(path):
        for item in ParseInputFileFn().process(part):
            value = getattr(item, "value", item)  # TaggedOutput or the article itself
            out.append((value.source_uri, value.article_id if isinstance(value, RawArticle) else value.reason))
    return out


@pytest.mark.parametrize("part_bytes", [1, 30, 64], ids=["per-line", "30", "64"])
def test_jsonl_in_parts_names_every_record_as_the_whole_file_does(tmp_path, part_bytes):
    path = tmp_path / "big.jsonl"
    path.write_bytes(JSONL_BODY)
    whole = _parts_read(str(path), 1 << 30)
    assert [uri.rsplit(":", 1)[1] for uri, _ in whole] == ["1", "3", "4", "5"]  # blank line 2 skipped, bad line 4 rejected
    assert len(list(SplitInputFileFn(part_bytes).process(str(path)))) > 1
    assert _parts_read(str(path), part_bytes) == whole


def _write_many_record_warc(path, pages: int):
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as f:
        w = WARCWriter(f, gzip=True)
        w.write_record(w.create_warcinfo_record(path.name, {"software": "newsbeam tests"}))
        for i in range(pages):
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            body = f"<html><body><article><p>Page {i} of the archive, a sentence of its own.</p></article></body></html>".encode()
            w.write_record(w.create_warc_record(f"https://news.example.org/{i}.html", "response", payload=io.BytesIO(body), http_headers=http))
    return path


@pytest.mark.parametrize("part_bytes", [1, 700], ids=["per-record", "700"])
def test_warc_in_parts_names_every_record_as_the_whole_file_does(tmp_path, part_bytes):
    path = str(_write_many_record_warc(tmp_path / "crawl.warc.gz", 12))
    whole = _parts_read(path, 1 << 30)
    assert len(whole) == 12 and whole[0][0].endswith("#2")  # record 1 is the warcinfo record: counted, not read
    parts = list(SplitInputFileFn(part_bytes).process(path))
    assert len(parts) > 1 and parts[-1].end is None
    assert _parts_read(path, part_bytes) == whole


def test_warc_with_a_corrupt_tail_ends_in_its_reject_when_read_in_parts(tmp_path):
    path = _write_many_record_warc(tmp_path / "cut.warc.gz", 6)
    data = path.read_bytes()
    path.write_bytes(data + data[len(data) // 2:len(data) // 2 + 300])  # bytes from inside a gzip member: no record
    got = _parts_read(str(path), 1)
    assert len(got) == 7 and got[-1] == (f"{path}#8", Reason.UNREADABLE)
    assert got == _parts_read(str(path), 1 << 30)


def test_read_articles_spreads_a_large_jsonl_in_parts_not_as_records(tmp_path):
    """A plain JSONL file read in parts comes out on `files` (cleaned where it is read); a .jsonl.gz file,
    which cannot be cut, on `records` (spread after reading). Both name lines as the whole file does."""
    lines = [json.dumps({"id": f"r{i}", "text": f"Article number {i} has a body long enough to be read."}) for i in range(40)]
    (tmp_path / "big.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "small.jsonl.gz").write_bytes(gzip.compress(("\n".join(lines[:3]) + "\n").encode()))
    d = str(tmp_path)
    with TestPipeline() as p:
        out = p | ReadArticles([f"{d}/*"], part_bytes=200)
        assert_that(out["files"] | "FileUris" >> beam.Map(lambda a: a.source_uri),
                    equal_to([f"{d}/big.jsonl:{i}" for i in range(1, 41)]), label="InParts")
        assert_that(out["records"] | "RecordUris" >> beam.Map(lambda a: a.source_uri),
                    equal_to([f"{d}/small.jsonl.gz:{i}" for i in range(1, 4)]), label="Whole")
        assert_that(out[REJECTS], equal_to([]), label="NoRejects")


def test_read_articles_refuses_a_part_size_below_one():
    with pytest.raises(ValueError):
        ReadArticles(["x"], part_bytes=0)
