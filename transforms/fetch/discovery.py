"""Discovery: a fetched feed or sitemap becomes new requests, and one request is chosen per page."""
from __future__ import annotations

from collections.abc import Iterable

from schemas.rejects import Reason, RejectError
from transforms.fetch import documents
from transforms.fetch.documents import DocumentError, Link
from transforms.fetch.records import KIND_FEED, KIND_PAGE, KIND_SITEMAP, Fetched, FetchRequest


def listed_urls(kind: str, data: bytes) -> list[str]:
    """The URLs of a seed list file: a feed list (OPML or one URL per line) for feeds, else a UTF-8 URL list.

    Raises RejectError: feed_malformed for a feed list that is not usable, bad_encoding for a URL list that is
    not UTF-8."""
    if kind == KIND_FEED:
        return documents.parse_feed_list(data)
    try:
        return documents.parse_url_list(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise RejectError(Reason.BAD_ENCODING, f"URL list is not UTF-8: {exc}") from exc


def page_requests(links: Iterable[Link], origin: str) -> list[FetchRequest]:
    """A page request per link, carrying the link's metadata (title, date, author, language, publication)."""
    return [
        FetchRequest(lk.url, KIND_PAGE, origin, 0, title=lk.title, published_at=lk.published_at, author=lk.author,
                     language=lk.language, site=lk.site)
        for lk in links
    ]


def discover(doc: Fetched, max_bytes: int) -> tuple[list[FetchRequest], list[str]]:
    """(new requests, problems) from a fetched feed or sitemap; raises DocumentError when it yields nothing usable.

    A feed and a sitemap name pages; a sitemap index names sitemaps (one level deep: an index named by an
    index is refused, as the sitemap protocol says). `problems` describe entries without a usable URL.
    """
    req = doc.request
    if req.kind == KIND_FEED:
        entries, problems = documents.parse_feed(doc.body, doc.url)
        return page_requests(entries, req.url), problems
    sitemap, problems = documents.parse_sitemap(doc.body, doc.url, max_bytes)
    if sitemap.is_index:
        if req.depth >= 1:
            raise DocumentError("a sitemap index named by a sitemap index (the sitemap protocol does not allow nesting)")
        return [FetchRequest(u, KIND_SITEMAP, req.url, req.depth + 1) for u in sitemap.sitemaps], problems
    return page_requests(sitemap.pages, req.url), problems


def best_request(requests: Iterable[FetchRequest]) -> FetchRequest:
    """Of several requests for one page, the one carrying the most metadata (ties: smallest URL, origin)."""
    return min(requests, key=lambda r: (-r.metadata_count(), r.url, r.origin))
