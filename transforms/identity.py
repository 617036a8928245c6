"""Record identity: the stable article id, and the source whose template lines are learned together."""
from __future__ import annotations

import hashlib
import posixpath

from transforms.urls import identity_host


def content_id(source_uri: str, content: str) -> str:
    """Stable article id: the same content at the same source gives the same id on every run."""
    h = hashlib.blake2b(digest_size=8)
    h.update(source_uri.encode("utf-8", "surrogatepass"))
    h.update(b"\x00")
    h.update(content.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def source_key(site: str | None, url: str | None, path: str) -> str:
    """Which source an article's template lines are learned with: its site, else its host, else its folder."""
    if site:
        return "site:" + site.strip().lower()
    host = identity_host(url)
    if host:
        return "host:" + host
    return "dir:" + posixpath.dirname(path)
