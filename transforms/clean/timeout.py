"""A time limit per page: HTML is cleaned in a child process, which is killed when one page takes too long.

A thread cannot be stopped while lxml or a regular expression runs in C, and a signal reaches only the main
thread, which Beam workers do not run bundles in; a child process can always be killed. The child is a fresh
interpreter (`python -c ...child_main()`, not multiprocessing, which would import the caller's main
script again in it) started on the first page and again after a kill; pickled frames go over its stdin/stdout.
"""
from __future__ import annotations

import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import traceback

from schemas.records import CleanArticle, RawArticle
from schemas.rejects import Reason, RejectError
from transforms.clean.article import clean_article
from transforms.clean.config import CleanConfig

_READY, _OK, _REJECT, _BUG = "ready", "ok", "reject", "bug"
# Seconds a new child may take to import the cleaner before it counts as broken.
START_TIMEOUT_S = 120.0
_HEADER = struct.Struct("!Q")
_CHILD = "from transforms.clean.timeout import child_main; child_main()"


def _write(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read(stream):
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("the other side closed the pipe")
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe")
    return pickle.loads(data)


def _log_levels() -> dict[str, int]:
    """The levels set on the parent's loggers (the pipeline quiets the extraction libraries' per-page warnings)."""
    levels = {name: lg.level for name, lg in logging.root.manager.loggerDict.items()
              if isinstance(lg, logging.Logger) and lg.level != logging.NOTSET}
    levels[""] = logging.root.level
    return levels


def _serve(inp, out) -> None:
    """The child's loop: the parent's logger levels, then (RawArticle, CleanConfig) frames in and (status, payload)
    frames out, until None or a closed pipe. It says it is ready first, once its imports are done, so start-up never
    counts against a page's time limit."""
    for name, level in _read(inp).items():
        logging.getLogger(name or None).setLevel(level)
    # The libraries the cleaner imports on first use (extract.py), imported before the child says it is ready.
    import htmldate  # noqa: F401
    import trafilatura  # noqa: F401
    import trafilatura.metadata  # noqa: F401
    import trafilatura.utils  # noqa: F401

    _write(out, (_READY, None))
    while True:
        try:
            job = _read(inp)
        except EOFError:
            return
        if job is None:
            return
        raw, cfg = job
        try:
            reply = (_OK, clean_article(raw, cfg))
        except RejectError as exc:
            reply = (_REJECT, (exc.reason.value, exc.detail))
        except Exception:  # noqa: BLE001 - a bug: sent to the parent, which raises it there
            reply = (_BUG, traceback.format_exc())
        _write(out, reply)


class TimeLimitedCleaner:
    """clean_article with a time limit: `clean()` returns the article, raises RejectError (the page's own, or
    extraction_timeout after `seconds`), or RuntimeError for a bug in the child. Not picklable: build it in
    DoFn.setup() and close() it in teardown()."""

    def __init__(self, seconds: float):
        if seconds <= 0:
            raise ValueError("the time limit must be > 0 seconds")
        self.seconds = seconds
        self._proc: subprocess.Popen | None = None

    def _start(self) -> None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self._proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        _write(self._proc.stdin, _log_levels())
        if not self._wait(START_TIMEOUT_S) or _read(self._proc.stdout)[0] != _READY:
            self._kill()
            raise RuntimeError(f"the cleaning child process did not start within {START_TIMEOUT_S:g} s")

    def _wait(self, seconds: float) -> bool:
        readable, _, _ = select.select([self._proc.stdout], [], [], seconds)
        return bool(readable)

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(5)
            for stream in (self._proc.stdin, self._proc.stdout):
                stream.close()
        self._proc = None

    def clean(self, raw: RawArticle, cfg: CleanConfig) -> CleanArticle:
        if self._proc is None or self._proc.poll() is not None:
            self._kill()
            self._start()
        try:
            _write(self._proc.stdin, (raw, cfg))
            if not self._wait(self.seconds):
                self._kill()
                raise RejectError(Reason.EXTRACTION_TIMEOUT, f"cleaning the page took more than {self.seconds:g} s")
            status, payload = _read(self._proc.stdout)
        except (EOFError, BrokenPipeError):
            self._kill()
            raise RejectError(Reason.EXTRACTION_FAILED, "the cleaning process died on this page") from None
        if status == _OK:
            return payload
        if status == _REJECT:
            raise RejectError(Reason(payload[0]), payload[1])
        raise RuntimeError(f"cleaning {raw.source_uri} failed in the child process:\n{payload}")

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            try:
                _write(self._proc.stdin, None)
                self._proc.wait(2)
            except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
                pass
        self._kill()


# With this environment variable set (by bench/profile.py), the child runs under cProfile and writes its
# statistics to `<value>-<pid>.prof` when it ends, so a profile of a run also sees the cleaning.
PROFILE_ENV = "NEWSBEAM_CHILD_PROFILE"


def child_main() -> None:
    """The child process's entry point. Frames go to the real stdout; anything a library prints goes to stderr
    instead of into a frame."""
    frames = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    prefix = os.environ.get(PROFILE_ENV)
    if not prefix:
        _serve(sys.stdin.buffer, frames)
        return
    import cProfile
    import time

    profiler = cProfile.Profile(time.process_time)  # CPU time: waiting for the next page is not counted
    profiler.enable()
    try:
        _serve(sys.stdin.buffer, frames)
    finally:
        profiler.disable()
        profiler.dump_stats(f"{prefix}-{os.getpid()}.prof")
