"""URLs: validity, canonical form (identity of a page), identity host, and the politeness key of a host."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from url_normalize import url_normalize

from schemas.rejects import Reason, RejectError

# Query parameters that only track the click, never change the page.
TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_ga", "ref", "ref_src", "cmpid", "ncid", "ocid", "smid", "share"}
)


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name.startswith("utm_") or name in TRACKING_PARAMS


def check_url(url: str) -> str:
    """The URL stripped of its fragment, or RejectError(invalid_url) when it is not an absolute http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise RejectError(Reason.INVALID_URL, f"unparsable URL {url[:300]!r}: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise RejectError(Reason.INVALID_URL, f"only http and https are fetched, not {parts.scheme or 'a relative URL'}: {url[:300]!r}")
    if not parts.hostname:
        raise RejectError(Reason.INVALID_URL, f"URL without a host: {url[:300]!r}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def is_http_url(url: str | None) -> bool:
    """True for an absolute http(s) URL with a host."""
    if not url:
        return False
    try:
        parts = urlsplit(url.strip())
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return False


def canonical_url(url: str | None) -> str | None:
    """Scheme/host lower-cased, www., default port, fragment and tracking parameters dropped; None if not http(s)."""
    if not url or not url.strip().lower().startswith(("http://", "https://")):
        return None
    try:
        normal = url_normalize(url.strip())
        parts = urlsplit(normal)
    except (ValueError, UnicodeError):
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in parts.netloc:
        return None
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)))
    netloc = parts.netloc.lower()
    if netloc.startswith("www."):  # news sites serve the same article with and without www.
        netloc = netloc[4:]
    return urlunsplit((parts.scheme, netloc, parts.path or "/", query, ""))


def identity_host(url: str | None) -> str | None:
    """The host that identifies a publication: lower case, without port and a leading www.; None without one."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


def politeness_key(url: str) -> str:
    """`host[:port]` lower-cased: the unit of politeness (robots.txt and request rate are per authority)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal keeps its brackets, so `scheme://key/robots.txt` is a URL
        host = f"[{host}]"
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return host if port in (None, default) else f"{host}:{port}"
