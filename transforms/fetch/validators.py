"""Conditional-GET state: validators (ETag / Last-Modified) read from earlier runs, sent back, and kept anew."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

from schemas.records import UTC
from transforms.parquet import read_table
from transforms.urls import canonical_url


def read_validators(pattern: str) -> Iterator[tuple[str, dict]]:
    """(url, {etag, last_modified, fetched_at}) rows of every validators file matching `pattern`."""
    from apache_beam.io.filesystems import FileSystems

    for m in FileSystems.match([pattern])[0].metadata_list:
        with FileSystems.open(m.path) as f:
            table = read_table(f, columns=["url", "etag", "last_modified", "fetched_at"])
        for row in table.to_pylist():
            yield row["url"], {"etag": row["etag"], "last_modified": row["last_modified"], "fetched_at": row["fetched_at"]}


def newest(values: Iterable[dict]) -> dict:
    """Of one URL's validators from several runs, the most recently fetched."""
    return max(values, key=lambda v: v["fetched_at"])


def validator_key(url: str) -> str:
    """Validators are kept per canonical URL, so tracking parameters do not split one page's state."""
    return canonical_url(url) or url


def conditional_headers(validators: dict, url: str) -> dict:
    """If-None-Match / If-Modified-Since for `url` from what earlier runs saw (none for an unknown URL)."""
    known = validators.get(validator_key(url))
    headers = {}
    if known:
        if known.get("etag"):
            headers["If-None-Match"] = known["etag"]
        if known.get("last_modified"):
            headers["If-Modified-Since"] = known["last_modified"]
    return headers


def validator_row(url: str, headers: dict) -> dict | None:
    """The validators row of a 200 response at `url` (lower-case `headers`), or None when it sent neither."""
    etag, modified = headers.get("etag"), headers.get("last-modified")
    if not (etag or modified):
        return None
    return {"url": validator_key(url), "etag": etag, "last_modified": modified, "fetched_at": dt.datetime.now(UTC)}
