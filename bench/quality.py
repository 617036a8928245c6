"""Quality benchmarks against the labelled dev sets (never copied into the project).

    python -m bench.quality extraction --eval-dir ../shared/eval   [--help for its options]
    python -m bench.quality events --eval-dir ../shared/eval       [--help for its options]
"""
from __future__ import annotations

import sys


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("extraction", "events"):
        print(__doc__.strip())
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    which, rest = argv[0], argv[1:]
    if which == "extraction":
        from bench import quality_extraction

        return quality_extraction.main(rest)
    from bench import quality_events

    return quality_events.main(rest)


if __name__ == "__main__":
    sys.exit(main())
