"""The fetcher against a real HTTP server on 127.0.0.1 (tests/conftest.py), and `newsbeam run --feeds` end to end."""
import datetime as dt
import gzip
import io
import ipaddress

import pytest
from conftest import Reply, http_date

from pipeline.main import UsageError, run
from pipeline.sql import connect
from schemas.rejects import Reason, RejectError
from transforms.fetch import FetchConfig
from transforms.fetch.client import FetchError, Response, address_problem, make_pool_manager
from transforms.fetch.discovery import best_request, discover, listed_urls
from transforms.fetch.pages import to_raw_article
from transforms.fetch.records import KIND_FEED, KIND_PAGE, KIND_SITEMAP, Failed, Fetched, FetchRequest, NotModified
from transforms.fetch.robots import Robots, robots_state
from transforms.fetch.scheduler import SlotFetcher, backoff_delay
from transforms.fetch.validators import conditional_headers, validator_row
from transforms.http_headers import parse_retry_after
from transforms.urls import check_url
from transforms.urls import politeness_key as host_key

# Fast settings for tests: the server is on loopback, so private addresses must be allowed.
FAST = dict(rate_per_host=50.0, allow_private_addresses=True, retries=2, backoff=0.05, read_timeout=2.0, connect_timeout=2.0)


def fetch_all(urls, kind=KIND_PAGE, validators=None, **overrides):
    cfg = FetchConfig(**{**FAST, **overrides})
    fetcher = SlotFetcher(cfg, make_pool_manager(cfg), validators)
    outcomes = list(fetcher.run([FetchRequest(u, kind, "test") for u in urls]))
    return {o.request.url: o for o in outcomes}, fetcher


def reason_of(outcome):
    assert isinstance(outcome, Failed), outcome
    return outcome.reason


# ---------------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "url,ok",
    [("http://a.example/x#frag", "http://a.example/x"), ("https://A.example", "https://A.example/"),
     ("ftp://a.example/x", None), ("/relative", None), ("http:///nohost", None), ("http://a.example:99999/", None),
     ("file:///etc/passwd", None)],
    ids=["fragment", "root", "ftp", "relative", "no-host", "bad-port", "file"],
)
def test_check_url(url, ok):
    if ok is None:
        with pytest.raises(RejectError) as exc:
            check_url(url)
        assert exc.value.reason == Reason.INVALID_URL
    else:
        assert check_url(url) == ok


@pytest.mark.parametrize(
    "ip,problem",
    [("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("192.168.0.1", "private"), ("169.254.169.254", "link-local"),
     ("224.0.0.1", "multicast"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"), ("fe80::1", "link-local"),
     ("0.0.0.0", "unspecified"), ("100.64.0.1", "non-global"), ("8.8.8.8", None), ("2606:4700::1111", None)],
    ids=lambda v: str(v),
)
def test_address_problem(ip, problem):
    got = address_problem(ipaddress.ip_address(ip))
    if problem is None:
        assert got is None
    elif ip == "0.0.0.0":
        assert got is not None  # 0.0.0.0/8 is both 'private' and unspecified to Python; refused either way
    else:
        assert got == problem


def test_allow_networks_lets_one_private_network_through():
    nets = (ipaddress.ip_network("10.1.0.0/16"),)
    assert address_problem(ipaddress.ip_address("10.1.2.3"), nets) is None
    assert address_problem(ipaddress.ip_address("10.2.0.1"), nets) == "private"


def test_retry_after_and_backoff():
    assert parse_retry_after("7") == 7.0
    now = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert parse_retry_after("Mon, 01 Jan 2024 00:00:30 GMT", now) == 30.0
    assert parse_retry_after("soon") is None
    cfg = FetchConfig(backoff=1.0, max_backoff=5.0)
    assert [backoff_delay(cfg, a, None) for a in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert backoff_delay(cfg, 1, 3.0) == 3.0


def test_host_key_drops_default_ports():
    assert host_key("http://Example.org:80/a") == "example.org"
    assert host_key("https://example.org:8443/a") == "example.org:8443"


@pytest.mark.parametrize("bad", [dict(rate_per_host=0), dict(concurrency=0), dict(read_timeout=0), dict(allow_networks=("nope",))])
def test_config_errors_at_construction(bad):
    with pytest.raises(ValueError):
        FetchConfig(**bad)


def test_robots_is_always_respected_there_is_no_switch():
    assert not hasattr(FetchConfig(), "respect_robots")
    with pytest.raises(TypeError):
        FetchConfig(respect_robots=False)


@pytest.mark.parametrize(
    "outcome,allows",
    [(Response(200, {}, b"User-agent: *\nDisallow: /private/\n"), "partly"), (Response(404, {}), "all"),
     (Response(429, {}), "none"), (Response(503, {}), "none"), (FetchError(Reason.TIMEOUT, "slow"), "none")],
    ids=["2xx-parsed", "4xx-allows-all", "429-disallows", "5xx-disallows", "unreachable-disallows"],
)
def test_robots_state_follows_rfc9309(outcome, allows):
    robots = Robots(robots_state("a.example", outcome, 1.0), "newsbeam", 30.0)
    verdicts = (robots.allowed("http://a.example/news/1"), robots.allowed("http://a.example/private/1"))
    assert verdicts == {"partly": (True, False), "all": (True, True), "none": (False, False)}[allows]


def test_validators_are_kept_and_sent_per_canonical_url():
    row = validator_row("http://www.a.example/x?utm_source=rss", {"etag": '"v1"', "last-modified": "Mon, 04 Mar 2024 12:00:00 GMT"})
    assert row["url"] == "http://a.example/x" and row["etag"] == '"v1"'
    assert validator_row("http://a.example/x", {"content-type": "text/html"}) is None
    headers = conditional_headers({row["url"]: row}, "http://a.example/x?utm_medium=feed")
    assert headers == {"If-None-Match": '"v1"', "If-Modified-Since": "Mon, 04 Mar 2024 12:00:00 GMT"}
    assert conditional_headers({row["url"]: row}, "http://a.example/other") == {}


def _fetched(request: FetchRequest, body: bytes, content_type: str = "application/xml") -> Fetched:
    return Fetched(request, request.url, 200, content_type, "utf-8", body, dt.datetime(2024, 3, 9, tzinfo=dt.UTC))


NEWS_SITEMAP = b"""<?xml version="1.0"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
<url><loc>http://a.example/story.html</loc><news:news><news:publication><news:name>Example Gazette</news:name>
<news:language>en</news:language></news:publication><news:title>A story</news:title></news:news></url></urlset>"""


def test_publication_name_rides_from_news_sitemap_to_fallback_site():
    sitemap = FetchRequest("http://a.example/news.xml", KIND_SITEMAP, "cli")
    (page,), problems = discover(_fetched(sitemap, NEWS_SITEMAP), 1_000_000)
    assert problems == [] and (page.url, page.kind, page.origin) == ("http://a.example/story.html", KIND_PAGE, sitemap.url)
    assert (page.site, page.title, page.language) == ("Example Gazette", "A story", "en")
    raw = to_raw_article(_fetched(page, b"<html><body><p>Text</p></body></html>", "text/html"))
    assert raw.fallback_site == "Example Gazette" and raw.fallback_title == "A story" and raw.site is None


def test_nested_sitemap_index_is_malformed():
    index = b'<sitemapindex><sitemap><loc>http://a.example/s2.xml</loc></sitemap></sitemapindex>'
    first = FetchRequest("http://a.example/s1.xml", KIND_SITEMAP, "cli")
    (named,), _ = discover(_fetched(first, index), 1_000_000)
    assert named.kind == KIND_SITEMAP and named.depth == 1
    with pytest.raises(RejectError) as exc:
        discover(_fetched(named, index), 1_000_000)
    assert exc.value.reason == Reason.FEED_MALFORMED


def test_best_request_counts_the_publication_name_as_metadata():
    bare = FetchRequest("http://a.example/x", KIND_PAGE, "a-list.txt")
    with_site = FetchRequest("http://a.example/x", KIND_PAGE, "z-feed.xml", site="Example Gazette")
    with_title = FetchRequest("http://a.example/x?utm_source=rss", KIND_PAGE, "feed.xml", title="T", site="Example Gazette")
    assert best_request([bare, with_site]) is with_site
    assert best_request([bare, with_site, with_title]) is with_title
    assert best_request([FetchRequest("http://b.example/", KIND_PAGE, "2"), FetchRequest("http://b.example/", KIND_PAGE, "1")]).origin == "1"


@pytest.mark.parametrize(
    "kind,data,expected",
    [(KIND_PAGE, b"\xef\xbb\xbf# c\nhttp://a.example/1\n", ["http://a.example/1"]), (KIND_FEED, b"http://a.example/rss\n", ["http://a.example/rss"])],
    ids=["url-list", "feed-list"],
)
def test_listed_urls(kind, data, expected):
    assert listed_urls(kind, data) == expected


@pytest.mark.parametrize("kind,reason", [(KIND_PAGE, Reason.BAD_ENCODING), (KIND_FEED, Reason.FEED_MALFORMED)])
def test_listed_urls_not_utf8(kind, reason):
    with pytest.raises(RejectError) as exc:
        listed_urls(kind, b"http://a.example/\xff\xfe\n")
    assert exc.value.reason == reason


# ---------------------------------------------------------------------------------------------
# Fetching from the real server
# ---------------------------------------------------------------------------------------------

def test_fetch_page_sends_user_agent_and_compression(web):
    got, fetcher = fetch_all([web.url("/articles/a1.html")])
    page = got[web.url("/articles/a1.html")]
    assert isinstance(page, Fetched) and b"tidal energy" in page.body and page.charset == "utf-8"
    seen = web.seen("/articles/a1.html")[0]
    assert seen.headers["user-agent"].startswith("newsbeam/")
    assert "gzip" in seen.headers["accept-encoding"]
    assert fetcher.stats[host_key(web.base)] == {"requests": 2, "ok": 1}  # robots.txt + the page


def test_gzip_encoded_body_is_decoded(web):
    html = b"<html><body><p>" + b"compressed words " * 200 + b"</p></body></html>"
    web.route("/gz.html", lambda n, h: Reply(200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, gzip.compress(html)))
    got, _ = fetch_all([web.url("/gz.html")])
    assert got[web.url("/gz.html")].body == html


def test_rate_limit_per_host_from_server_timestamps(web):
    rate = 8.0  # 125 ms between the end of one response and the next request
    urls = [web.url(f"/articles/a{i}.html") for i in range(1, 6)]
    got, _ = fetch_all(urls, rate_per_host=rate)
    assert all(isinstance(o, Fetched) for o in got.values())
    times = [s.at for s in web.seen()]
    assert len(times) == 6  # robots.txt + 5 pages
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 1 / rate, gaps


def test_two_hosts_are_interleaved_each_at_its_own_rate(web):
    # 127.0.0.1:port and localhost:port are different hosts to the fetcher (same server).
    other = web.base.replace("127.0.0.1", "localhost")
    urls = [web.url(f"/articles/a{i}.html") for i in (1, 2, 3)] + [f"{other}/articles/a{i}.html" for i in (1, 2, 3)]
    got, _ = fetch_all(urls, rate_per_host=8.0)
    assert all(isinstance(o, Fetched) for o in got.values())
    seen = web.seen()
    hosts = [s.headers["host"].split(":")[0] for s in seen]
    assert hosts.count("127.0.0.1") == 4 and hosts.count("localhost") == 4
    assert hosts[:4] in (["127.0.0.1", "localhost"] * 2, ["localhost", "127.0.0.1"] * 2)  # interleaved, not one after the other
    for host in ("127.0.0.1", "localhost"):
        times = [s.at for s in seen if s.headers["host"].startswith(host)]
        assert min(b - a for a, b in zip(times, times[1:])) >= 1 / 8.0


def test_robots_disallow_is_honoured_and_robots_fetched_once(web):
    got, _ = fetch_all([web.url("/private/secret.html"), web.url("/articles/a1.html"), web.url("/articles/a2.html")])
    assert reason_of(got[web.url("/private/secret.html")]) == Reason.ROBOTS_DISALLOWED
    assert web.seen("/private/secret.html") == []
    assert len(web.seen("/robots.txt")) == 1


def test_robots_crawl_delay_is_respected(web):
    web.route("/robots.txt", lambda n, h: Reply(200, {"Content-Type": "text/plain"}, b"User-agent: newsbeam\nCrawl-delay: 0.3\n"))
    got, _ = fetch_all([web.url("/articles/a1.html"), web.url("/articles/a2.html")], rate_per_host=100.0)
    times = [s.at for s in web.seen()]
    assert len(times) == 3 and min(b - a for a, b in zip(times, times[1:])) >= 0.3


@pytest.mark.parametrize("status,allowed", [(404, True), (503, False)], ids=["robots-404-allows-all", "robots-503-disallows-all"])
def test_unreachable_robots_as_rfc9309_says(web, status, allowed):
    web.route("/robots.txt", lambda n, h: Reply(status, {"Content-Type": "text/plain"}, b"nope"))
    got, _ = fetch_all([web.url("/articles/a1.html")], retries=0)
    outcome = got[web.url("/articles/a1.html")]
    if allowed:
        assert isinstance(outcome, Fetched)
    else:
        assert reason_of(outcome) == Reason.ROBOTS_DISALLOWED and web.seen("/articles/a1.html") == []


def test_redirect_is_followed(web):
    web.route("/old", lambda n, h: Reply(301, {"Location": "/articles/a3.html"}))
    got, _ = fetch_all([web.url("/old")])
    out = got[web.url("/old")]
    assert isinstance(out, Fetched) and out.url == web.url("/articles/a3.html")


def test_too_many_redirects_and_loops(web):
    for i in range(5):
        web.route(f"/r{i}", lambda n, h, i=i: Reply(302, {"Location": f"/r{i + 1}"}))
    web.route("/loop", lambda n, h: Reply(302, {"Location": "/loop2"}))
    web.route("/loop2", lambda n, h: Reply(302, {"Location": "/loop"}))
    got, _ = fetch_all([web.url("/r0"), web.url("/loop")], max_redirects=3)
    assert reason_of(got[web.url("/r0")]) == Reason.TOO_MANY_REDIRECTS
    assert web.seen("/r4") == []
    assert reason_of(got[web.url("/loop")]) == Reason.TOO_MANY_REDIRECTS


def test_redirect_to_non_http_scheme_is_refused(web):
    web.route("/to-file", lambda n, h: Reply(302, {"Location": "file:///etc/passwd"}))
    got, _ = fetch_all([web.url("/to-file")])
    assert reason_of(got[web.url("/to-file")]) == Reason.INVALID_URL


def test_malformed_redirect_location_is_that_request_s_reject_and_the_fetch_goes_on(web):
    web.route("/bad", lambda n, h: Reply(302, {"Location": "http://[::1"}))  # urljoin raises ValueError on it
    got, _ = fetch_all([web.url("/bad"), web.url("/articles/a3.html")])
    assert reason_of(got[web.url("/bad")]) == Reason.INVALID_URL
    assert "malformed Location" in got[web.url("/bad")].detail
    assert isinstance(got[web.url("/articles/a3.html")], Fetched)


def test_blocked_address_is_never_contacted(web):
    urls = [web.url("/articles/a1.html"), web.base.replace("127.0.0.1", "localhost") + "/articles/a2.html"]
    got, fetcher = fetch_all(urls, allow_private_addresses=False)
    assert [reason_of(got[u]) for u in urls] == [Reason.BLOCKED_ADDRESS, Reason.BLOCKED_ADDRESS]
    assert "loopback" in got[urls[1]].detail  # the name was resolved and its address checked
    assert web.seen() == []  # not even robots.txt
    assert all(s.get("requests", 0) == 0 for s in fetcher.stats.values())  # and none is counted as sent


def test_redirect_to_blocked_address_is_never_followed(web, web2):
    # 127.0.0.1 is explicitly allowed; 127.0.0.2 (another loopback address, another server) is not.
    web.route("/jump", lambda n, h: Reply(302, {"Location": web2.url("/articles/a1.html")}))
    got, _ = fetch_all([web.url("/jump")], allow_private_addresses=False, allow_networks=("127.0.0.1/32",))
    out = got[web.url("/jump")]
    assert reason_of(out) == Reason.BLOCKED_ADDRESS and "127.0.0.2" in out.detail
    assert len(web.seen("/jump")) == 1
    assert web2.seen() == []


@pytest.mark.parametrize("status,reason", [(404, Reason.HTTP_404), (410, Reason.HTTP_404), (403, Reason.HTTP_4XX), (204, Reason.HTTP_STATUS)])
def test_client_errors_are_not_retried(web, status, reason):
    web.route("/x", lambda n, h: Reply(status, {"Content-Type": "text/html"}, b"" if status == 204 else b"<p>no</p>"))
    got, _ = fetch_all([web.url("/x")])
    assert reason_of(got[web.url("/x")]) == reason
    assert len(web.seen("/x")) == 1


def test_server_error_is_retried_then_rejected(web):
    web.route("/boom", lambda n, h: Reply(500, {"Content-Type": "text/html"}, b"<p>oops</p>"))
    got, _ = fetch_all([web.url("/boom")], retries=2)
    out = got[web.url("/boom")]
    assert reason_of(out) == Reason.HTTP_5XX and "3 attempts" in out.detail
    assert len(web.seen("/boom")) == 3


def test_429_honours_retry_after_then_succeeds(web):
    page = b"<html><body><p>finally</p></body></html>"
    web.route("/busy", lambda n, h: Reply(429, {"Retry-After": "1"}) if n == 0 else Reply(200, {"Content-Type": "text/html"}, page))
    got, _ = fetch_all([web.url("/busy")], backoff=0.01)
    assert got[web.url("/busy")].body == page
    first, second = web.seen("/busy")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0  # the server asked for 1 s; backoff alone would be 10 ms


def test_429_with_retry_after_above_cap_gives_up(web):
    web.route("/busy", lambda n, h: Reply(429, {"Retry-After": http_date(3600)}))
    got, _ = fetch_all([web.url("/busy")])
    assert reason_of(got[web.url("/busy")]) == Reason.HTTP_429
    assert len(web.seen("/busy")) == 1


def test_slow_response_times_out(web):
    web.route("/slow", lambda n, h: Reply(200, {"Content-Type": "text/html"}, b"<p>late</p>", delay=5))
    got, _ = fetch_all([web.url("/slow")], read_timeout=0.3)
    assert reason_of(got[web.url("/slow")]) == Reason.TIMEOUT
    assert len(web.seen("/slow")) == 1  # read timeouts are not retried


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversized_body_is_too_large(web, chunked):
    headers = {"Content-Type": "text/html", **({"Transfer-Encoding": "chunked"} if chunked else {})}
    web.route("/big", lambda n, h: Reply(200, headers, b"<p>" + b"x" * 300_000 + b"</p>"))
    got, _ = fetch_all([web.url("/big")], max_body_bytes=100_000)
    assert reason_of(got[web.url("/big")]) == Reason.TOO_LARGE


def test_non_html_page_is_rejected_but_feeds_are_not_checked_for_html(web):
    got, _ = fetch_all([web.url("/doc.pdf")])
    out = got[web.url("/doc.pdf")]
    assert reason_of(out) == Reason.NOT_HTML and "application/pdf" in out.detail
    feeds, _ = fetch_all([web.url("/feeds/rss.xml")], kind=KIND_FEED)
    assert isinstance(feeds[web.url("/feeds/rss.xml")], Fetched)


def test_conditional_get_on_second_fetch(web):
    url = web.url("/articles/a1.html")
    first, fetcher = fetch_all([url])
    assert isinstance(first[url], Fetched)
    (row,) = fetcher.new_validators
    assert row["etag"] and row["last_modified"]
    second, _ = fetch_all([url], validators={row["url"]: row})
    assert isinstance(second[url], NotModified)
    last = web.seen("/articles/a1.html")[-1]
    assert last.headers["if-none-match"] == row["etag"] and last.status == 304


def test_connection_refused_is_a_connection_error(web):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    url = f"http://127.0.0.1:{port}/x"
    got, _ = fetch_all([url], retries=1)
    # robots.txt is unreachable too, so RFC 9309 says disallow; either way nothing was fetched.
    assert reason_of(got[url]) in (Reason.CONNECTION_ERROR, Reason.ROBOTS_DISALLOWED)
    assert "connect" in got[url].detail.lower() or "refused" in got[url].detail.lower()


# ---------------------------------------------------------------------------------------------
# End to end: newsbeam run --feeds / --urls / --sitemap into Parquet, read back with DuckDB
# ---------------------------------------------------------------------------------------------

def _run(*argv):
    out = io.StringIO()
    row = run(list(argv), out=out)
    return row, out.getvalue()


@pytest.fixture
def feed_files(web, tmp_path):
    opml = tmp_path / "feeds.opml"
    opml.write_bytes((web.static("/feeds.opml", {})).body)
    urls = tmp_path / "urls.txt"
    urls.write_text(f"# direct URLs\n{web.url('/articles/a2.html')}\nnot a url\n{web.url('/doc.pdf')}\n")
    return opml, urls


@pytest.mark.e2e
def test_end_to_end_feeds_urls_sitemap_then_conditional_second_run(web, feed_files, tmp_path):
    opml, urls = feed_files
    out = tmp_path / "out"
    args = ["--feeds", str(opml), "--urls", str(urls), "--sitemap", web.url("/sitemaps/index.xml"),
            "--allow-private-addresses", "--rate-per-host", "50", "--retries", "0", "--output", str(out)]
    row, printed = _run(*args)
    con = connect(str(out))
    arts = con.sql("SELECT url, title, author, published_at, input_format FROM articles ORDER BY url").fetchall()
    paths = [a[0].split("/", 3)[3] for a in arts]
    assert paths == ["articles/a1.html", "articles/a2.html?utm_source=rss&utm_medium=feed", "articles/a3.html", "articles/a4.html", "articles/a5.html"]
    assert {a[4] for a in arts} == {"http"}
    a5 = arts[4]  # the page has no date: the Atom entry's date and author fill in
    assert a5[3] == dt.datetime(2024, 3, 8, 6, 45, tzinfo=dt.UTC) and a5[2] == "Baker Reporter"
    rejects = dict(con.sql("SELECT split_part(source_uri, '/', 4) || '/' || split_part(source_uri, '/', 5), reason FROM rejects").fetchall())
    assert rejects["feeds/broken.xml"] == "feed_malformed"
    assert rejects["feeds/gone.xml"] == "http_404"
    assert rejects["missing.html/"] == "http_404"
    assert rejects["private/secret.html"] == "robots_disallowed"
    assert rejects["doc.pdf/"] == "not_html"
    assert con.sql("SELECT count(*) FROM rejects WHERE reason = 'invalid_url'").fetchall()[0][0] == 2  # 'not a url' + ftp:// in a sitemap
    assert web.seen("/private/secret.html") == []
    assert len(web.seen("/articles/a2.html")) == 1  # feed URL with utm_* and the plain URL are one page
    assert "fetched" in printed and host_key(web.base) in printed
    assert row["article_count"] == 5
    state = con.sql(f"SELECT count(*) FROM read_parquet('{out}/_state/http_validators/*.parquet')").fetchall()[0][0]
    assert state >= 10

    before = len(web.seen())
    row2, printed2 = _run(*args)
    second = web.seen()[before:]
    by_path = {s.path: s for s in second}
    assert by_path["/feeds/rss.xml"].status == 304 and by_path["/feeds/rss.xml"].headers.get("if-none-match")
    assert by_path["/sitemaps/index.xml"].status == 304
    assert "/articles/a2.html" not in by_path  # the direct URL, ingested by run 1 under its canonical URL: not asked again
    assert "/articles/a1.html" not in by_path  # the feed was not modified, so its pages cost nothing
    assert row2["article_count"] == 0
    assert "not modified (304)" in printed2
    n304 = sum(1 for s in second if s.status == 304)
    assert n304 == sum(1 for s in second if s.headers.get("if-none-match"))
    assert con.sql(f"SELECT count(*) FROM rejects WHERE run_id = '{row2['run_id']}' AND reason LIKE '%modified%'").fetchall()[0][0] == 0


@pytest.mark.e2e
def test_blocked_by_default_end_to_end(web, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text(web.url("/articles/a1.html") + "\n")
    row, _ = _run("--urls", str(urls), "--output", str(tmp_path / "out"))
    con = connect(str(tmp_path / "out"))
    assert con.sql("SELECT reason FROM rejects").fetchall() == [("blocked_address",)]
    assert web.seen() == []


@pytest.mark.e2e
def test_missing_feed_list_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        run(["--feeds", str(tmp_path / "nope.opml"), "--output", str(tmp_path / "out")])


# ---------------------------------------------------------------------------------------------
# Many hosts at once: a thread per slot, each host polite (bench/fetch.py's loopback site: one server on
# several 127.0.0.x addresses, which logs arrival times and counts the requests it answers at once)
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def site():
    from bench.fetch import LoopbackSite

    s = LoopbackSite(hosts=12, delay=0.1)  # 12 hosts: some in each of a few slots, whatever the port
    yield s
    s.close()


def _gaps_per_host(log):
    times = {}
    for at, host, _ in log:
        times.setdefault(host, []).append(at)
    return [b - a for ts in times.values() for a, b in zip(ts, ts[1:])]


def test_threads_fetch_many_hosts_at_once_each_host_at_its_own_rate(site):
    rate, threads = 10.0, 4
    cfg = FetchConfig(**{**FAST, "rate_per_host": rate})
    fetcher = SlotFetcher(cfg, make_pool_manager(cfg), threads=threads)
    urls = [f"http://{host}/news/{n}" for n in range(3) for host in site.hosts]
    outcomes = list(fetcher.run([FetchRequest(u, KIND_PAGE, "test") for u in urls]))
    assert sorted(o.request.url for o in outcomes if isinstance(o, Fetched)) == sorted(urls)
    log = site.requests()
    assert len(log) == len(site.hosts) * 4  # robots.txt once per host + 3 pages
    assert 2 <= site.max_in_flight <= threads  # hosts were fetched at once, never more than the threads
    assert min(_gaps_per_host(log)) >= 1 / rate  # and no host faster than its rate
    assert all(fetcher.stats[h] == {"requests": 4, "ok": 3} for h in site.hosts)


def test_one_thread_keeps_one_request_in_flight(site):
    cfg = FetchConfig(**{**FAST, "rate_per_host": 20.0})
    fetcher = SlotFetcher(cfg, make_pool_manager(cfg))
    list(fetcher.run([FetchRequest(f"http://{host}/news/1", KIND_PAGE, "test") for host in site.hosts[:3]]))
    assert site.max_in_flight == 1 and len(site.requests()) == 6


def test_threads_must_be_positive():
    cfg = FetchConfig(**FAST)
    with pytest.raises(ValueError):
        SlotFetcher(cfg, None, threads=0)


def test_fetch_urls_fetches_the_slots_of_a_bundle_at_once_within_the_concurrency(site):
    """Beam's local runner hands all slots to one bundle: they are fetched together, at most `concurrency`
    requests in flight, each host at its rate, every URL fetched once."""
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to

    from transforms.fetch.transform import FetchUrls

    rate, concurrency = 10.0, 3
    cfg = FetchConfig(**{**FAST, "rate_per_host": rate, "concurrency": concurrency})
    urls = [f"http://{host}/news/{n}" for n in range(2) for host in site.hosts]
    with TestPipeline() as p:
        requests = p | "Requests" >> beam.Create([FetchRequest(u, KIND_PAGE, "test") for u in urls])
        validators = p | "NoValidators" >> beam.Create([])
        prior_hosts = p | "NoPriorHosts" >> beam.Create([])
        out = requests | FetchUrls(cfg, validators, prior_hosts)
        assert_that(out["docs"] | beam.Map(lambda d: d.url), equal_to(urls))
    log = site.requests()
    assert len(log) == len(site.hosts) * 3
    assert 2 <= site.max_in_flight <= concurrency
    assert min(_gaps_per_host(log)) >= 1 / rate
