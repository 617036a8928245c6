"""robots.txt (RFC 9309): what a robots.txt response means for a host, and the verdicts for our user agent."""
from __future__ import annotations

from schemas.rejects import Reason
from transforms.fetch.client import FetchError, Response
from transforms.fetch.records import HostState

ROBOTS_MAX_BYTES = 512_000  # RFC 9309: parse at least the first 500 KiB
# Failures of robots.txt that say the host itself did not answer: its pages are rejected for that, not for robots.
HOST_DOWN = (Reason.CONNECTION_ERROR, Reason.TIMEOUT)


class Robots:
    """A host's robots.txt verdicts for our user agent (built from its HostState)."""

    def __init__(self, state: HostState, agent: str, max_crawl_delay: float):
        self.agent = agent
        self.error = state.robots_error
        # The reason of a page refused for the host's robots.txt: the host being down is said as such.
        self.refusal_reason = Reason(state.robots_error_reason) if state.robots_error_reason else Reason.ROBOTS_DISALLOWED
        self._parser = None
        self.crawl_delay = 0.0
        if state.robots_text:
            from protego import Protego

            self._parser = Protego.parse(state.robots_text)
            delay = self._parser.crawl_delay(agent)
            if delay:
                self.crawl_delay = min(float(delay), max_crawl_delay)

    def allowed(self, url: str) -> bool:
        """True when robots.txt lets our agent fetch `url` (never when robots.txt was unreachable)."""
        if self.error:
            return False
        return self._parser is None or self._parser.can_fetch(url, self.agent)


def robots_state(host: str, outcome: Response | FetchError, now: float) -> HostState:
    """What a robots.txt response means (RFC 9309 2.3.1): 2xx parse; 4xx allow all; 5xx or unreachable disallow all."""
    if isinstance(outcome, FetchError):
        down = outcome.reason.value if outcome.reason in HOST_DOWN else None
        return HostState(host, now, robots_error=f"robots.txt unreachable ({outcome.reason.value}: {outcome.detail}); "
                         "RFC 9309 says assume complete disallow", robots_error_reason=down)
    if 200 <= outcome.status < 300:
        return HostState(host, now, robots_text=outcome.body[:ROBOTS_MAX_BYTES].decode("utf-8", "replace"))
    if 400 <= outcome.status < 500 and outcome.status != 429:
        return HostState(host, now)
    return HostState(host, now, robots_error=f"robots.txt answered HTTP {outcome.status}; RFC 9309 says assume complete disallow")
