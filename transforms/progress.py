"""Progress of a run: counting DoFns in the pipeline, and the board in the driver that shows their counts.

Each counting DoFn instance logs its running count at most once a second as a machine-readable line
(`nb-progress <stage> <instance> <count>`) on the "newsbeam" logger. In-process those records reach the
driver's logger directly; from worker processes Beam's logging service relays them (pipeline/local.py
re-logs them on the same logger). The driver's `ProgressBoard`, a filter on that logger, takes these lines
out of the log, sums the latest count of every instance per stage, and shows them: on a terminal as one
live line rewritten in place (inputs read / cleaned / written, rate, ETA when the number of inputs is
known), elsewhere as a log line every `every_s` seconds. Runs shorter than `quiet_s` show nothing.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import threading
import time

import apache_beam as beam

LOGGER = "newsbeam"
# How this module's log records are located in a worker's relayed log entries (pipeline/local.py matches it):
# derived from the module name, so moving the file moves it too.
LOG_SOURCE = os.path.join(*__name__.split(".")) + ".py"

READ, CLEANED, WRITTEN = "read", "cleaned", "written"
STAGES = (READ, CLEANED, WRITTEN)
EMIT_EVERY_S = 1.0  # a counting instance reports at most this often
LOG_EVERY_S = 10.0  # without a terminal, the board logs a line this often
QUIET_S = 3.0  # nothing is shown before a run has taken this long
_MESSAGE = re.compile(r"nb-progress (\w+) (\S+) (\d+)")
# Inputs that hold many articles each: the number of files then says nothing about the number of inputs.
MULTI_RECORD_SUFFIXES = (".jsonl", ".jsonl.gz", ".warc", ".warc.gz", ".arc", ".arc.gz")


def progress_message(stage: str, instance: str, count: int) -> str:
    return f"nb-progress {stage} {instance} {count}"


def parse_progress(message: str) -> tuple[str, str, int] | None:
    """(stage, instance, count) of a progress line, or None for any other message."""
    m = _MESSAGE.fullmatch(message)
    return (m.group(1), m.group(2), int(m.group(3))) if m else None


def expected_inputs(paths) -> int | None:
    """The number of inputs when every file holds one article (HTML, text); None when some hold many."""
    paths = list(paths)
    if not paths or any(p.lower().endswith(MULTI_RECORD_SUFFIXES) for p in paths):
        return None
    return len(paths)


class ProgressFn(beam.DoFn):
    """Counts elements for `stage` and logs the running count at most every `every_s` seconds; passes them on
    unchanged when `passthrough`, else outputs nothing (a side branch that only counts)."""

    def __init__(self, stage: str, every_s: float = EMIT_EVERY_S, passthrough: bool = True):
        self.stage = stage
        self.every_s = every_s
        self.passthrough = passthrough

    def setup(self):
        self.log = logging.getLogger(LOGGER)
        self.instance = f"{os.getpid()}.{id(self):x}"
        self.count = self.reported = 0
        self.last = time.monotonic()

    def _report(self):
        self.last = time.monotonic()
        self.reported = self.count
        self.log.info(progress_message(self.stage, self.instance, self.count))

    def process(self, element):
        self.count += 1
        if time.monotonic() - self.last >= self.every_s:
            self._report()
        if self.passthrough:
            yield element

    def finish_bundle(self):
        if self.count != self.reported:
            self._report()


class ReportProgress(beam.PTransform):
    """PCollection[T] -> the same PCollection[T], counted as `stage` (read, cleaned or written) on the board."""

    def __init__(self, stage: str, every_s: float = EMIT_EVERY_S):
        super().__init__()
        self.stage = stage
        self.every_s = every_s

    def expand(self, pcoll):
        return pcoll | beam.ParDo(ProgressFn(self.stage, self.every_s))


class CountProgress(beam.PTransform):
    """PCollection[T] -> nothing: a side branch that counts `stage` on the board without touching the data."""

    def __init__(self, stage: str, every_s: float = EMIT_EVERY_S):
        super().__init__()
        self.stage = stage
        self.every_s = every_s

    def expand(self, pcoll):
        return pcoll | beam.ParDo(ProgressFn(self.stage, self.every_s, passthrough=False))


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


class ProgressBoard(logging.Filter):
    """On the "newsbeam" logger while a run lasts: takes the progress lines out of the log and shows their sums."""

    def __init__(self, stream, total: int | None = None, live: bool | None = None, every_s: float = LOG_EVERY_S,
                 quiet_s: float = QUIET_S, clock=time.monotonic):
        super().__init__()
        self.stream = stream
        self.total = total
        self.live = stream.isatty() if live is None else live
        self.every_s = every_s
        self.quiet_s = quiet_s
        self.clock = clock
        self.start = self.last_log = clock()
        self.counts: dict[str, dict[str, int]] = {s: {} for s in STAGES}
        self.lock = threading.Lock()
        self.drawn = False  # a live line is on the terminal
        self.logged = False  # a log line was written (then the last counts are logged at the end too)

    def filter(self, record) -> bool:
        parsed = parse_progress(record.getMessage())
        with self.lock:
            if parsed is None:  # another message: make room for it on a terminal
                self._clear()
                return True
            stage, instance, count = parsed
            self.counts.setdefault(stage, {})[instance] = count
            return False

    def totals(self) -> dict[str, int]:
        with self.lock:
            return {stage: sum(by.values()) for stage, by in self.counts.items()}

    def line(self) -> str:
        """'read 1,234/3,000 · cleaned 1,100 · written 800 · 41.2/s · ETA 0:43 · 0:30 elapsed'."""
        n = self.totals()
        elapsed = self.clock() - self.start
        read = n.get(READ, 0)
        parts = [f"read {read:,}" + (f"/{self.total:,}" if self.total else ""), f"cleaned {n.get(CLEANED, 0):,}",
                 f"written {n.get(WRITTEN, 0):,}"]
        rate = read / elapsed if elapsed > 0 else 0.0
        parts.append(f"{rate:.1f}/s")
        if self.total and rate > 0:
            parts.append(f"ETA {_clock(max(self.total - read, 0) / rate)}")
        parts.append(f"{_clock(elapsed)} elapsed")
        return " · ".join(parts)

    def _clear(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False

    def tick(self) -> None:
        """Show the counts: redraw the live line, or log a line when `every_s` has passed since the last."""
        now = self.clock()
        if now - self.start < self.quiet_s:
            return
        text = self.line()
        if self.live:
            text = text[: max(shutil.get_terminal_size((100, 24)).columns - 1, 20)]  # a wrapped line cannot be redrawn
            with self.lock:
                self.stream.write("\r" + text + "\x1b[K")
                self.stream.flush()
                self.drawn = True
        elif now - self.last_log >= self.every_s:
            self.last_log = now
            self.logged = True
            logging.getLogger(LOGGER).info("progress: %s", text)

    def close(self) -> None:
        with self.lock:
            self._clear()

    def finish(self) -> None:
        """At the end of the run: the final counts, when progress lines were logged."""
        if self.logged and not self.live:
            self.logged = False
            logging.getLogger(LOGGER).info("progress: %s (done)", self.line())


class _MakeRoom(logging.Filter):
    """On a handler: clear the board's live line before the handler writes a log line."""

    def __init__(self, board: ProgressBoard):
        super().__init__()
        self.board = board

    def filter(self, record) -> bool:
        self.board.close()
        return True


@contextlib.contextmanager
def progress_board(stream, total: int | None = None, live: bool | None = None, every_s: float = LOG_EVERY_S,
                   redraw_s: float = 0.5):
    """While the block runs: a ProgressBoard on the "newsbeam" logger, ticked every `redraw_s` by a thread."""
    board = ProgressBoard(stream, total, live, every_s)
    logger = logging.getLogger(LOGGER)
    level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:  # the counts are INFO records: let them reach the board
        logger.setLevel(logging.INFO)
    logger.addFilter(board)
    clearer = _MakeRoom(board)  # lines of child loggers (newsbeam.fetch) pass the handlers, not the logger's filter
    for handler in logger.handlers:
        handler.addFilter(clearer)
    stop = threading.Event()

    def ticker():
        while not stop.wait(redraw_s):
            board.tick()

    thread = threading.Thread(target=ticker, name="newsbeam-progress", daemon=True)
    thread.start()
    try:
        yield board
    finally:
        stop.set()
        thread.join()
        logger.removeFilter(board)
        logger.setLevel(level)
        for handler in logger.handlers:
            handler.removeFilter(clearer)
        board.close()
        board.finish()
