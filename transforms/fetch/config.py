"""The fetcher's settings: politeness, timeouts, size caps, retries and address safety, validated at construction."""
from __future__ import annotations

import dataclasses
import ipaddress

DEFAULT_USER_AGENT = "newsbeam/0.1 (news ingestion pipeline; +https://pypi.org/project/newsbeam/)"


@dataclasses.dataclass(frozen=True)
class FetchConfig:
    """How the fetcher behaves. Defaults are conservative: one request per second per host.

    robots.txt is always respected (RFC 9309): there is no setting to ignore it.
    """

    # Sent with every request; its first word is the product token robots.txt groups are matched against. Not blank.
    user_agent: str = DEFAULT_USER_AGENT
    # Requests per second to one host, counted from the end of one response to the next request; > 0.
    rate_per_host: float = 1.0
    # At most this many requests in flight across all workers (hosts are spread over this many slots); >= 1.
    concurrency: int = 8
    connect_timeout: float = 10.0  # seconds to wait for a connection; > 0
    read_timeout: float = 30.0  # seconds to wait for each socket read; > 0
    total_timeout: float = 120.0  # seconds one whole response may take, so a slow drip cannot hold a slot; > 0
    max_body_bytes: int = 10_000_000  # largest body accepted, after decompression; >= 1
    max_redirects: int = 5  # redirects followed per URL; >= 0
    retries: int = 3  # extra attempts after a 429, a 5xx or a connection error; >= 0
    backoff: float = 1.0  # seconds before the first retry, doubling each time; >= 0
    max_backoff: float = 60.0  # the doubling stops at this many seconds; >= 0
    max_retry_after: float = 120.0  # seconds; a longer Retry-After gives up on the URL instead of stalling; >= 0
    max_crawl_delay: float = 30.0  # seconds; a robots.txt Crawl-delay is honoured up to this; >= 0
    # Allow hosts that resolve to private, loopback, link-local, multicast or reserved addresses.
    allow_private_addresses: bool = False
    allow_networks: tuple[str, ...] = ()  # CIDRs allowed even when private addresses are not

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
        for name in ("max_backoff", "max_retry_after", "max_crawl_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 seconds")
        for cidr in self.allow_networks:
            ipaddress.ip_network(cidr, strict=False)  # raises ValueError for a bad network
        if not self.user_agent.strip():
            raise ValueError("user_agent must not be empty")

    @property
    def interval(self) -> float:
        """Seconds between the end of one response from a host and the next request to it."""
        return 1.0 / self.rate_per_host

    @property
    def robots_agent(self) -> str:
        """The product token robots.txt groups are matched against (`newsbeam` for the default agent)."""
        return self.user_agent.split("/", 1)[0].split()[0]
