"""Which file kinds newsbeam reads, told apart by file name, or named for every file by the run (--format)."""
from __future__ import annotations

import posixpath

TEXT = "text"  # a whole .txt file is one article
HTML = "html"  # a whole .html/.htm file is one page
JSONL = "jsonl"  # JSON Lines: one article per line
WARC = "warc"  # a web archive: one page per HTML response record
AUTO = "auto"  # the kind each file's extension names (the default)
FORMATS = (AUTO, TEXT, HTML, JSONL, WARC)  # the values of --format

EXTENSIONS = {".txt": TEXT, ".html": HTML, ".htm": HTML, ".jsonl": JSONL, ".ndjson": JSONL, ".warc": WARC}
SUPPORTED = ("newsbeam reads .txt, .html/.htm[.gz], .jsonl/.ndjson[.gz] and .warc[.gz]; "
             "--format names the kind of files with other names")  # the detail of an unsupported_format reject


def check_format(input_format: str) -> str:
    """`input_format` if it is one of FORMATS; else ValueError."""
    if input_format not in FORMATS:
        raise ValueError(f"input format must be one of {', '.join(FORMATS)}, got {input_format!r}")
    return input_format


def detect_format(path: str, input_format: str = AUTO) -> tuple[str | None, bool]:
    """(kind, gzipped) of a file: kind is 'text', 'html', 'jsonl', 'warc' or None (unsupported). `input_format`
    other than 'auto' is the kind of every file, whatever its extension; a name ending in .gz is gzipped either
    way."""
    name = posixpath.basename(path).lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    if input_format != AUTO:
        return check_format(input_format), gz
    ext = posixpath.splitext(name)[1]
    return EXTENSIONS.get(ext), gz
