"""URL canonicalisation used before deduplication."""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from url_normalize import url_normalize

# Query parameters that only track the click, never change the page.
TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_ga", "ref", "ref_src", "cmpid", "ncid", "ocid", "smid", "share"}
)


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name.startswith("utm_") or name in TRACKING_PARAMS


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
