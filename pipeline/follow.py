"""`newsbeam follow`: committed incremental runs every interval until stopped, one summary line per cycle.

Each cycle is a child process `python -m pipeline run <the run options> --run_id <new> --poll_hints`, so a
cycle that fails (a server down, a bad feed, a bug) cannot take the follower down, and stopping is clean:
SIGTERM or SIGINT abandons the running cycle (its process group gets SIGTERM), removes what it left under the
output's lock (the views never showed it: a run is visible only once its `runs` row exists) and exits 0.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

from apache_beam.io.filesystems import FileSystems

from pipeline import commit, incremental
from pipeline.plan import UsageError, new_run_id, settings_from
from schemas.layout import OutputLayout
from schemas.records import UTC
from transforms.parquet import read_table

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Options that make no sense once per cycle: each cycle names itself and continues the output.
_REFUSED = ("--run_id", "--run-id", "--standalone")


def parse_interval(text: str) -> float:
    """Seconds of an interval like '10m', '30s', '1h', '1.5h' or '90' (seconds); raises ValueError."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text or "")
    if not m:
        raise ValueError(f"--every {text!r} is not an interval: use e.g. 30s, 10m, 1h or a number of seconds")
    seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if seconds <= 0:
        raise ValueError(f"--every {text!r} must be longer than 0")
    return seconds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbeam follow",
        description="Run committed incremental cycles into one --output until stopped (SIGTERM or Ctrl-C): each "
        "cycle is `newsbeam run` with the options given here, reading only new files and fetching only pages "
        "no earlier run ingested; feeds whose own hints (<ttl>, sy:updatePeriod, Cache-Control max-age, "
        "Retry-After) ask for less frequent polls are not requested before they are due.",
        epilog="Every other option is a `newsbeam run` option (--input, --feeds, --urls, --sitemap, --output, ...; "
        "see `newsbeam run --help`). --run_id and --standalone are refused: each cycle is a new incremental run.",
    )
    parser.add_argument("--every", default="10m", help="Time from the start of one cycle to the start of the next, "
                        "e.g. 30s, 10m, 1h (default: 10m). A cycle that takes longer is followed at once.")
    parser.add_argument("--cycles", type=int, default=0, help="Stop after this many cycles (default: 0, never).")
    return parser


class _Stop:
    """SIGTERM/SIGINT: remember it, forward SIGTERM to the running cycle's process group, wake the waiting loop."""

    def __init__(self):
        self.requested = False
        self.child: subprocess.Popen | None = None
        self._r, self._w = os.pipe()
        os.set_blocking(self._w, False)

    def __call__(self, signum, frame):
        self.requested = True
        if self.child is not None and self.child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.child.pid, signal.SIGTERM)
        with contextlib.suppress(BlockingIOError):
            os.write(self._w, b"x")

    def wait(self, seconds: float) -> None:
        """Wait up to `seconds`, or until a stop is requested."""
        if seconds > 0 and not self.requested:
            select.select([self._r], [], [], seconds)

    def close(self) -> None:
        os.close(self._r)
        os.close(self._w)


def _read_json(path: str) -> dict:
    if not FileSystems.exists(path):
        return {}
    with FileSystems.open(path) as f:
        return json.loads(f.read().decode("utf-8") or "{}")


def _runs_row(layout: OutputLayout, run_id: str) -> dict | None:
    path = layout.run_row(run_id)
    if not FileSystems.exists(path):
        return None
    with FileSystems.open(path) as f:
        rows = read_table(f).to_pylist()
    return rows[0] if rows else None


def cycle_line(number: int, row: dict, hosts: dict, seconds: float) -> str:
    """The one line a committed cycle prints."""
    copies = (row.get("exact_duplicate_count") or 0) + (row.get("near_duplicate_count") or 0)
    continued = row.get("continued_story_count") or 0
    requests = sum(h.get("requests", 0) for h in hosts.values())
    not_modified = sum(h.get("not_modified", 0) for h in hosts.values())
    return (f"cycle {number} {row['run_id']}: {row['article_count'] - copies} new articles, {copies} copies, "
            f"{row['story_count'] - continued} new stories, {continued} continued, {row['reject_count']} rejects, "
            f"{requests} requests, {not_modified} not modified (304), {seconds:.1f}s")


def _last_lines(path: str, n: int = 3) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [line.rstrip() for line in f if line.strip()]
    return " | ".join(lines[-n:]) or "no output"


def _clean_up(layout: OutputLayout, out) -> None:
    """Remove what an abandoned cycle left (under the output's lock, which its dead process no longer holds)."""
    try:
        with incremental.output_lock(layout, "follow-stop", open(os.devnull, "w")):
            removed = commit.remove_unpublished(layout)
    except incremental.LockHeld as exc:  # another writer is going: it removes what is left when it starts
        print(f"follow: left the abandoned cycle's files for the next run ({exc})", file=out, flush=True)
        return
    if removed:
        print(f"follow: removed what the abandoned cycle left ({', '.join(sorted(removed))})", file=out, flush=True)


def _run_cycle(number: int, run_argv: list[str], layout: OutputLayout, stop: _Stop, out) -> bool:
    """Run one cycle as a child process; print its line. False when it was abandoned by a stop."""
    run_id = new_run_id(dt.datetime.now(UTC))
    cmd = [sys.executable, "-m", "pipeline", "run", *run_argv, "--run_id", run_id, "--poll_hints"]
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="newsbeam-follow-") as tmp:
        log = os.path.join(tmp, "cycle.log")
        with open(log, "wb") as f:
            # A session of its own: a terminal's Ctrl-C reaches only the follower, which forwards it to the whole group.
            stop.child = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
            if stop.requested:  # a signal between the check in the loop and the start of the child
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(stop.child.pid, signal.SIGTERM)
            code = stop.child.wait()
            stop.child = None
        seconds = time.monotonic() - t0
        row = _runs_row(layout, run_id)  # committed also when it exits 3-5 (sources failed, a record hit a bug)
        if row is not None:
            line = cycle_line(number, row, _read_json(layout.fetch_hosts(run_id)), seconds)
            if code:
                line += f" (exit {code}: {row.get('status') or 'see the run'})"
            print(line, file=out, flush=True)
            return True
        if stop.requested:
            print(f"cycle {number} {run_id}: abandoned after {seconds:.1f}s (stop requested)", file=out, flush=True)
            _clean_up(layout, out)
            return False
        print(f"cycle {number} {run_id}: failed (exit {code}) after {seconds:.1f}s: {_last_lines(log)}", file=out, flush=True)
        return True


def follow(argv: list[str], out=sys.stdout) -> int:
    """Parse the follow options, check the run options once, then run cycles until stopped."""
    args, run_argv = _parser().parse_known_args(argv)
    refused = [a for a in run_argv if a.split("=", 1)[0] in _REFUSED]
    if refused:
        raise UsageError(f"{refused[0].split('=', 1)[0]} is not a follow option: each cycle is a new incremental run")
    try:
        every = parse_interval(args.every)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if args.cycles < 0:
        raise UsageError("--cycles must be 0 (never stop) or more")
    from apache_beam.options.pipeline_options import PipelineOptions

    layout = settings_from(PipelineOptions(run_argv)).layout  # the same checks a run makes, before the first cycle
    stop = _Stop()
    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    print(f"following into {layout.root} every {args.every} (SIGTERM or Ctrl-C stops)", file=out, flush=True)
    number = 0
    try:
        while not stop.requested:
            number += 1
            started = time.monotonic()
            if not _run_cycle(number, run_argv, layout, stop, out):
                break
            if args.cycles and number >= args.cycles:
                break
            stop.wait(every - (time.monotonic() - started))
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        stop.close()
    print(f"follow stopped after {number} cycle(s)", file=out, flush=True)
    return 0


def command(argv: list[str]) -> int:
    """`newsbeam follow ...`: 0 when stopped (by a signal or --cycles), 2 for a usage error."""
    if any(a in ("-h", "--help") for a in argv):
        _parser().print_help()
        return 0
    try:
        return follow(argv)
    except UsageError as exc:
        print(f"newsbeam follow: error: {exc}", file=sys.stderr)
        return 2
