"""A time limit per page: HTML is cleaned in a child process, which is killed when one page takes too long.

A thread cannot be stopped while lxml or a regular expression runs in C, and a signal reaches only the main
thread, which Beam workers do not run bundles in; a child process can always be killed. The child is started
on the first page (spawned, so no lock of a threaded parent is copied into it) and again after a kill.
"""
from __future__ import annotations

import logging
import multiprocessing
import traceback

from schemas.records import CleanArticle, RawArticle
from schemas.rejects import Reason, RejectError
from transforms.clean.article import clean_article
from transforms.clean.config import CleanConfig

_READY, _OK, _REJECT, _BUG = "ready", "ok", "reject", "bug"
# Seconds a new child may take to import the cleaner before it counts as broken.
START_TIMEOUT_S = 120.0


def _log_levels() -> dict[str, int]:
    """The levels set on the parent's loggers (the pipeline quiets the extraction libraries' per-page warnings)."""
    levels = {name: lg.level for name, lg in logging.root.manager.loggerDict.items()
              if isinstance(lg, logging.Logger) and lg.level != logging.NOTSET}
    levels[""] = logging.root.level
    return levels


def _serve(conn, levels: dict[str, int]) -> None:
    """The child's loop: (RawArticle, CleanConfig) in, (status, payload) out, until None or a closed pipe. It takes
    the parent's logger levels and says it is ready once its imports are done, so start-up never counts against
    a page's time limit."""
    for name, level in levels.items():
        logging.getLogger(name or None).setLevel(level)
    conn.send((_READY, None))
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        raw, cfg = job
        try:
            conn.send((_OK, clean_article(raw, cfg)))
        except RejectError as exc:
            conn.send((_REJECT, (exc.reason.value, exc.detail)))
        except Exception:  # noqa: BLE001 - a bug: sent to the parent, which raises it there
            conn.send((_BUG, traceback.format_exc()))


class TimeLimitedCleaner:
    """clean_article with a time limit: `clean()` returns the article, raises RejectError (the page's own, or
    extraction_timeout after `seconds`), or RuntimeError for a bug in the child. Not picklable: build it in
    DoFn.setup() and close() it in teardown()."""

    def __init__(self, seconds: float):
        if seconds <= 0:
            raise ValueError("the time limit must be > 0 seconds")
        self.seconds = seconds
        self._ctx = multiprocessing.get_context("spawn")
        self._proc = None
        self._conn = None

    def _start(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(target=_serve, args=(child, _log_levels()), daemon=True, name="newsbeam-clean")
        self._proc.start()
        child.close()
        self._conn = parent
        if not parent.poll(START_TIMEOUT_S) or parent.recv()[0] != _READY:
            self._kill()
            raise RuntimeError(f"the cleaning child process did not start within {START_TIMEOUT_S:g} s")

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            self._conn.close()
        self._proc = self._conn = None

    def clean(self, raw: RawArticle, cfg: CleanConfig) -> CleanArticle:
        if self._proc is None or not self._proc.is_alive():
            self._kill()
            self._start()
        self._conn.send((raw, cfg))
        if not self._conn.poll(self.seconds):
            self._kill()
            raise RejectError(Reason.EXTRACTION_TIMEOUT, f"cleaning the page took more than {self.seconds:g} s")
        try:
            status, payload = self._conn.recv()
        except EOFError:
            self._kill()
            raise RejectError(Reason.EXTRACTION_FAILED, "the cleaning process died on this page") from None
        if status == _OK:
            return payload
        if status == _REJECT:
            raise RejectError(Reason(payload[0]), payload[1])
        raise RuntimeError(f"cleaning {raw.source_uri} failed in the child process:\n{payload}")

    def close(self) -> None:
        if self._conn is not None and self._proc is not None and self._proc.is_alive():
            try:
                self._conn.send(None)
                self._proc.join(2)
            except (BrokenPipeError, OSError):
                pass
        self._kill()
