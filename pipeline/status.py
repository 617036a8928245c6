"""Exit statuses a scheduler can trust, and the run status they come from."""
from __future__ import annotations

from schemas import counts as c
from schemas.rejects import Stage

OK = 0  # the run did what it was asked (rejects of single inputs included)
FAILED = 1  # the run failed: nothing of it was committed
USAGE = 2  # bad command line or options; nothing was run
ALL_SOURCES_FAILED = 3  # inputs were given and every one failed to be read or fetched; the run is committed
SOME_SOURCES_FAILED = 4  # more than --max_failed_share of the inputs failed to be read or fetched; committed
INTERNAL_ERROR = 5  # a record hit a bug (reason internal_error); the run is committed, the record is a reject
INTERRUPTED = 130  # stopped by Ctrl-C or SIGTERM; nothing of it was committed

EXIT_CODES = {"ok": OK, "all_sources_failed": ALL_SOURCES_FAILED, "some_sources_failed": SOME_SOURCES_FAILED,
              "internal_error": INTERNAL_ERROR}
SOURCE_STAGES = (Stage.READ, Stage.FETCH, Stage.DISCOVER)  # a reject there is an input that could not be had


def run_status(counts: dict, max_failed_share: float | None) -> tuple[str, str]:
    """(status, sentence) of a finished run from its counts: a bug first, then failed sources, else ok."""
    internal = counts.get(c.REJECTS_BY_REASON + "internal_error", 0)
    failed = sum(counts.get(c.REJECTS_AT_STAGE + s.value, 0) for s in SOURCE_STAGES)
    inputs = counts.get(c.ARTICLES, 0) + counts.get(c.REJECTS, 0)
    if internal:
        return "internal_error", f"{internal} record(s) hit an internal error (a bug; see rejects, reason internal_error)"
    if failed and not counts.get(c.ARTICLES, 0):
        return "all_sources_failed", f"every input failed to be read or fetched ({failed} of {inputs})"
    if failed and max_failed_share is not None and failed > max_failed_share * inputs:
        return "some_sources_failed", f"{failed} of {inputs} inputs failed to be read or fetched (above --max_failed_share {max_failed_share})"
    return "ok", "ok"

