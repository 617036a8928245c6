"""The `newsbeam` command: one subcommand per module (`newsbeam run ...`, `newsbeam sql ...`), listed in COMMANDS."""
from __future__ import annotations

import importlib
import logging
import os
import sys

# name -> (module whose `command(argv) -> int` runs it, one line for the usage text)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("pipeline.main", "read articles, strip boilerplate, find copies and stories, write Parquet"),
    "sql": ("pipeline.sql", "query the output's views with DuckDB (read-only)"),
    "stories": ("pipeline.stories", "the biggest or newest stories, one line each"),
    "report": ("pipeline.report", "write a self-contained HTML report of an output"),
    "export": ("pipeline.export", "write a query's rows to a CSV, JSONL or Parquet file"),
    "follow": ("pipeline.follow", "run committed incremental cycles every --every until stopped"),
    "compact": ("pipeline.compact", "merge the per-run files of each day into one per table and state"),
}


def usage() -> str:
    lines = ["usage: newsbeam <command> [options]   (newsbeam <command> --help explains each)", "", "commands:"]
    lines += [f"  {name:<9}{what}" for name, (_, what) in COMMANDS.items()]
    return "\n".join(lines) + "\n"


class _DropNoise(logging.Filter):
    """Drop two Beam warnings that are not problems for a newsbeam run.

    'apitools not found': Beam's optional Google Cloud clients, unused locally.
    'Discarding unparseable args': worker processes (multi_processing mode, remote runners) do not
    know newsbeam's own options; they need none of them, the driver uses them to build the pipeline.
    """

    NOISE = ("apitools not found", "Discarding unparseable args")

    def filter(self, record):
        message = record.getMessage()
        return not any(n in message for n in self.NOISE)


# Loggers the two messages are emitted on (logger filters apply where a record is created).
_NOISY_LOGGERS = ("", "apache_beam.options.pipeline_options", "apache_beam.runners.portability.local_job_service")


def _configure_logging() -> None:
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).addFilter(_DropNoise())
    from pipeline.local import LIBRARY_LOGGERS  # imports Beam: only once its noise filters are in place

    for name in LIBRARY_LOGGERS:  # per-page warnings; each such page has a reject row with the reason
        logging.getLogger(name).setLevel(logging.ERROR)
    progress = logging.getLogger("newsbeam")  # throttled progress lines from long runs (transforms/progress.py)
    progress.setLevel(logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s newsbeam %(message)s", "%H:%M:%S"))
    progress.addHandler(handler)
    progress.propagate = False


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), end="")
        return 0 if argv else 2
    if argv[0] == "--version":
        from pipeline import __version__

        print(f"newsbeam {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"newsbeam: unknown command {command!r}\n\n{usage()}", file=sys.stderr, end="")
        return 2
    _configure_logging()
    module = importlib.import_module(COMMANDS[command][0])
    return module.command(rest)


def entry() -> None:
    """The process's entry (`newsbeam ...`, `python -m pipeline ...`): exit with main()'s status.

    An interrupted run (130) has removed what it staged and said so; the process ends there, before the
    interpreter's teardown (Beam's threads winding down, C++ destructors, a signal arriving while the
    handlers are being reset) can turn the status into a death by signal (CI once saw -2 after the
    "interrupted" line). Other statuses take the normal exit.
    """
    from pipeline.status import INTERRUPTED

    code = main()
    if code == INTERRUPTED:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
