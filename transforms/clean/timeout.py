"""A time limit per page: HTML is cleaned in child processes, and a child is killed when one page takes too long.

A thread cannot be stopped while lxml or a regular expression runs in C, and a signal reaches only the main
thread, which Beam workers do not run bundles in; a child process can always be killed. A child is a fresh
interpreter (`python -c ...child_main()`, not multiprocessing, which would import the caller's main script
again in it) started on demand and again after a kill; pickled frames go over its stdin/stdout.
CleaningPool keeps several children busy with several pages in flight (the caller reads on while they clean);
TimeLimitedCleaner is one child, one page at a time.
"""
from __future__ import annotations

import collections
import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import time
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


def _frame(obj) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def _write(stream, obj) -> None:
    stream.write(_frame(obj))
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


class _Child:
    """One cleaning child as the pool sees it: its process, the frames still to write to it, and the pages it
    was given and has not answered yet (the first is being cleaned, since `started`)."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.ready = False  # True once the child said it finished its imports
        self.born = time.monotonic()
        self.outgoing = bytearray()  # frames not yet taken by the pipe (writes never block the parent)
        self.incoming = bytearray()  # bytes read of frames not yet complete
        self.pages: collections.deque = collections.deque()  # (token, raw, cfg): sent, not answered, in order
        self.started = 0.0  # when the first of `pages` started (its time limit counts from here)

    def frames(self):
        """The complete frames read so far, in order."""
        while len(self.incoming) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self.incoming)
            if len(self.incoming) < _HEADER.size + size:
                return
            data = bytes(self.incoming[_HEADER.size:_HEADER.size + size])
            del self.incoming[:_HEADER.size + size]
            yield pickle.loads(data)


# Bytes a pipe to or from a child may hold (Linux F_SETPIPE_SZ; at most /proc/sys/fs/pipe-max-size, 1 MiB by
# default), so a child's next page and its last answer wait in the pipe while the parent does other work.
_PIPE_BYTES = 1 << 20
_F_SETPIPE_SZ = 1031


def _widen(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, OSError):  # not Linux, or over the user's pipe budget: the default 64 KiB still works
        pass


class CleaningPool:
    """clean_article in `processes` child processes, with a time limit per page and several pages in flight.

    `submit(token, raw, cfg)` hands a page over and returns at once; `collect(keep)` returns the pages that are
    done as (token, outcome) pairs, in whatever order they finished, waiting until at most `keep` pages are still
    in flight. An outcome is the CleanArticle, or the exception its page ends in: a RejectError (the page's own;
    `extraction_timeout` after `seconds`; `extraction_failed` when its child died), or a RuntimeError for a bug in
    the child. A page over the limit costs only its own child, which is killed and started again; the other pages
    given to that child and not started yet go to the next free child. Each child holds at most
    `pages_per_child` pages (the one it cleans and the next, waiting in the pipe). Children start on the first
    page, so an unused pool costs nothing. The pool does no work between calls: pages move on while the caller is
    in submit() or collect(). Not picklable: build it in DoFn.setup() and close() it in teardown()."""

    def __init__(self, processes: int, seconds: float, pages_per_child: int = 2):
        if seconds <= 0:
            raise ValueError("the time limit must be > 0 seconds")
        if processes < 1 or pages_per_child < 1:
            raise ValueError("a cleaning pool needs at least one process and one page per process")
        self.processes = processes
        self.seconds = seconds
        self.pages_per_child = pages_per_child
        self._children: list[_Child | None] = [None] * processes
        self._queue: collections.deque = collections.deque()  # (token, raw, cfg) not given to a child yet
        self._done: list = []  # (token, outcome) not collected yet

    @property
    def in_flight(self) -> int:
        """Pages submitted whose outcome is not known yet."""
        return len(self._queue) + sum(len(c.pages) for c in self._children if c is not None)

    def pids(self) -> list[int]:
        """Process ids of the children running now (started on demand)."""
        return [c.proc.pid for c in self._children if c is not None]

    def submit(self, token, raw: RawArticle, cfg: CleanConfig) -> None:
        self._queue.append((token, raw, cfg))
        self._step(0.0)

    def collect(self, keep: int = 0) -> list:
        """(token, outcome) of every page done so far, after waiting until at most `keep` pages are in flight."""
        self._step(0.0)
        while self.in_flight > keep:
            self._step(None)
        done, self._done = self._done, []
        return done

    def clean(self, raw: RawArticle, cfg: CleanConfig) -> CleanArticle:
        """One page, waited for: its article, or the exception its outcome is, raised."""
        self.submit(None, raw, cfg)
        outcomes = [outcome for token, outcome in self.collect(0) if token is None]
        if isinstance(outcomes[-1], Exception):
            raise outcomes[-1]
        return outcomes[-1]

    # The pool's one loop: give queued pages to children with room, write what the pipes take, read answers,
    # end pages over their limit and children that died. `wait` None blocks until something happens (an answer,
    # a death, a limit reached); 0 only takes what is there.
    def _step(self, wait: float | None) -> None:
        self._deal()
        now = time.monotonic()
        deadline = None
        readers, writers = {}, {}
        for child in self._children:
            if child is None:
                continue
            readers[child.proc.stdout.fileno()] = child
            if child.outgoing:
                writers[child.proc.stdin.fileno()] = child
            if not child.ready:
                limit = child.born + START_TIMEOUT_S
            elif child.pages:
                limit = child.started + self.seconds
            else:
                continue
            deadline = limit if deadline is None else min(deadline, limit)
        if wait is None:
            timeout = None if deadline is None else max(0.0, deadline - now)
            if timeout is None and not readers:
                return
        else:
            timeout = wait
        readable, writable, _ = select.select(list(readers), list(writers), [], timeout)
        for fd in writable:
            if writers[fd] in self._children:  # not ended by an earlier event of this step
                self._flush(writers[fd])
        for fd in readable:
            if readers[fd] in self._children:
                self._receive(readers[fd])
        now = time.monotonic()
        for i, child in enumerate(self._children):
            if child is None:
                continue
            if not child.ready and now - child.born > START_TIMEOUT_S:
                self._end(i)
                raise RuntimeError(f"the cleaning child process did not start within {START_TIMEOUT_S:g} s")
            if child.ready and child.pages and now - child.started > self.seconds:
                token = child.pages.popleft()[0]
                self._finish(token, RejectError(Reason.EXTRACTION_TIMEOUT, f"cleaning the page took more than {self.seconds:g} s"))
                self._end(i)
        self._deal()

    def _deal(self) -> None:
        """Queued pages to the children with room, least loaded first; children started as needed."""
        while self._queue:
            free = [i for i, c in enumerate(self._children) if c is None or len(c.pages) < self.pages_per_child]
            if not free:
                return
            i = min(free, key=lambda k: 0 if self._children[k] is None else len(self._children[k].pages))
            child = self._children[i] or self._start(i)
            token, raw, cfg = page = self._queue.popleft()
            if not child.pages:
                child.started = time.monotonic()
            child.pages.append(page)
            child.outgoing += _frame((raw, cfg))
            self._flush(child)

    def _start(self, i: int) -> _Child:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                bufsize=0)
        for stream in (proc.stdin, proc.stdout):
            _widen(stream.fileno())
            os.set_blocking(stream.fileno(), False)
        child = self._children[i] = _Child(proc)
        child.outgoing += _frame(_log_levels())
        return child

    def _flush(self, child: _Child) -> None:
        if not child.outgoing:
            return
        try:
            written = os.write(child.proc.stdin.fileno(), child.outgoing)
        except BlockingIOError:
            return
        except (BrokenPipeError, OSError):
            self._died(child)
            return
        del child.outgoing[:written]

    def _receive(self, child: _Child) -> None:
        """Everything the child wrote so far (so an answer already written is never judged over its limit)."""
        while True:
            try:
                data = os.read(child.proc.stdout.fileno(), _PIPE_BYTES)
            except BlockingIOError:
                break
            if not data:
                self._take(child)
                self._died(child)
                return
            child.incoming += data
        self._take(child)

    def _take(self, child: _Child) -> None:
        """The outcomes of the complete answers read from `child`."""
        for status, payload in child.frames():
            if status == _READY:
                child.ready = True
                child.started = time.monotonic()  # start-up never counts against a page's limit
                continue
            token, raw, _ = child.pages.popleft()
            child.started = time.monotonic()
            if status == _OK:
                self._finish(token, payload)
            elif status == _REJECT:
                self._finish(token, RejectError(Reason(payload[0]), payload[1]))
            else:
                self._finish(token, RuntimeError(f"cleaning {raw.source_uri} failed in the child process:\n{payload}"))

    def _died(self, child: _Child) -> None:
        """A child that closed its pipe: its current page is a reject, the pages behind it go to other children."""
        if child not in self._children:  # already ended
            return
        i = self._children.index(child)
        if not child.ready:
            self._end(i)
            raise RuntimeError("the cleaning child process ended before it was ready")
        if child.pages:
            token = child.pages.popleft()[0]
            self._finish(token, RejectError(Reason.EXTRACTION_FAILED, "the cleaning process died on this page"))
        self._end(i)

    def _finish(self, token, outcome) -> None:
        self._done.append((token, outcome))

    def _end(self, i: int) -> None:
        """Kill child i; the pages it held and had not started go back to the front of the queue."""
        child, self._children[i] = self._children[i], None
        if child is None:
            return
        _stop(child.proc, kill=True)
        while child.pages:
            self._queue.appendleft(child.pages.pop())

    def close(self) -> None:
        """End every child (asked to stop, killed if it does not); pages in flight are dropped."""
        for i, child in enumerate(self._children):
            if child is None:
                continue
            self._children[i] = None
            _stop(child.proc, kill=False)
        self._queue.clear()


def _stop(proc: subprocess.Popen, kill: bool) -> None:
    if not kill and proc.poll() is None:
        try:
            os.set_blocking(proc.stdin.fileno(), True)
            proc.stdin.write(_frame(None))
            proc.wait(2)
        except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
            pass
    if proc.poll() is None:
        proc.kill()
    proc.wait(5)
    for stream in (proc.stdin, proc.stdout):
        stream.close()


class TimeLimitedCleaner(CleaningPool):
    """clean_article with a time limit in one child, one page at a time: `clean()` returns the article, raises
    RejectError (the page's own, or extraction_timeout after `seconds`), or RuntimeError for a bug in the child.
    Not picklable: build it in DoFn.setup() and close() it in teardown()."""

    def __init__(self, seconds: float):
        super().__init__(1, seconds, pages_per_child=1)


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
