"""The polite per-host scheduler: many hosts interleaved in one slot, each host contacted at most once per
interval (or its robots.txt Crawl-delay), one request in flight, redirects and retries with backoff."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import urljoin, urlsplit

from schemas.records import UTC
from schemas.rejects import Reason, RejectError
from transforms.fetch.client import REDIRECT_STATUSES, FetchError, Response, http_get
from transforms.fetch.config import FetchConfig
from transforms.fetch.hints import HINT_HEADERS
from transforms.fetch.records import KIND_PAGE, Failed, Fetched, FetchRequest, HostState, NotModified
from transforms.fetch.robots import Robots, robots_state
from transforms.fetch.validators import conditional_headers, validator_row
from transforms.http_headers import is_html_type, parse_retry_after, split_content_type, status_reason
from transforms.urls import check_url, politeness_key

log = logging.getLogger("newsbeam.fetch")  # the CLI shows INFO of the "newsbeam" logger (progress lines)


def backoff_delay(cfg: FetchConfig, attempt: int, retry_after: float | None) -> float:
    """Wait before retry number `attempt` (1-based): exponential, at least what Retry-After asks."""
    delay = min(cfg.max_backoff, cfg.backoff * (2 ** (attempt - 1)))
    return max(delay, retry_after or 0.0)


def slot_of(host: str, slots: int) -> int:
    """A stable slot for a host: all requests to one host are fetched by one DoFn call."""
    return int.from_bytes(hashlib.blake2b(host.encode(), digest_size=4).digest(), "big") % slots


def _wants_body(kind: str) -> Callable[[int, dict], bool]:
    """Whether a response's body is worth reading: a 200/203, and for a page only HTML (or no type)."""
    def wants(status: int, headers: dict) -> bool:
        return status in (200, 203) and (kind != KIND_PAGE or is_html_type(split_content_type(headers.get("content-type"))[0]))

    return wants


def _via(url: str, original: str) -> str:
    return "" if url == original else f" (at {url})"


@dataclasses.dataclass
class _Call:
    """What a request's job asks the scheduler for next: GET `url`, not before `not_before` (a backoff)."""

    url: str
    kind: str
    not_before: float = 0.0


@dataclasses.dataclass
class _Host:
    """One host's queue of calls and what the scheduler knows of it."""

    key: str  # politeness key: host[:port]
    last_end: float  # when the last response from this host ended (wall clock)
    robots: Robots | None = None
    state: HostState | None = None
    blocked: str | None = None  # set when the host's own address is refused: every call fails without contact
    calls: deque = dataclasses.field(default_factory=deque)  # (job, _Call)


class SlotFetcher:
    """Fetch a batch of requests: hosts are interleaved, every host is contacted at most once per interval
    (and never before the time an earlier stage last contacted it), and one request is in flight at a time.

    `run()` yields Fetched / NotModified / Failed outcomes; afterwards `host_states()` gives each host's
    state, `stats` the per-host counts and `new_validators` the validators rows of the 200 responses.
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
        self.poll_responses: dict[str, tuple[int, dict]] = {}  # feed/sitemap url -> (status, hint headers)

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
        for hop in range(self.cfg.max_redirects + 1):  # noqa: B007 - `hop` is read after the loop
            outcome = self._send(h, url, {}, lambda status, _h: 200 <= status < 300)
            if isinstance(outcome, Response) and outcome.status in REDIRECT_STATUSES and outcome.headers.get("location"):
                try:
                    url = check_url(urljoin(url, outcome.headers["location"]))
                except RejectError as exc:  # robots.txt redirected to a URL that is not http(s)
                    outcome = FetchError(exc.reason, exc.detail)
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
        """A generator: yields the _Call it needs next, is sent its Response or FetchError, returns the outcome."""
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
            if req.kind != KIND_PAGE:  # a feed's or sitemap's last response: its poll hints (transforms/fetch/hints.py)
                self.poll_responses[req.url] = (status, {k: result.headers[k] for k in HINT_HEADERS if k in result.headers})
            if status in REDIRECT_STATUSES and result.headers.get("location"):
                redirects += 1
                try:
                    target = check_url(urljoin(url, result.headers["location"]))
                except RejectError as exc:
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
                    detail = f"HTTP {status} with Retry-After {retry_after:.0f}s, above the cap of {cfg.max_retry_after:.0f}s"
                    return Failed(req, status_reason(status), detail + _via(url, req.url))
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
            row = validator_row(url, result.headers)
            if row is not None:
                self.new_validators.append(row)
            return Fetched(req, url, status, ctype, charset, result.body, dt.datetime.now(UTC))

    def _enqueue(self, job, call: _Call) -> None:
        self._host(politeness_key(call.url)).calls.append((job, call))

    def run(self, requests: Iterable[FetchRequest], progress_every: float = 30.0) -> Iterator:
        """Fetch every request (robots.txt first for each new host); yields one outcome per request."""
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
            if h.robots is None and h.blocked is None:  # robots.txt first, once per host
                self._fetch_robots(h, scheme)
                continue
            h.calls.popleft()
            if h.blocked is not None:
                result = FetchError(Reason.BLOCKED_ADDRESS, h.blocked)
            elif not h.robots.allowed(call.url):
                result = FetchError(h.robots.refusal_reason, h.robots.error or f"robots.txt of {h.key} disallows it for {self.cfg.robots_agent!r}")
            else:
                result = self._send(h, call.url, conditional_headers(self.validators, call.url), _wants_body(call.kind))
            try:
                self._enqueue(job, job.send(result))
            except StopIteration as stop:
                outcome = stop.value
                done += 1
                origin_host = politeness_key(outcome.request.url)
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
        """Every host this fetcher met, with its robots.txt verdict and last contact time (for later stages)."""
        out = []
        for h in self.hosts.values():
            last = max(h.last_end, 0.0)
            out.append(dataclasses.replace(h.state, last_request_end=last) if h.state else HostState(h.key, last))
        return out


