"""The records moving through the fetch stage: what to fetch, a request, its outcomes, a host's state."""
from __future__ import annotations

import dataclasses
import datetime as dt

from schemas.rejects import Reason

# What a request is expected to be (FetchRequest.kind).
KIND_FEED = "feed"  # an RSS/Atom/RDF feed: its entries' pages are fetched
KIND_SITEMAP = "sitemap"  # a sitemap or sitemap index: its pages (or sitemaps) are fetched
KIND_PAGE = "page"  # an HTML article page: it becomes a RawArticle


@dataclasses.dataclass(frozen=True)
class FetchSources:
    """What the user asked to fetch: feed lists (OPML/text files or feed URLs), URL lists, sitemap URLs."""

    feeds: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.feeds or self.urls or self.sitemaps)

    def seeds(self) -> list[tuple[str, str]]:
        """(kind, path or URL) of everything asked for: feeds, then URL lists (kind page), then sitemaps."""
        return [(KIND_FEED, f) for f in self.feeds] + [(KIND_PAGE, u) for u in self.urls] + [(KIND_SITEMAP, s) for s in self.sitemaps]


@dataclasses.dataclass(frozen=True)
class FetchRequest:
    """One URL to fetch, what it is expected to be, where it came from, and metadata found with it."""

    url: str
    kind: str  # KIND_FEED | KIND_SITEMAP | KIND_PAGE
    origin: str  # the list file, feed or sitemap that named it
    depth: int = 0  # sitemap nesting: 0 for a sitemap given by the user, 1 for one named by an index
    # Metadata of the feed entry or news sitemap entry that named a page (fallbacks for the page's own).
    title: str | None = None
    published_at: dt.datetime | None = None
    author: str | None = None
    language: str | None = None
    site: str | None = None  # the publication's name (a feed's title, a news sitemap's <news:name>)

    def metadata_count(self) -> int:
        """How many metadata fields came with the request (the request with most wins among copies)."""
        return sum(v is not None for v in (self.title, self.published_at, self.author, self.language, self.site))


@dataclasses.dataclass(frozen=True)
class Fetched:
    """A 200 (or 203) response: the body (decompressed) and what is needed to use it."""

    request: FetchRequest
    url: str  # final URL after redirects
    status: int
    content_type: str
    charset: str | None
    body: bytes
    fetched_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class NotModified:
    """A 304 to a conditional GET: the document is unchanged since an earlier run (counted, not an article)."""

    request: FetchRequest
    url: str


@dataclasses.dataclass(frozen=True)
class Failed:
    """A request that gave no document, with the reject reason and a detail saying why."""

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
    robots_error_reason: str | None = None  # why robots.txt was unreachable when the host never answered (connection_error, timeout)
    blocked: str | None = None  # set: the host's address is refused

    @property
    def knows_robots(self) -> bool:
        """True once robots.txt was read (or found unreachable) for this host."""
        return self.robots_text is not None or self.robots_error is not None


def merge_host_states(states) -> HostState:
    """One host's states from several slots or stages: the latest contact time, and the robots.txt verdict
    of the first state that has one."""
    states = list(states)
    last = max(s.last_request_end for s in states)
    with_robots = [s for s in states if s.knows_robots]
    base = with_robots[0] if with_robots else states[0]
    return dataclasses.replace(base, last_request_end=last)
