"""The fetch stage: feeds, sitemaps and URL lists fetched politely and safely into RawArticles (FetchArticles),
and the state it leaves for later runs (WriteFetchState).

Politeness: robots.txt (RFC 9309, Crawl-delay) per host, one request at a time per host with at least
`1 / rate_per_host` seconds between the end of one response and the next request, retries with
exponential backoff honouring Retry-After (scheduler.py). Safety: only http(s); every address a host
name resolves to is checked before connecting, on every hop (client.py). Conditional GET: ETag /
Last-Modified seen on earlier runs are sent back; a 304 is counted, not an article (validators.py).
"""
from transforms.fetch.config import FetchConfig
from transforms.fetch.records import FetchSources
from transforms.fetch.transform import FetchArticles, WriteFetchState

__all__ = ["FetchArticles", "FetchConfig", "FetchSources", "WriteFetchState"]
