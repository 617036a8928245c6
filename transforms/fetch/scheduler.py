"""The polite per-host scheduler: many hosts interleaved, each host contacted at most once per interval (or its
robots.txt Crawl-delay) with at most one request of its own in flight, up to `threads` requests in flight
in all, redirects and retries with backoff."""
from __future__ import annotations

import concurrent.futures as cf
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
from transforms.rejecting import internal_error_detail
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


def _join(base: str, location: str) -> str:
    """A redirect's target: `location` resolved against `base`; a Location that is no URL at all (an unclosed
    IPv6 bracket, say) is the request's RejectError, as a non-http(s) one is."""
    try:
        return urljoin(base, location)
    except ValueError as exc:
        raise RejectError(Reason.INVALID_URL, f"redirect to a malformed Location {location[:200]!r}: {exc}") from None


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
    (and never before the time an earlier stage last contacted it) and has at most one request in flight,
    and at most `threads` requests are in flight at once (each on a thread of a pool; the scheduling, the
    request generators and all bookkeeping stay on the calling thread).

    `run()` yields Fetched / NotModified / Failed outcomes; afterwards `host_states()` gives each host's
    state, `stats` the per-host counts and `new_validators` the validators rows of the 200 responses.
    """

    def __init__(self, cfg: FetchConfig, pm, validators: dict | None = None, prior_hosts: dict | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep, threads: int = 1):
        if threads < 1:
            raise ValueError("threads must be >= 1")
        self.threads = threads
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

    def _get(self, url: str, headers: dict, want_body) -> tuple[Response | FetchError, float]:
        """One GET (on a pool thread): its Response or FetchError, and when it ended."""
        try:
            result: Response | FetchError = http_get(self.pm, url, headers, self.cfg, want_body)
        except FetchError as exc:
            result = exc
        except Exception as exc:  # a bug, or a response the client did not expect: this request's reject, not the run's end
            result = FetchError(Reason.INTERNAL_ERROR, internal_error_detail(exc))
        return result, self.clock()

    def _robots_get(self, key: str, scheme: str) -> tuple[Response | FetchError, int, float | None, bool]:
        """robots.txt of host `key` with its redirects (on a pool thread): (outcome, requests sent, when the last
        ended, whether the host's own address is refused)."""
        url = f"{scheme}://{key}/robots.txt"
        outcome: Response | FetchError = FetchError(Reason.TOO_MANY_REDIRECTS, "robots.txt redirected too often")
        sent, ended = 0, None
        for hop in range(self.cfg.max_redirects + 1):  # noqa: B007 - `hop` is read after the loop
            outcome, ended = self._get(url, {}, lambda status, _h: 200 <= status < 300)
            if not (isinstance(outcome, FetchError) and outcome.reason == Reason.BLOCKED_ADDRESS):
                sent += 1  # a refused address is never contacted: nothing was sent
            if isinstance(outcome, Response) and outcome.status in REDIRECT_STATUSES and outcome.headers.get("location"):
                try:
                    url = check_url(_join(url, outcome.headers["location"]))
                except RejectError as exc:  # robots.txt redirected to a URL that is not http(s)
                    outcome = FetchError(exc.reason, exc.detail)
                    break
                continue
            break
        blocked = isinstance(outcome, FetchError) and outcome.reason == Reason.BLOCKED_ADDRESS and hop == 0
        return outcome, sent, ended, blocked

    def _robots_done(self, h: _Host, outcome: Response | FetchError, sent: int, ended: float | None, blocked: bool) -> None:
        """Take a host's robots.txt outcome into its state (on the scheduling thread)."""
        if ended is not None:
            h.last_end = ended
        for _ in range(sent):
            self._count(h.key, "requests")
        if blocked:
            h.blocked = outcome.detail  # the host itself is refused, not just its robots.txt
        if isinstance(outcome, FetchError) and outcome.reason == Reason.TOO_LARGE:
            outcome = FetchError(Reason.HTTP_STATUS, "robots.txt too large")  # treat as unreachable: disallow
        h.state = dataclasses.replace(robots_state(h.key, outcome, h.last_end), blocked=h.blocked)
        h.robots = Robots(h.state, self.cfg.robots_agent, self.cfg.max_crawl_delay)

    # -- one request's life: redirects, retries, status mapping --
    def _job(self, req: FetchRequest):
        """A generator: yields the _Call it needs next, is sent its Response or FetchError, returns the outcome;
        whatever handling a response raises ends this request as a Failed `internal_error`, never the fetch."""
        try:
            return (yield from self._steps(req))
        except Exception as exc:
            return Failed(req, Reason.INTERNAL_ERROR, internal_error_detail(exc))

    def _steps(self, req: FetchRequest):
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
                    target = check_url(_join(url, result.headers["location"]))
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
        self._total = self._done = self._failed = 0
        for req in requests:
            job = self._job(req)
            self._enqueue(job, next(job))
            self._total += 1
        last_progress = self.clock()
        # future -> (host, job): the job is None for a robots.txt fetch; a host is busy while it has one
        in_flight: dict[cf.Future, tuple[_Host, object]] = {}
        with cf.ThreadPoolExecutor(self.threads, thread_name_prefix="newsbeam-fetch") as pool:
            while True:
                busy = {h.key for h, _ in in_flight.values()}
                waiting = sorted((h for h in self.hosts.values() if h.calls and h.key not in busy), key=self._ready_at)
                next_at = None  # when the next waiting host may be contacted, if a thread is free for it
                for h in waiting:
                    if len(in_flight) >= self.threads:
                        break
                    if self._ready_at(h) > self.clock():
                        next_at = self._ready_at(h)
                        break
                    yield from self._start(h, pool, in_flight)
                if not in_flight:
                    if next_at is None:
                        if not any(h.calls for h in self.hosts.values()):
                            break
                        continue  # calls were queued by outcomes without a request (blocked, disallowed)
                    self.sleep(max(0.0, next_at - self.clock()))
                    continue
                timeout = None if next_at is None else max(0.0, next_at - self.clock())
                finished, _ = cf.wait(in_flight, timeout=timeout, return_when=cf.FIRST_COMPLETED)
                for future in finished:
                    h, job = in_flight.pop(future)
                    if job is None:
                        self._robots_done(h, *future.result())
                        continue
                    result, ended = future.result()
                    h.last_end = ended
                    if not (isinstance(result, FetchError) and result.reason == Reason.BLOCKED_ADDRESS):
                        self._count(h.key, "requests")  # a refused address is never contacted: nothing was sent
                    yield from self._advance(job, result)
                if self.clock() - last_progress >= progress_every:
                    last_progress = self.clock()
                    log.info("fetch: %d fetched, %d failed, %d remaining, %d hosts", self._done - self._failed, self._failed,
                             self._total - self._done, sum(1 for h in self.hosts.values() if h.calls))

    def _start(self, h: _Host, pool: cf.Executor, in_flight: dict) -> Iterator:
        """Start `h`'s next call on the pool (robots.txt first, once per host), or settle it without a request
        when the host is blocked or its robots.txt disallows the URL (yielding the outcome if the job ends)."""
        job, call = h.calls[0]
        if h.robots is None and h.blocked is None:
            in_flight[pool.submit(self._robots_get, h.key, urlsplit(call.url).scheme)] = (h, None)
            return
        h.calls.popleft()
        if h.blocked is not None:
            yield from self._advance(job, FetchError(Reason.BLOCKED_ADDRESS, h.blocked))
        elif not h.robots.allowed(call.url):
            detail = h.robots.error or f"robots.txt of {h.key} disallows it for {self.cfg.robots_agent!r}"
            yield from self._advance(job, FetchError(h.robots.refusal_reason, detail))
        else:
            future = pool.submit(self._get, call.url, conditional_headers(self.validators, call.url), _wants_body(call.kind))
            in_flight[future] = (h, job)

    def _advance(self, job, result: Response | FetchError) -> Iterator:
        """Send a call's result to its job: queue the job's next call, or count and yield its outcome."""
        try:
            self._enqueue(job, job.send(result))
        except StopIteration as stop:
            outcome = stop.value
            self._done += 1
            origin_host = politeness_key(outcome.request.url)
            if isinstance(outcome, Fetched):
                self._count(origin_host, "ok")
            elif isinstance(outcome, NotModified):
                self._count(origin_host, "not_modified")
            else:
                self._failed += 1
                self._count(origin_host, "failed")
            yield outcome

    def host_states(self) -> list[HostState]:
        """Every host this fetcher met, with its robots.txt verdict and last contact time (for later stages)."""
        out = []
        for h in self.hosts.values():
            last = max(h.last_end, 0.0)
            out.append(dataclasses.replace(h.state, last_request_end=last) if h.state else HostState(h.key, last))
        return out


