"""Quality benchmarks against the labelled dev sets (never copied into the project).

    python -m bench.quality extraction --eval-dir ../shared/eval
    python -m bench.quality events --eval-dir ../shared/eval
"""
from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="which", required=True)
    ext = sub.add_parser("extraction", help="boilerplate removal: shingle P/R/F1 of the pipeline vs trafilatura baselines")
    ev = sub.add_parser("events", help="same-event stories: B-cubed and pairwise P/R/F1, plus near-duplicate checks")
    for p in (ext, ev):
        p.add_argument("--eval-dir", required=True, help="path to shared/eval")
    args, rest = parser.parse_known_args(argv)
    if args.which == "extraction":
        from bench import quality_extraction

        return quality_extraction.main(["--eval-dir", args.eval_dir, *rest])
    from bench import quality_events

    return quality_events.main(["--eval-dir", args.eval_dir, *rest])


if __name__ == "__main__":
    sys.exit(main())
