"""Fetch stage: a polite, safe HTTP fetcher and the Beam composite that turns feeds, sitemaps and URL lists into RawArticles.

Politeness: robots.txt (RFC 9309, Crawl-delay) per host, one request at a time per host with at
least `1 / rate_per_host` seconds between the end of one response and the next request, retries
with exponential backoff honouring Retry-After. Safety: only http(s); every address a host name
resolves to is checked before connecting, on every hop (private, loopback, link-local, multicast
and reserved addresses are refused unless allowed). Conditional GET: ETag / Last-Modified seen on
earlier runs are sent as If-None-Match / If-Modified-Since; a 304 is counted, not an article.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import ipaddress
import json
import logging
import socket
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics import Metrics

from schemas.records import FORMAT_HTTP, UTC, RawArticle
from schemas.rejects import Reason, Reject, RejectError, Stage
from schemas.state import VALIDATORS_SCHEMA
from schemas.layout import HOST_COUNTS_FILE, VALIDATORS_STATE as VALIDATORS_DIR
from transforms import feeds
from transforms.decoding import decode_page
from transforms.http_headers import is_html_type, parse_retry_after, split_content_type, status_reason
from transforms.identity import content_id, source_key
from transforms.urls import canonical_url
from transforms.urls import politeness_key as host_key

log = logging.getLogger("newsbeam.fetch")  # the CLI shows INFO of the "newsbeam" logger (progress lines)

REJECTS = "rejects"
VALIDATORS = "validators"
HOSTS = "hosts"
STATS = "stats"

KIND_FEED, KIND_SITEMAP, KIND_PAGE = "feed", "sitemap", "page"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ROBOTS_MAX_BYTES = 512_000  # RFC 9309: parse at least the first 500 KiB
DEFAULT_USER_AGENT = "newsbeam/0.1 (news ingestion pipeline; +https://pypi.org/project/newsbeam/)"



@dataclasses.dataclass(frozen=True)
class FetchConfig:
    """How the fetcher behaves. Defaults are conservative: one request per second per host."""

    user_agent: str = DEFAULT_USER_AGENT
    rate_per_host: float = 1.0  # requests per second to one host
    concurrency: int = 8  # at most this many requests in flight across all workers
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # per socket read
    total_timeout: float = 120.0  # whole response, so a slow drip cannot hold a slot forever
    max_body_bytes: int = 10_000_000  # after decompression
    max_redirects: int = 5
    retries: int = 3  # extra attempts on 429, 5xx and connection errors
    backoff: float = 1.0  # first retry waits this long, then doubles
    max_backoff: float = 60.0
    max_retry_after: float = 120.0  # a longer Retry-After gives up instead of stalling the run
    max_crawl_delay: float = 30.0  # a robots.txt Crawl-delay is honoured up to this
    allow_private_addresses: bool = False
    allow_networks: tuple[str, ...] = ()  # CIDRs allowed even when private addresses are not
    respect_robots: bool = True

    def __post_init__(self):
        if self.rate_per_host <= 0:
            raise ValueError("rate_per_host must be > 0 requests per second")
        if self.concurrency < 1:
            raise ValueError("fetch concurrency must be >= 1")
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0 seconds")
        if self.max_body_bytes < 1 or self.max_redirects < 0 or self.retries < 0 or self.backoff < 0:
            raise ValueError("max_body_bytes must be >= 1; max_redirects, retries and backoff >= 0")
        for cidr in self.allow_networks:
            ipaddress.ip_network(cidr, strict=False)  # raises ValueError for a bad network
        if not self.user_agent.strip():
            raise ValueError("user_agent must not be empty")

    @property
    def interval(self) -> float:
        return 1.0 / self.rate_per_host

    @property
    def robots_agent(self) -> str:
        """The product token robots.txt groups are matched against (`newsbeam` for the default agent)."""
        return self.user_agent.split("/", 1)[0].split()[0]


# ------------------------------------------------------------------------------------------
# Records moving through the fetch stages.
# ------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FetchRequest:
    """One URL to fetch, what it is expected to be, where it came from, and metadata found with it."""

    url: str
    kind: str  # feed | sitemap | page
    origin: str  # the list file, feed or sitemap that named it
    depth: int = 0  # sitemap nesting: 0 for a sitemap given by the user, 1 for one named by an index
    title: str | None = None
    published_at: dt.datetime | None = None
    author: str | None = None
    language: str | None = None


@dataclasses.dataclass(frozen=True)
class Fetched:
    """A 200 response: the body (decompressed) and what is needed to use it."""

    request: FetchRequest
    url: str  # final URL after redirects
    status: int
    content_type: str
    charset: str | None
    body: bytes
    fetched_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class NotModified:
    request: FetchRequest
    url: str


@dataclasses.dataclass(frozen=True)
class Failed:
    request: FetchRequest
    reason: Reason
    detail: str


@dataclasses.dataclass(frozen=True)
class HostState:
    """What one host taught this run so far: when it was last contacted, and its robots.txt verdict."""

    host: str
    last_request_end: float  # wall-clock seconds
    robots_text: str | None = None  # None with robots_error None: allow everything (4xx robots.txt)
    robots_error: str | None = None  # set: disallow everything (robots.txt unreachable)
    blocked: str | None = None  # set: the host's address is refused


class FetchError(RejectError):
    """An expected fetch failure with its reason code, and whether trying again may help."""

    def __init__(self, reason: Reason, detail: str, retryable: bool = False, retry_after: float | None = None):
        super().__init__(reason, detail)
        self.retryable = retryable
        self.retry_after = retry_after


class BlockedAddressError(Exception):
    """Raised while connecting when a host name resolves to a refused address. Deliberately not an OSError,
    so urllib3 does not treat it as a retryable connection problem."""


# ------------------------------------------------------------------------------------------
# Pure helpers.
# ------------------------------------------------------------------------------------------


def check_url(url: str) -> str:
    """The URL stripped of its fragment, or FetchError(invalid_url) when it is not an absolute http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        raise FetchError(Reason.INVALID_URL, f"unparsable URL {url[:300]!r}: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise FetchError(Reason.INVALID_URL, f"only http and https are fetched, not {parts.scheme or 'a relative URL'}: {url[:300]!r}")
    if not parts.hostname:
        raise FetchError(Reason.INVALID_URL, f"URL without a host: {url[:300]!r}")
    del port
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def address_problem(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_networks=()) -> str | None:
    """Why connecting to `ip` is refused (e.g. 'loopback'), or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in allow_networks):
        return None
    for name in ("loopback", "link_local", "multicast", "private", "reserved", "unspecified"):
        if getattr(ip, "is_" + name):
            return name.replace("_", "-")
    if not ip.is_global:
        return "non-global"
    return None


def resolve_checked(host: str, port: int, allow_private: bool, allow_networks=()) -> list[tuple]:
    """getaddrinfo results for host:port; raises BlockedAddressError if ANY address is refused."""
    infos = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
    if not allow_private:
        for info in infos:
            ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
            problem = address_problem(ip, allow_networks)
            if problem:
                raise BlockedAddressError(f"{host} resolves to {ip}, a {problem} address")
    return infos



def backoff_delay(cfg: FetchConfig, attempt: int, retry_after: float | None) -> float:
    """Wait before retry number `attempt` (1-based): exponential, at least what Retry-After asks."""
    delay = min(cfg.max_backoff, cfg.backoff * (2 ** (attempt - 1)))
    return max(delay, retry_after or 0.0)





def slot_of(host: str, slots: int) -> int:
    """A stable slot for a host: all requests to one host are fetched by one DoFn call."""
    return int.from_bytes(hashlib.blake2b(host.encode(), digest_size=4).digest(), "big") % slots


# ------------------------------------------------------------------------------------------
# HTTP client: urllib3 with connections that check addresses before connecting.
# ------------------------------------------------------------------------------------------

class _CheckedConnectionMixin:
    """Resolve the host, check EVERY address, then connect only to checked addresses (no second lookup)."""

    allow_private = False
    allow_networks: tuple = ()

    def _new_conn(self):
        from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

        try:
            infos = resolve_checked(self._dns_host, self.port, self.allow_private, self.allow_networks)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        last = None
        for family, socktype, proto, _, sockaddr in infos:
            sock = socket.socket(family, socktype, proto)
            try:
                for opt in self.socket_options or ():
                    sock.setsockopt(*opt)
                if isinstance(self.timeout, (int, float)):
                    sock.settimeout(self.timeout)
                sock.connect(sockaddr)
                return sock
            except socket.timeout as exc:
                sock.close()
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out (connect timeout={self.timeout})") from exc
            except OSError as exc:
                sock.close()
                last = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {last}")


def make_pool_manager(cfg: FetchConfig):
    """A urllib3 PoolManager whose connections refuse blocked addresses (built in DoFn.setup())."""
    import urllib3
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    policy = {"allow_private": cfg.allow_private_addresses, "allow_networks": tuple(ipaddress.ip_network(n, strict=False) for n in cfg.allow_networks)}
    http_conn = type("CheckedHTTPConnection", (_CheckedConnectionMixin, HTTPConnection), policy)
    https_conn = type("CheckedHTTPSConnection", (_CheckedConnectionMixin, HTTPSConnection), policy)
    http_pool = type("CheckedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn})
    https_pool = type("CheckedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})
    accept_encoding = "gzip, deflate, br" if _has_brotli() else "gzip, deflate"
    pm = urllib3.PoolManager(
        num_pools=64,
        headers={"User-Agent": cfg.user_agent, "Accept-Encoding": accept_encoding},
        retries=False,
    )
    pm.pool_classes_by_scheme = {"http": http_pool, "https": https_pool}
    return pm


def _has_brotli() -> bool:
    try:
        import brotli  # noqa: F401
    except ImportError:
        return False
    return True


@dataclasses.dataclass
class Response:
    status: int
    headers: dict  # lower-case names
    body: bytes = b""


def http_get(pm, url: str, headers: dict, cfg: FetchConfig, want_body: Callable[[int, dict], bool], clock=time.monotonic) -> Response:
    """One GET without redirects or retries. The body is read (with the size and time caps) only when
    `want_body(status, headers)` is True. Raises FetchError for what can go wrong on the wire."""
    import urllib3
    from urllib3.exceptions import (
        ConnectTimeoutError, DecodeError, HTTPError, LocationParseError, NewConnectionError, ProtocolError,
        ReadTimeoutError, SSLError,
    )

    started = clock()
    try:
        resp = pm.request(
            "GET", url, headers={**pm.headers, **headers}, redirect=False, retries=False, preload_content=False,
            timeout=urllib3.Timeout(connect=cfg.connect_timeout, read=cfg.read_timeout),
        )
    except BlockedAddressError as exc:
        raise FetchError(Reason.BLOCKED_ADDRESS, str(exc)) from exc
    except LocationParseError as exc:
        raise FetchError(Reason.INVALID_URL, str(exc)) from exc
    except NewConnectionError as exc:  # before ConnectTimeoutError: it is a subclass
        raise FetchError(Reason.CONNECTION_ERROR, str(exc), retryable=True) from exc
    except ConnectTimeoutError as exc:
        raise FetchError(Reason.TIMEOUT, f"connect timeout after {cfg.connect_timeout}s", retryable=True) from exc
    except ReadTimeoutError as exc:
        raise FetchError(Reason.TIMEOUT, f"no response within the read timeout of {cfg.read_timeout}s") from exc
    except SSLError as exc:
        raise FetchError(Reason.CONNECTION_ERROR, f"TLS error: {exc}") from exc
    except (ProtocolError, HTTPError) as exc:
        raise FetchError(Reason.CONNECTION_ERROR, f"{type(exc).__name__}: {exc}", retryable=True) from exc
    headers_out = {k.lower(): v for k, v in resp.headers.items()}
    complete = False
    try:
        if not want_body(resp.status, headers_out):
            small = resp.length_remaining is not None and resp.length_remaining <= 65536
            if small:  # drain so the connection can be reused; a big or chunked body is not worth reading
                resp.drain_conn()
                resp.release_conn()
                complete = True
            return Response(resp.status, headers_out)
        length = headers_out.get("content-length", "")
        if length.isdigit() and int(length) > cfg.max_body_bytes and "content-encoding" not in headers_out:
            raise FetchError(Reason.TOO_LARGE, f"Content-Length {length} is above the limit of {cfg.max_body_bytes} bytes")
        chunks, total = [], 0
        for chunk in resp.stream(65536, decode_content=True):
            total += len(chunk)
            if total > cfg.max_body_bytes:
                raise FetchError(Reason.TOO_LARGE, f"body is above the limit of {cfg.max_body_bytes} bytes (after decompression)")
            if clock() - started > cfg.total_timeout:
                raise FetchError(Reason.TIMEOUT, f"response took longer than {cfg.total_timeout}s")
            chunks.append(chunk)
        resp.release_conn()
        complete = True
        return Response(resp.status, headers_out, b"".join(chunks))
    except ReadTimeoutError as exc:
        raise FetchError(Reason.TIMEOUT, f"body read exceeded the read timeout of {cfg.read_timeout}s") from exc
    except DecodeError as exc:
        raise FetchError(Reason.UNREADABLE, f"Content-Encoding could not be decoded: {exc}") from exc
    except (ProtocolError, HTTPError) as exc:
        raise FetchError(Reason.CONNECTION_ERROR, f"body cut short: {exc}", retryable=True) from exc
    finally:
        if not complete:  # a connection abandoned mid-body must not go back to the pool
            resp.close()


# ------------------------------------------------------------------------------------------
# robots.txt
# ------------------------------------------------------------------------------------------

class Robots:
    """A host's robots.txt verdicts for our user agent."""

    def __init__(self, state: HostState, agent: str, max_crawl_delay: float):
        self.agent = agent
        self.error = state.robots_error
        self._parser = None
        self.crawl_delay = 0.0
        if state.robots_text:
            from protego import Protego

            self._parser = Protego.parse(state.robots_text)
            delay = self._parser.crawl_delay(agent)
            if delay:
                self.crawl_delay = min(float(delay), max_crawl_delay)

    def allowed(self, url: str) -> bool:
        if self.error:
            return False
        return self._parser is None or self._parser.can_fetch(url, self.agent)


def robots_state(host: str, outcome: Response | FetchError, now: float) -> HostState:
    """What a robots.txt response means (RFC 9309 2.3.1): 2xx parse; 4xx allow all; 5xx or unreachable disallow all."""
    if isinstance(outcome, FetchError):
        return HostState(host, now, robots_error=f"robots.txt unreachable ({outcome.reason.value}: {outcome.detail}); "
                         "RFC 9309 says assume complete disallow")
    if 200 <= outcome.status < 300:
        return HostState(host, now, robots_text=outcome.body[:ROBOTS_MAX_BYTES].decode("utf-8", "replace"))
    if 400 <= outcome.status < 500 and outcome.status != 429:
        return HostState(host, now)
    return HostState(host, now, robots_error=f"robots.txt answered HTTP {outcome.status}; RFC 9309 says assume complete disallow")


# ------------------------------------------------------------------------------------------
# The slot scheduler: many hosts interleaved, each host polite, one request in flight.
# ------------------------------------------------------------------------------------------

@dataclasses.dataclass
class _Call:
    url: str
    kind: str
    not_before: float = 0.0


@dataclasses.dataclass
class _Host:
    key: str
    last_end: float  # when the last response from this host ended (wall clock)
    robots: Robots | None = None
    state: HostState | None = None
    blocked: str | None = None  # set when the host's own address is refused: every call fails without contact
    calls: deque = dataclasses.field(default_factory=deque)  # (job, _Call)
    requests: int = 0


class SlotFetcher:
    """Fetch a batch of requests: hosts are interleaved, every host is contacted at most once per interval
    (and never before the time an earlier stage last contacted it), and one request is in flight at a time.

    `run()` yields Fetched / NotModified / Failed outcomes; afterwards `hosts` holds each host's state and
    `stats` the per-host counts.
    """

    def __init__(self, cfg: FetchConfig, pm, validators: dict | None = None, prior_hosts: dict | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep):
        self.cfg = cfg
        self.pm = pm
        self.validators = validators or {}
        self.prior = prior_hosts or {}
        self.clock = clock
        self.sleep = sleep
        self.hosts: dict[str, _Host] = {}
        self.stats: dict[str, dict[str, int]] = {}
        self.new_validators: list[dict] = []

    # -- per-host bookkeeping --
    def _host(self, key: str) -> _Host:
        h = self.hosts.get(key)
        if h is None:
            prior = self.prior.get(key)
            h = _Host(key, last_end=prior.last_request_end if prior else float("-inf"))
            if prior is not None:  # an earlier stage already read this host's robots.txt
                h.state, h.blocked = prior, prior.blocked
                h.robots = Robots(prior, self.cfg.robots_agent, self.cfg.max_crawl_delay)
            self.hosts[key] = h
        return h

    def _count(self, host: str, what: str) -> None:
        s = self.stats.setdefault(host, {})
        s[what] = s.get(what, 0) + 1

    def _interval(self, h: _Host) -> float:
        return max(self.cfg.interval, h.robots.crawl_delay if h.robots else 0.0)

    def _ready_at(self, h: _Host) -> float:
        """When the host's next call may start: an interval after its last response, and not before a backoff ends."""
        return max(h.last_end + self._interval(h), h.calls[0][1].not_before)

    def _send(self, h: _Host, url: str, headers: dict, want_body) -> Response | FetchError:
        try:
            result: Response | FetchError = http_get(self.pm, url, headers, self.cfg, want_body)
        except FetchError as exc:
            result = exc
        finally:
            h.last_end = self.clock()
        if not (isinstance(result, FetchError) and result.reason == Reason.BLOCKED_ADDRESS):
            self._count(h.key, "requests")  # a refused address is never contacted: nothing was sent
        return result

    def _fetch_robots(self, h: _Host, scheme: str) -> None:
        url = f"{scheme}://{h.key}/robots.txt"
        outcome: Response | FetchError = FetchError(Reason.TOO_MANY_REDIRECTS, "robots.txt redirected too often")
        for hop in range(self.cfg.max_redirects + 1):
            outcome = self._send(h, url, {}, lambda status, _h: 200 <= status < 300)
            if isinstance(outcome, Response) and outcome.status in REDIRECT_STATUSES and outcome.headers.get("location"):
                try:
                    url = check_url(urljoin(url, outcome.headers["location"]))
                except FetchError as exc:
                    outcome = exc
                    break
                continue
            break
        if isinstance(outcome, FetchError) and outcome.reason == Reason.BLOCKED_ADDRESS and hop == 0:
            h.blocked = outcome.detail  # the host itself is refused, not just its robots.txt
        if isinstance(outcome, FetchError) and outcome.reason == Reason.TOO_LARGE:
            outcome = FetchError(Reason.HTTP_STATUS, "robots.txt too large")  # treat as unreachable: disallow
        h.state = dataclasses.replace(robots_state(h.key, outcome, h.last_end), blocked=h.blocked)
        h.robots = Robots(h.state, self.cfg.robots_agent, self.cfg.max_crawl_delay)

    # -- one request's life: redirects, retries, status mapping --
    def _job(self, req: FetchRequest):
        cfg = self.cfg
        url, redirects, attempt, seen = req.url, 0, 0, {req.url}
        not_before = 0.0
        while True:
            result = yield _Call(url, req.kind, not_before)
            not_before = 0.0
            if isinstance(result, FetchError):
                if result.retryable and attempt < cfg.retries:
                    attempt += 1
                    not_before = self.clock() + backoff_delay(cfg, attempt, None)
                    continue
                tries = f" (after {attempt + 1} attempts)" if attempt else ""
                return Failed(req, result.reason, result.detail + tries + _via(url, req.url))
            status = result.status
            if status in REDIRECT_STATUSES and result.headers.get("location"):
                redirects += 1
                try:
                    target = check_url(urljoin(url, result.headers["location"]))
                except FetchError as exc:
                    return Failed(req, exc.reason, f"redirect from {url}: {exc.detail}")
                if redirects > cfg.max_redirects:
                    return Failed(req, Reason.TOO_MANY_REDIRECTS, f"more than {cfg.max_redirects} redirects (last {url} -> {target})")
                if target in seen:
                    return Failed(req, Reason.TOO_MANY_REDIRECTS, f"redirect loop: {url} -> {target}")
                seen.add(target)
                url, attempt = target, 0
                continue
            if status == 304:
                return NotModified(req, url)
            if status == 429 or status >= 500:
                retry_after = parse_retry_after(result.headers.get("retry-after"))
                if retry_after is not None and retry_after > cfg.max_retry_after:
                    return Failed(req, status_reason(status), f"HTTP {status} with Retry-After {retry_after:.0f}s, above the cap of {cfg.max_retry_after:.0f}s" + _via(url, req.url))
                if attempt < cfg.retries:
                    attempt += 1
                    not_before = self.clock() + backoff_delay(cfg, attempt, retry_after)
                    continue
                return Failed(req, status_reason(status), f"HTTP {status} after {attempt + 1} attempts" + _via(url, req.url))
            if status != 200 and status != 203:
                return Failed(req, status_reason(status), f"HTTP {status}" + _via(url, req.url))
            ctype, charset = split_content_type(result.headers.get("content-type"))
            if req.kind == KIND_PAGE and not is_html_type(ctype):
                return Failed(req, Reason.NOT_HTML, f"Content-Type {ctype!r} is not HTML" + _via(url, req.url))
            self._remember(url, result.headers)
            return Fetched(req, url, status, ctype, charset, result.body, dt.datetime.now(UTC))

    def _remember(self, url: str, headers: dict) -> None:
        """Keep the validators of a 200 response, keyed by canonical URL (tracking parameters do not split them)."""
        etag, modified = headers.get("etag"), headers.get("last-modified")
        if etag or modified:
            self.new_validators.append({"url": canonical_url(url) or url, "etag": etag, "last_modified": modified, "fetched_at": dt.datetime.now(UTC)})

    def _headers(self, url: str) -> dict:
        known = self.validators.get(canonical_url(url) or url)
        headers = {}
        if known:
            if known.get("etag"):
                headers["If-None-Match"] = known["etag"]
            if known.get("last_modified"):
                headers["If-Modified-Since"] = known["last_modified"]
        return headers

    def _enqueue(self, job, call: _Call) -> None:
        self._host(host_key(call.url)).calls.append((job, call))

    def run(self, requests: Iterable[FetchRequest], progress_every: float = 30.0) -> Iterator:
        total = done = failed = 0
        for req in requests:
            job = self._job(req)
            self._enqueue(job, next(job))
            total += 1
        last_progress = self.clock()
        while True:
            active = [h for h in self.hosts.values() if h.calls]
            if not active:
                break
            h = min(active, key=self._ready_at)
            wait = self._ready_at(h) - self.clock()
            if wait > 0:
                self.sleep(wait)
            job, call = h.calls[0]
            scheme = urlsplit(call.url).scheme
            if h.robots is None and h.blocked is None and self.cfg.respect_robots:
                self._fetch_robots(h, scheme)
                continue
            h.calls.popleft()
            if h.blocked is not None:
                result = FetchError(Reason.BLOCKED_ADDRESS, h.blocked)
            elif self.cfg.respect_robots and not h.robots.allowed(call.url):
                result = FetchError(Reason.ROBOTS_DISALLOWED, h.robots.error or f"robots.txt of {h.key} disallows it for {self.cfg.robots_agent!r}")
            else:
                kind = call.kind
                result = self._send(h, call.url, self._headers(call.url),
                                    lambda status, hd, kind=kind: status in (200, 203) and (kind != KIND_PAGE or is_html_type(split_content_type(hd.get("content-type"))[0])))
            try:
                self._enqueue(job, job.send(result))
            except StopIteration as stop:
                outcome = stop.value
                done += 1
                origin_host = host_key(outcome.request.url)
                if isinstance(outcome, Fetched):
                    self._count(origin_host, "ok")
                elif isinstance(outcome, NotModified):
                    self._count(origin_host, "not_modified")
                else:
                    failed += 1
                    self._count(origin_host, "failed")
                yield outcome
            if self.clock() - last_progress >= progress_every:
                last_progress = self.clock()
                log.info("fetch: %d fetched, %d failed, %d remaining, %d hosts", done - failed, failed, total - done, len(active))

    def host_states(self) -> list[HostState]:
        out = []
        for h in self.hosts.values():
            last = max(h.last_end, 0.0)
            out.append(dataclasses.replace(h.state, last_request_end=last) if h.state else HostState(h.key, last))
        return out


def _via(url: str, original: str) -> str:
    return "" if url == original else f" (at {url})"


# ------------------------------------------------------------------------------------------
# Turning fetched documents into requests and articles (pure).
# ------------------------------------------------------------------------------------------

def page_requests(links: Iterable[feeds.Link], origin: str) -> list[FetchRequest]:
    return [FetchRequest(lk.url, KIND_PAGE, origin, 0, lk.title, lk.published_at, lk.author, lk.language) for lk in links]


def discover(doc: Fetched, max_bytes: int) -> tuple[list[FetchRequest], list[str]]:
    """(new requests, problems) from a fetched feed or sitemap; raises FeedError when it yields nothing usable."""
    req = doc.request
    if req.kind == KIND_FEED:
        entries, problems = feeds.parse_feed(doc.body, doc.url)
        return page_requests(entries, req.url), problems
    sitemap, problems = feeds.parse_sitemap(doc.body, doc.url, max_bytes)
    if sitemap.is_index:
        if req.depth >= 1:
            raise feeds.FeedError("a sitemap index named by a sitemap index (the sitemap protocol does not allow nesting)")
        return [FetchRequest(u, KIND_SITEMAP, req.url, req.depth + 1) for u in sitemap.sitemaps], problems
    return page_requests(sitemap.pages, req.url), problems



def to_raw_article(doc: Fetched) -> RawArticle:
    """A fetched HTML page as a RawArticle; feed/sitemap metadata ride along as fallbacks for extraction."""
    if not doc.body.strip():
        raise RejectError(Reason.EMPTY_INPUT, "empty response body")
    html = decode_page(doc.body, doc.charset)
    if not doc.content_type and not html.lstrip()[:1] == "<":
        raise RejectError(Reason.NOT_HTML, "no Content-Type and the body is not markup")
    req = doc.request
    return RawArticle(
        article_id=content_id(doc.url, html),
        source_uri=req.url,
        input_format=FORMAT_HTTP,
        content=html,
        is_html=True,
        url=doc.url,
        language=req.language,
        source_key=source_key(None, doc.url, req.url),
        fallback_title=req.title,
        fallback_author=req.author,
        fallback_published_at=req.published_at,
    )


# ------------------------------------------------------------------------------------------
# Conditional GET state.
# ------------------------------------------------------------------------------------------

def read_validators(pattern: str) -> Iterator[tuple[str, dict]]:
    """(url, {etag, last_modified, fetched_at}) rows of every validators file matching `pattern`."""
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems

    for m in FileSystems.match([pattern])[0].metadata_list:
        with FileSystems.open(m.path) as f:
            table = pq.read_table(f, columns=["url", "etag", "last_modified", "fetched_at"])
        for row in table.to_pylist():
            yield row["url"], {"etag": row["etag"], "last_modified": row["last_modified"], "fetched_at": row["fetched_at"]}


def newest(values: Iterable[dict]) -> dict:
    return max(values, key=lambda v: v["fetched_at"])


# ------------------------------------------------------------------------------------------
# Beam.
# ------------------------------------------------------------------------------------------

def _reject(uri: str, input_id: str | None, stage: Stage, reason: Reason, detail: str):
    Metrics.counter(stage.value, "rejected_" + reason.value).inc()
    return beam.pvalue.TaggedOutput(REJECTS, Reject.of(uri, input_id, stage, reason, detail))


class SeedRequestsFn(beam.DoFn):
    """('feeds'|'urls'|'sitemap', path or URL) -> FetchRequests; bad lines and unreadable lists are rejects."""

    def process(self, item: tuple[str, str]):
        from apache_beam.io.filesystems import FileSystems

        what, where = item
        if what == KIND_SITEMAP and feeds.is_http_url(where):
            urls, kind = [where], KIND_SITEMAP
        elif what == KIND_FEED and feeds.is_http_url(where):
            urls, kind = [where], KIND_FEED
        else:
            try:
                with FileSystems.open(where, compression_type="uncompressed") as f:
                    data = f.read()
            except OSError as exc:
                yield _reject(where, None, Stage.DISCOVER, Reason.UNREADABLE, f"{type(exc).__name__}: {exc}")
                return
            try:
                urls = feeds.parse_feed_list(data) if what == KIND_FEED else feeds.parse_url_list(data.decode("utf-8-sig"))
            except feeds.FeedError as exc:
                yield _reject(where, None, Stage.DISCOVER, Reason.FEED_MALFORMED, exc.detail)
                return
            except UnicodeDecodeError as exc:
                yield _reject(where, None, Stage.DISCOVER, Reason.BAD_ENCODING, f"URL list is not UTF-8: {exc}")
                return
            kind = {KIND_FEED: KIND_FEED, KIND_SITEMAP: KIND_SITEMAP}.get(what, KIND_PAGE)
        for number, url in enumerate(urls, start=1):
            try:
                yield FetchRequest(check_url(url), kind, where)
            except FetchError as exc:
                yield _reject(url, f"{where}:{number}", Stage.DISCOVER, exc.reason, exc.detail)


class FetchSlotFn(beam.DoFn):
    """(slot, [FetchRequest]) -> Fetched docs; NotModified and failures are counted, failures also rejected.

    Tagged outputs: rejects (Reject), validators (row dicts), hosts ((host, HostState)), stats ((host, counts)).
    """

    def __init__(self, cfg: FetchConfig, stage_name: str):
        self.cfg = cfg
        self.stage_name = stage_name
        self.pm = None

    def setup(self):
        self.pm = make_pool_manager(self.cfg)

    def teardown(self):
        if self.pm is not None:
            self.pm.clear()

    def process(self, element, validators, prior_hosts):
        _, requests = element
        # Sorted so a run is reproducible; the same URL asked twice is fetched once.
        unique = {r.url: r for r in sorted(requests, key=lambda r: (r.url, r.kind, r.origin))}
        fetcher = SlotFetcher(self.cfg, self.pm, validators, prior_hosts)
        for outcome in fetcher.run(unique.values()):
            if isinstance(outcome, Fetched):
                Metrics.counter("fetch", "fetched").inc()
                yield outcome
            elif isinstance(outcome, NotModified):
                Metrics.counter("fetch", "not_modified").inc()
            else:
                yield _reject(outcome.request.url, outcome.request.origin, Stage.FETCH, outcome.reason, outcome.detail)
        for row in fetcher.new_validators:
            yield beam.pvalue.TaggedOutput(VALIDATORS, row)
        for state in fetcher.host_states():
            yield beam.pvalue.TaggedOutput(HOSTS, (state.host, state))
        for host, counts in fetcher.stats.items():
            yield beam.pvalue.TaggedOutput(STATS, (host, counts))


class DiscoverFn(beam.DoFn):
    """Fetched feed/sitemap -> FetchRequests for its entries (pages, or sitemaps of an index); rejects otherwise."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes

    def process(self, doc: Fetched):
        try:
            requests, problems = discover(doc, self.max_bytes)
        except feeds.FeedError as exc:
            yield _reject(doc.request.url, doc.request.origin, Stage.DISCOVER, Reason.FEED_MALFORMED, exc.detail)
            return
        for problem in problems:
            yield _reject(doc.request.url, doc.request.origin, Stage.DISCOVER, Reason.INVALID_URL, problem)
        Metrics.counter("discover", "links").inc(len(requests))
        yield from requests


class ToRawArticleFn(beam.DoFn):
    def process(self, doc: Fetched):
        try:
            yield to_raw_article(doc)
        except RejectError as exc:
            yield _reject(doc.request.url, doc.request.origin, Stage.FETCH, exc.reason, exc.detail)


def _merge_hosts(states: Iterable[HostState]) -> HostState:
    states = list(states)
    last = max(s.last_request_end for s in states)
    with_robots = [s for s in states if s.robots_text is not None or s.robots_error is not None]
    base = with_robots[0] if with_robots else states[0]
    return dataclasses.replace(base, last_request_end=last)


def _sum_counts(dicts: Iterable[dict]) -> dict:
    total: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + v
    return total


class FetchUrls(beam.PTransform):
    """PCollection[FetchRequest] -> {docs: Fetched, rejects, validators, hosts, stats}.

    Requests are keyed by a stable slot of their host and grouped, so all requests to one host are
    fetched sequentially by one DoFn call at the configured rate, at most `concurrency` requests are
    in flight at once, and different hosts proceed in parallel. `prior_hosts` (host -> HostState) carries
    robots.txt and the last contact time from an earlier fetch stage.
    """

    def __init__(self, cfg: FetchConfig, validators, prior_hosts, name: str):
        super().__init__()
        self.cfg, self.validators, self.prior_hosts, self.stage_name = cfg, validators, prior_hosts, name

    def expand(self, requests):
        slots = self.cfg.concurrency
        # (slot, FetchRequest) -> GroupByKey -> (slot, [FetchRequest])
        grouped = (
            requests
            | "KeyBySlot" >> beam.Map(lambda r: (slot_of(host_key(r.url), slots), r))
            | "GroupBySlot" >> beam.GroupByKey()
        )
        return grouped | "Fetch" >> beam.ParDo(
            FetchSlotFn(self.cfg, self.stage_name),
            validators=beam.pvalue.AsDict(self.validators),
            prior_hosts=beam.pvalue.AsDict(self.prior_hosts),
        ).with_outputs(REJECTS, VALIDATORS, HOSTS, STATS, main="docs")


@dataclasses.dataclass(frozen=True)
class FetchSources:
    """What the user asked to fetch: feed lists (OPML/text files or feed URLs), URL lists, sitemap URLs."""

    feeds: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.feeds or self.urls or self.sitemaps)

    def seeds(self) -> list[tuple[str, str]]:
        return [(KIND_FEED, f) for f in self.feeds] + [(KIND_PAGE, u) for u in self.urls] + [(KIND_SITEMAP, s) for s in self.sitemaps]


class FetchArticles(beam.PTransform):
    """Feeds, URL lists and sitemaps -> {articles: RawArticle, rejects: Reject, validators: row dict, stats: (host, counts)}.

    Three fetch stages, each a barrier for the next: feeds and sitemaps; sitemaps named by sitemap
    indexes; pages (URLs given directly plus every link discovered, deduplicated by canonical URL).
    Robots.txt verdicts and last-contact times flow from stage to stage, so a host's robots.txt is
    fetched once per run and its rate holds across stages. `state_glob` matches the validators files
    of earlier runs (ETag/Last-Modified per URL; the newest row per URL wins).
    """

    def __init__(self, sources: FetchSources, cfg: FetchConfig, state_glob: str | None, max_bytes: int):
        super().__init__()
        self.sources, self.cfg, self.state_glob, self.max_bytes = sources, cfg, state_glob, max_bytes

    def expand(self, pbegin):
        cfg = self.cfg
        p = pbegin.pipeline
        globs = [self.state_glob] if self.state_glob else []
        validators = (
            p
            | "StateGlob" >> beam.Create(globs)
            | "ReadValidators" >> beam.FlatMap(read_validators)
            # (url, validators) -> GroupByKey -> newest per url
            | "NewestValidators" >> beam.CombinePerKey(newest)
        )
        seeds = (
            p
            | "Seeds" >> beam.Create(self.sources.seeds())
            | "SeedRequests" >> beam.ParDo(SeedRequestsFn()).with_outputs(REJECTS, main="requests")
        )
        no_hosts = p | "NoHosts" >> beam.Create([])
        split = seeds["requests"] | "ByKind" >> beam.Partition(lambda r, n: 0 if r.kind == KIND_PAGE else 1, 2)

        docs1 = split[1] | "FetchFeeds" >> FetchUrls(cfg, validators, no_hosts, "feeds")
        found1 = docs1["docs"] | "Discover" >> beam.ParDo(DiscoverFn(self.max_bytes)).with_outputs(REJECTS, main="requests")
        more = found1["requests"] | "ByKind2" >> beam.Partition(lambda r, n: 0 if r.kind == KIND_PAGE else 1, 2)
        hosts1 = docs1[HOSTS] | "Hosts1" >> beam.CombinePerKey(_merge_hosts)

        docs2 = more[1] | "FetchSitemaps" >> FetchUrls(cfg, validators, hosts1, "sitemaps")
        found2 = docs2["docs"] | "Discover2" >> beam.ParDo(DiscoverFn(self.max_bytes)).with_outputs(REJECTS, main="requests")
        hosts2 = (docs1[HOSTS], docs2[HOSTS]) | "AllHosts2" >> beam.Flatten() | "Hosts2" >> beam.CombinePerKey(_merge_hosts)

        pages = (
            (split[0], more[0], found2["requests"])
            | "AllPages" >> beam.Flatten()
            # (canonical url, FetchRequest) -> GroupByKey -> one request per page, the one with most metadata
            | "KeyByCanonical" >> beam.Map(lambda r: (canonical_url(r.url) or r.url, r))
            | "OnePerPage" >> beam.CombinePerKey(_best_request)
            | "Requests" >> beam.Values()
        )
        docs3 = pages | "FetchPages" >> FetchUrls(cfg, validators, hosts2, "pages")
        articles = docs3["docs"] | "ToRawArticle" >> beam.ParDo(ToRawArticleFn()).with_outputs(REJECTS, main="articles")

        rejects = (
            seeds[REJECTS], docs1[REJECTS], found1[REJECTS], docs2[REJECTS], found2[REJECTS], docs3[REJECTS], articles[REJECTS],
        ) | "FetchRejects" >> beam.Flatten()
        new_validators = (docs1[VALIDATORS], docs2[VALIDATORS], docs3[VALIDATORS]) | "AllValidators" >> beam.Flatten()
        stats = (
            (docs1[STATS], docs2[STATS], docs3[STATS])
            | "AllStats" >> beam.Flatten()
            | "StatsPerHost" >> beam.CombinePerKey(_sum_counts)
        )
        return {"articles": articles["articles"], REJECTS: rejects, VALIDATORS: new_validators, STATS: stats}


def _best_request(requests: Iterable[FetchRequest]) -> FetchRequest:
    """Of several requests for one page, the one carrying the most metadata (ties: smallest URL, origin)."""
    def score(r: FetchRequest):
        return (-sum(v is not None for v in (r.title, r.published_at, r.author, r.language)), r.url, r.origin)

    return min(requests, key=score)


class WriteFetchState(beam.PTransform):
    """{validators, stats} -> `<staging>/_state/http_validators/part-*.parquet` and `<staging>/_fetch_hosts.json`."""

    def __init__(self, staging_dir: str, run_id: str):
        super().__init__()
        self.staging_dir, self.run_id = staging_dir.rstrip("/"), run_id

    def expand(self, outputs):
        run_id = self.run_id
        (
            outputs[VALIDATORS]
            | "WithRunId" >> beam.Map(lambda r: {**r, "run_id": run_id})
            | "WriteValidators" >> beam.io.WriteToParquet(
                f"{self.staging_dir}/{VALIDATORS_DIR}/part", VALIDATORS_SCHEMA, file_name_suffix=".parquet", codec="zstd", num_shards=1
            )
        )
        return (
            outputs[STATS]
            | "HostsToDict" >> beam.combiners.ToDict()
            | "HostsJson" >> beam.Map(lambda d: json.dumps(d, sort_keys=True))
            | "WriteHosts" >> beam.io.WriteToText(f"{self.staging_dir}/{HOST_COUNTS_FILE}", num_shards=1, shard_name_template="")
        )
