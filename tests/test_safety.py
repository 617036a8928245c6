"""Hostile and careless inputs: every record is judged alone, bounds hold while streaming (not after), fetch
failures carry precise reasons, and text in scripts without spaces or written right to left keeps its body."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
import zlib

import apache_beam as beam
import pyarrow as pa
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that

from schemas.records import FORMAT_TEXT, RawArticle
from schemas.rejects import Reason, Reject, RejectError, Stage
from schemas.tables import REJECTS_SCHEMA, reject_row
from transforms.clean import StripBoilerplate
from transforms.clean.article import clean_article
from transforms.clean.lines import clean_lines
from transforms.clean.rules import ends_like_sentence, split_lines
from transforms.clean.templates import article_fingerprint, template_candidates
from transforms.clean.transform import CleanArticleFn
from transforms.fetch import FetchConfig
from transforms.fetch.client import FetchError, http_get, make_pool_manager
from transforms.fetch.documents import parse_feed
from transforms.fetch.records import KIND_PAGE, Failed, FetchRequest
from transforms.fetch.scheduler import SlotFetcher
from transforms.read.transform import ParseInputFileFn
from transforms.urls import politeness_key

FAST = dict(rate_per_host=50.0, allow_private_addresses=True, retries=0, read_timeout=2.0, connect_timeout=2.0)
BODY = "The council approved the new transport plan on Tuesday after a long debate. " * 3


def outputs(fn, element, *args):
    """(main outputs, rejects) of one DoFn call."""
    main, rejects = [], []
    for out in fn.process(element, *args):
        value = getattr(out, "value", out)
        (rejects if isinstance(value, Reject) else main).append(value)
    return main, rejects


def read_jsonl(tmp_path, *records, name="in.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return outputs(ParseInputFileFn(), str(path))


# ---------------------------------------------------------------------------------------------
# Every record judged alone
# ---------------------------------------------------------------------------------------------

def test_out_of_range_published_is_a_precise_reject_and_the_file_goes_on(tmp_path):
    # Before: OverflowError escaped from the reader and the whole run failed.
    articles, rejects = read_jsonl(tmp_path, {"id": "a", "text": BODY, "published": "0001-01-01T00:00:00+14:00"},
                                   {"id": "b", "text": BODY, "published": "9999-12-31T23:59:59-14:00"}, {"id": "c", "text": BODY})
    assert [a.input_id for a in articles] == ["c"]
    assert [(r.input_id, r.reason) for r in rejects] == [("a", Reason.INVALID_RECORD), ("b", Reason.INVALID_RECORD)]
    assert all("out of range" in r.detail for r in rejects)


def test_lone_surrogate_is_replaced_so_the_article_hashes_learns_and_stores(tmp_path):
    # Before: UnicodeEncodeError in template learning (and the Parquet writer could not have stored it).
    text = BODY + "\nA stray \ud800 escape.\n" + BODY
    (article_in,), rejects = read_jsonl(tmp_path, '{"id": "s", "title": "T\\udfff", "text": ' + json.dumps(text) + "}")
    assert not rejects and "\ufffd" in article_in.content and "\ud800" not in article_in.content
    assert article_in.title == "T\ufffd"
    cleaned = clean_article(article_in)
    assert article_fingerprint(cleaned.text) and cleaned.content_hash
    assert any("\ufffd" in line for (_, line), _ in template_candidates(cleaned))
    text.encode("utf-8", "surrogatepass")  # the input really held a lone surrogate
    cleaned.text.encode("utf-8")  # the output holds none


def test_text_mostly_surrogates_is_bad_encoding(tmp_path):
    _, (reject,) = read_jsonl(tmp_path, '{"id": "x", "text": "' + "\\ud800" * 50 + ' ok"}')
    assert reject.reason == Reason.BAD_ENCODING


def test_deeply_nested_json_is_invalid_json(tmp_path):
    # Before: RecursionError escaped from json.loads (and from peek_id, while making the reject).
    articles, rejects = read_jsonl(tmp_path, "[" * 100_000, {"id": "ok", "text": BODY})
    assert [a.input_id for a in articles] == ["ok"]
    assert [r.reason for r in rejects] == [Reason.INVALID_JSON]


def test_bytes_that_are_no_warc_are_unreadable(tmp_path):
    # Found by the property test. Before: TypeError ("warc_skipped_" + None) escaped the reader.
    path = tmp_path / "junk.warc"
    path.write_bytes(b"\t\t")
    main, (reject,) = outputs(ParseInputFileFn(), str(path))
    assert main == [] and reject.reason == Reason.UNREADABLE


def test_a_bug_in_one_record_is_an_internal_error_reject():
    # Before: the exception escaped the DoFn and failed the run. content=None is a record no reader makes.
    bad = RawArticle(article_id="bad", source_uri="mem:bad", input_format=FORMAT_TEXT, content=None, is_html=False)
    main, (reject,) = outputs(CleanArticleFn(StripBoilerplate().cfg), bad)
    assert main == [] and reject.reason == Reason.INTERNAL_ERROR and reject.stage == Stage.EXTRACT
    assert reject.detail.startswith(("AttributeError", "TypeError")) and "(at rules.py:" in reject.detail
    assert reject.source_uri == "mem:bad"


def test_internal_error_is_counted_and_the_other_records_go_on():
    good = RawArticle(article_id="good", source_uri="mem:good", input_format=FORMAT_TEXT, content=BODY, is_html=False)
    bad = RawArticle(article_id="bad", source_uri="mem:bad", input_format=FORMAT_TEXT, content=None, is_html=False)
    with TestPipeline() as p:
        out = p | beam.Create([good, bad]) | StripBoilerplate()
        assert_that(out["articles"] | "Ids" >> beam.Map(lambda a: a.article_id), lambda got: got == ["good"] or _fail(got), label="Articles")
        assert_that(out["rejects"] | "Reasons" >> beam.Map(lambda r: (r.source_uri, r.reason.value)),
                    lambda got: got == [("mem:bad", "internal_error")] or _fail(got), label="Rejects")


def _fail(got):
    raise AssertionError(got)


def test_reject_details_are_storable_whatever_the_input():
    reject = Reject.of("mem:\ud800", "id\udc00", Stage.READ, Reason.INVALID_RECORD, "value '\ud800'")
    pa.Table.from_pylist([reject_row(reject, "run")], schema=REJECTS_SCHEMA)  # before: UnicodeEncodeError


# ---------------------------------------------------------------------------------------------
# Bounds before allocation
# ---------------------------------------------------------------------------------------------

PEAK = textwrap.dedent("""
    import gzip, resource, sys
    from transforms.read.transform import ParseInputFileFn
    fn = ParseInputFileFn(max_bytes=int(sys.argv[2]))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    outs = [getattr(o, "value", o) for o in fn.process(sys.argv[1])]
    grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) // 1024
    print(grew, " ".join(getattr(getattr(o, "reason", None), "value", "article") for o in outs))
""")


def write_gz_bomb(path, line_bytes: int, tail: bytes) -> None:
    """A .jsonl.gz whose first line inflates to `line_bytes` bytes, then `tail` lines; written in pieces."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    piece = b"a" * (1 << 20)
    with open(path, "wb") as f:
        f.write(comp.compress(b'{"text": "'))
        for _ in range(line_bytes >> 20):
            f.write(comp.compress(piece))
        f.write(comp.compress(b'"}\n' + tail))
        f.write(comp.flush())


def test_gzip_jsonl_line_is_capped_while_streaming(tmp_path):
    # Before: the 100 MB line was read whole and only then found too large (peak RSS grew by about the line).
    path = tmp_path / "bomb.jsonl.gz"
    write_gz_bomb(path, 100 << 20, json.dumps({"id": "next", "text": BODY}).encode() + b"\n")
    assert path.stat().st_size < 1_000_000
    run = subprocess.run([sys.executable, "-c", PEAK, str(path), str(1 << 20)], capture_output=True, text=True, check=True)
    grew, reasons = run.stdout.split(" ", 1)
    assert reasons.split() == ["too_large", "article"]
    assert int(grew) < 64, f"reading the bomb grew the peak RSS by {grew} MB"


def write_warc_header_bomb(path, line_bytes: int) -> None:
    """A .warc.gz whose response record's HTTP header line inflates to `line_bytes` bytes."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head, tail = b"HTTP/1.1 200 OK\r\nX-Big: ", b"\r\nContent-Type: text/html\r\n\r\n<p>x</p>"
    warc = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://e.example/\r\n"
            b"Content-Type: application/http; msgtype=response\r\nContent-Length: %d\r\n\r\n" % (len(head) + line_bytes + len(tail)))
    with open(path, "wb") as f:
        f.write(comp.compress(warc + head))
        for _ in range(line_bytes >> 20):
            f.write(comp.compress(b"a" * (1 << 20)))
        f.write(comp.compress(tail + b"\r\n\r\n") + comp.flush())


def test_warc_header_line_is_capped_while_streaming(tmp_path):
    # Before: warcio read the 100 MB header line whole (peak RSS grew by about three times the line).
    path = tmp_path / "bomb.warc.gz"
    write_warc_header_bomb(path, 100 << 20)
    run = subprocess.run([sys.executable, "-c", PEAK, str(path), str(1 << 20)], capture_output=True, text=True, check=True)
    grew, reasons = run.stdout.split(" ", 1)
    assert len(reasons.split()) == 1  # the record is one article or one reject, never a crash
    assert int(grew) < 128, f"reading the bomb grew the peak RSS by {grew} MB"


def test_feed_entities_are_not_expanded():
    # Before: feedparser's fallback parser expanded the declared entity into a 5-million-character title.
    entity = "A" * 10_000
    doc = (f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY big "{entity}">\n]>\n<rss version="2.0"><channel>'
           f'<title>t</title><item><title>{"&big;" * 500}</title><link>http://e.example/1</link></item></channel></rss>').encode()
    (entry,), _ = parse_feed(doc, "http://e.example/feed")
    assert entry.url == "http://e.example/1" and len(entry.title or "") <= len(doc)


def test_feed_with_surrogate_character_references_is_read():
    # Found while probing: feedparser's fallback parser raised UnicodeEncodeError on &#xD800; (a crash before).
    doc = (b'<rss version="2.0"><channel><title>S &#55296;</title><item><title>A &#xD800; b &#xdfff;</title>'
           b'<link>http://e.example/1</link></item></channel></rss>')
    (entry,), _ = parse_feed(doc, "http://e.example/feed")
    assert entry.title == "A \ufffd b \ufffd" and entry.site == "S \ufffd"


def test_feed_doctype_that_never_ends_is_malformed():
    with pytest.raises(RejectError) as exc:
        parse_feed(b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "x">', "http://e.example/feed")
    assert exc.value.reason == Reason.FEED_MALFORMED


class DripServer:
    """A loopback server that sends `head` and then `drip` one byte every `every` seconds, for at most `last`."""

    def __init__(self, head: bytes, drip: bytes, every: float = 0.1, last: float = 6.0, family=socket.AF_INET, host="127.0.0.1"):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.head, self.drip, self.every, self.last = head, drip, every, last
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        try:
            conn.recv(65536)
            conn.sendall(self.head)
            end = time.monotonic() + self.last
            for b in self.drip:
                if time.monotonic() > end or self.stop.wait(self.every):
                    break
                conn.sendall(bytes([b]))
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()


HEAD_DRIP = (b"", b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello" + b"X" * 200)
BODY_DRIP = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 200\r\n\r\n", b"x" * 200)


@pytest.mark.parametrize("head,drip", [HEAD_DRIP, BODY_DRIP], ids=["headers", "body"])
def test_slow_drip_cannot_stretch_the_total_timeout(head, drip):
    # Before: each byte arrived within the read timeout, so the request lasted as long as the server dripped (6 s).
    server = DripServer(head, drip)
    cfg = FetchConfig(**{**FAST, "total_timeout": 1.0})
    started = time.monotonic()
    try:
        with pytest.raises(FetchError) as exc:
            http_get(make_pool_manager(cfg), f"http://127.0.0.1:{server.port}/x", {}, cfg, lambda s, h: True)
    finally:
        server.close()
    took = time.monotonic() - started
    assert exc.value.reason == Reason.TIMEOUT and "total timeout" in exc.value.detail
    assert took < 2.5, f"the request lasted {took:.1f}s with --total_timeout 1"


# ---------------------------------------------------------------------------------------------
# Precise fetch reasons
# ---------------------------------------------------------------------------------------------

def fetch_one(url, **overrides):
    cfg = FetchConfig(**{**FAST, **overrides})
    (outcome,) = SlotFetcher(cfg, make_pool_manager(cfg)).run([FetchRequest(url, KIND_PAGE, "test")])
    return outcome


def test_server_down_is_a_connection_error_not_robots():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    outcome = fetch_one(f"http://127.0.0.1:{port}/x")
    assert isinstance(outcome, Failed) and outcome.reason == Reason.CONNECTION_ERROR  # before: robots_disallowed
    assert "robots.txt unreachable" in outcome.detail


def test_blocked_address_detail_names_the_option_that_allows_it():
    outcome = fetch_one("http://127.0.0.1:9/x", allow_private_addresses=False)
    assert outcome.reason == Reason.BLOCKED_ADDRESS
    assert "--allow-private-addresses" in outcome.detail and "--allow-network 127.0.0.1/32" in outcome.detail


def test_ipv6_literal_keeps_its_brackets_in_the_host_key():
    assert politeness_key("http://[::1]:8080/a") == "[::1]:8080"
    assert politeness_key("https://[2001:db8::1]/a") == "[2001:db8::1]"
    assert politeness_key("http://example.com:80/a") == "example.com"


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
def test_ipv6_literal_url_is_fetched():
    # Before: the robots.txt URL lost its brackets (http://::1:port/robots.txt) and the page was robots_disallowed.
    page = b"<html><body><p>" + BODY.encode() + b"</p></body></html>"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(page)
    server = DripServer(head + page, b"", family=socket.AF_INET6, host="::1")
    try:
        outcome = fetch_one(f"http://[::1]:{server.port}/a")
    finally:
        server.close()
    assert not isinstance(outcome, Failed), outcome
    assert outcome.body == page


# ---------------------------------------------------------------------------------------------
# Scripts without spaces, and right-to-left text
# ---------------------------------------------------------------------------------------------

SCRIPTS = {
    "ja": ["東京都は十日、新しい交通計画を発表した。", "計画では、二〇三〇年までに電気バスを千台導入する。",
           "知事は記者会見で「環境と経済の両立を目指す」と述べた。", "市民の間では期待と不安の声が上がっている。"],
    "zh": ["北京市政府十日公布了新的交通规划。", "根据规划，到二〇三〇年将引进一千辆电动公交车。",
           "市长在新闻发布会上表示，要实现环境与经济的协调发展。", "市民对此既有期待也有担忧。"],
    "th": ["กรุงเทพมหานครประกาศแผนการขนส่งใหม่เมื่อวันที่สิบ", "ตามแผนจะมีการนำรถโดยสารไฟฟ้าหนึ่งพันคันมาใช้ภายในปีสองพันสามสิบ",
           "ผู้ว่าราชการกล่าวในการแถลงข่าวว่าต้องการให้สิ่งแวดล้อมและเศรษฐกิจไปด้วยกัน", "ประชาชนมีทั้งความหวังและความกังวล"],
    "ar": ["أعلنت بلدية المدينة يوم الأربعاء عن خطة نقل جديدة تشمل الحافلات الكهربائية.\u200f",
           "وبموجب الخطة، سيتم إدخال ألف حافلة كهربائية بحلول عام ألفين وثلاثين.\u200f",
           "وقال رئيس البلدية في مؤتمر صحفي إن الهدف هو التوفيق بين البيئة والاقتصاد.\u200f", "هل يرحب السكان بالخطة؟\u200f"],
    "he": ["\u202bעיריית העיר הודיעה ביום רביעי על תוכנית תחבורה חדשה הכוללת אוטובוסים חשמליים.\u202c",
           "\u202bלפי התוכנית, יוכנסו אלף אוטובוסים חשמליים עד שנת אלפיים ושלושים.\u202c",
           "\u202bראש העירייה אמר במסיבת עיתונאים כי המטרה היא לאזן בין הסביבה לכלכלה.\u202c", "\u202bהתושבים מגיבים בחשש.\u202c"],
}


@pytest.mark.parametrize("structural", [False, True], ids=["extracted", "page-dump"])
@pytest.mark.parametrize("lang", sorted(SCRIPTS))
def test_body_lines_of_every_script_are_kept(lang, structural):
    # Before: ja, zh and th lost every line (menu_block / link_list: one "word" per line); th lost its unpunctuated
    # lines on page dumps, ar/he their lines ending in a bidi mark.
    res = clean_lines(SCRIPTS[lang], structural=structural)
    assert [l for l in split_lines(res.text) if l] == SCRIPTS[lang], res.removed


def test_only_a_long_thai_line_ends_like_a_sentence():
    assert ends_like_sentence(SCRIPTS["th"][3])  # a sentence: Thai writes no full stop
    assert not any(ends_like_sentence(w) for w in ["หน้าแรก", "การเมือง", "กีฬา", "บันเทิง"])  # a menu: Home, Politics, ...
    assert ends_like_sentence("انتهى الاجتماع.\u200f") and not ends_like_sentence("الصفحة الرئيسية\u200f")
