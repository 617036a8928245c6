"""The read stage: input files (.txt, .html[.gz], .jsonl[.gz], .warc[.gz]) as RawArticle records or rejects."""
from transforms.read.files import DEFAULT_MAX_BYTES
from transforms.read.transform import ReadArticles

__all__ = ["DEFAULT_MAX_BYTES", "ReadArticles"]
