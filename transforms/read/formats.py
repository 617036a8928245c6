"""Which file kinds newsbeam reads, told apart by file name."""
from __future__ import annotations

import posixpath

TEXT = "text"  # a whole .txt file is one article
HTML = "html"  # a whole .html/.htm file is one page
JSONL = "jsonl"  # JSON Lines: one article per line
WARC = "warc"  # a web archive: one page per HTML response record

EXTENSIONS = {".txt": TEXT, ".html": HTML, ".htm": HTML, ".jsonl": JSONL, ".ndjson": JSONL, ".warc": WARC}
SUPPORTED = "newsbeam reads .txt, .html/.htm[.gz], .jsonl/.ndjson[.gz] and .warc[.gz]"  # the detail of an unsupported_format reject


def detect_format(path: str) -> tuple[str | None, bool]:
    """(kind, gzipped) from a file name: kind is 'text', 'html', 'jsonl', 'warc' or None."""
    name = posixpath.basename(path).lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    ext = posixpath.splitext(name)[1]
    return EXTENSIONS.get(ext), gz
