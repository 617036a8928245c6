"""The address-guarded HTTP client: urllib3 connections that check every resolved address before connecting,
and one GET with size and time caps whose failures are FetchErrors with a reason."""
from __future__ import annotations

import dataclasses
import ipaddress
import socket
import threading
import time
from collections.abc import Callable

from schemas.rejects import Reason, RejectError
from transforms.fetch.config import FetchConfig
from transforms.rejecting import internal_error_detail

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class FetchError(RejectError):
    """An expected fetch failure with its reason code, and whether trying again may help."""

    def __init__(self, reason: Reason, detail: str, retryable: bool = False):
        super().__init__(reason, detail)
        self.retryable = retryable


class BlockedAddressError(Exception):
    """Raised while connecting when a host name resolves to a refused address. Deliberately not an OSError,
    so urllib3 does not treat it as a retryable connection problem."""


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
                raise BlockedAddressError(f"{host} resolves to {ip}, a {problem} address (fetch it with "
                                          f"--allow-private-addresses, or --allow-network {_network_hint(ip)})")
    return infos


class Deadline:
    """The wall-clock deadline of one request: when it passes, the request's socket is shut down, which ends a
    read that is blocked or fed one byte at a time (a per-read timeout never fires for a slow drip)."""

    _current = threading.local()  # the Deadline of the request this thread is making, if any

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._sock = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        Deadline._current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        with self._lock:
            self._sock = None  # the connection may go back to the pool: a late timer must not shut it
        Deadline._current.deadline = None

    @classmethod
    def watch(cls, sock) -> None:
        """Put `sock` (the connection the current request waits on) under the current request's deadline."""
        deadline = getattr(cls._current, "deadline", None)
        if deadline is not None:
            with deadline._lock:
                deadline._sock = sock
                if deadline.expired:
                    _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            if self._sock is not None:
                _shut(self._sock)


def _shut(sock) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's: also under TLS, from another thread
    except OSError:
        pass  # already closed


def _network_hint(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The CIDR of the one address, as --allow-network takes it."""
    return f"{ip}/{ip.max_prefixlen}"


class _CheckedConnectionMixin:
    """Resolve the host, check EVERY address, then connect only to checked addresses (no second lookup); the
    socket a response is read from is put under its request's Deadline."""

    allow_private = False
    allow_networks: tuple = ()

    def getresponse(self, *args, **kwargs):
        Deadline.watch(self.sock)
        return super().getresponse(*args, **kwargs)

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
            except TimeoutError as exc:
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
    """One HTTP response: status, headers (lower-case names) and the body when it was read."""

    status: int
    headers: dict  # lower-case names
    body: bytes = b""


def http_get(pm, url: str, headers: dict, cfg: FetchConfig, want_body: Callable[[int, dict], bool], clock=time.monotonic) -> Response:
    """One GET without redirects or retries. The body is read (with the size and time caps) only when
    `want_body(status, headers)` is True. Raises FetchError for what can go wrong on the wire.

    The whole request, headers and body, ends by `cfg.total_timeout` however slowly the server sends (timeout);
    an exception nothing names is an internal_error FetchError, so one URL never stops the others."""
    deadline = Deadline(cfg.total_timeout)
    try:
        with deadline:
            return _get(pm, url, headers, cfg, want_body, clock)
    except Exception as exc:
        if deadline.expired:
            raise FetchError(Reason.TIMEOUT, f"response took longer than the total timeout of {cfg.total_timeout}s") from exc
        if isinstance(exc, FetchError):
            raise
        raise FetchError(Reason.INTERNAL_ERROR, internal_error_detail(exc)) from exc


def _get(pm, url: str, headers: dict, cfg: FetchConfig, want_body: Callable[[int, dict], bool], clock) -> Response:
    """http_get without its deadline."""
    import urllib3
    from urllib3.exceptions import (
        ConnectTimeoutError,
        DecodeError,
        HTTPError,
        LocationParseError,
        NewConnectionError,
        ProtocolError,
        ReadTimeoutError,
        SSLError,
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
