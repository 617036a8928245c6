"""The `newsbeam` command: `newsbeam run ...` and `newsbeam sql ...`."""
from __future__ import annotations

import argparse
import logging
import sys

USAGE = """usage: newsbeam <command> [options]

commands:
  run    read articles, strip boilerplate, deduplicate into stories, write Parquet
         (newsbeam run --help lists every option)
  sql    query the output tables with DuckDB
         (newsbeam sql --output out/ "SELECT site, count(*) FROM articles GROUP BY site")
"""


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


def _run(argv: list[str]) -> int:
    if any(a in ("-h", "--help") for a in argv):
        from pipeline.options import help_parser

        help_parser("newsbeam run").print_help()
        return 0
    from pipeline.main import UsageError, run

    try:
        run(argv)
    except UsageError as exc:
        print(f"newsbeam run: error: {exc}", file=sys.stderr)
        return 2
    return 0


def _sql(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="newsbeam sql",
        description="Run SQL over the output tables. Views: articles, stories, rejects, runs "
        "(each over <output>/<table>/**/*.parquet, all runs; filter on run_id for one run).",
    )
    parser.add_argument("--output", default="out", help="The output directory of `newsbeam run` (default: out).")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table", help="How to print rows (default: table).")
    parser.add_argument("--max-rows", type=int, default=100, help="Rows shown in table format (default: 100).")
    parser.add_argument("query", help="A DuckDB SQL query, e.g. \"SELECT count(*) FROM articles\".")
    args = parser.parse_args(argv)
    import duckdb

    from pipeline.sql import run_sql

    try:
        run_sql(args.output, args.query, args.format, args.max_rows)
    except (FileNotFoundError, duckdb.Error) as exc:
        print(f"newsbeam sql: error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
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
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        return _run(rest)
    if command == "sql":
        return _sql(rest)
    print(f"newsbeam: unknown command {command!r}\n\n{USAGE}", file=sys.stderr, end="")
    return 2


if __name__ == "__main__":
    sys.exit(main())
