"""Copy components: candidate edges (shared key, verified LSH bucket) and their union-find resolution."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator

import numpy as np
import xxhash

from schemas.records import DUP_EXACT, DUP_NEAR, CleanArticle
from transforms.copies.config import CopyConfig
from transforms.copies.minhash import BAND_DTYPE, jaccard_estimate
from transforms.fingerprints import rank_key


@dataclasses.dataclass(frozen=True, slots=True)
class CopyCandidate:
    """What the component step needs of an article: its rank (best first), id and exact-copy keys."""

    rank: tuple
    article_id: str
    content_hash: str
    canonical_url: str | None
    shingles: int = 0  # distinct shingles of its comparison text (0: not known)


def candidate_of(a: CleanArticle, shingles: int = 0) -> CopyCandidate:
    """The light record an article takes through copy detection (no text)."""
    return CopyCandidate(rank_key(a.published_at, a.word_count, a.article_id), a.article_id, a.content_hash, a.canonical_url, shingles)


# Band entries (band index, band digest, article ref) are shuffled in packed batches over this many shards.
BAND_SHARDS = 64
BAND_ENTRY = np.dtype([("band", "<u8"), ("digest", "<u8"), ("ref", "<u8")])


def article_ref(article_id: str) -> int:
    """A 63-bit number standing for the article in the packed band entries (a shuffle key: a signed 64-bit int)."""
    return xxhash.xxh64_intdigest(article_id.encode("utf-8")) >> 1


def band_entries(digests: list[np.ndarray], refs: list[int]) -> Iterator[tuple[int, bytes]]:
    """(shard, packed BAND_ENTRY bytes) for the band digests (uint64[bands] each) of the articles `refs`: every
    entry of one band bucket lands in the same shard."""
    if not refs:
        return
    d = np.stack(digests)
    n, bands = d.shape
    entries = np.empty(n * bands, dtype=BAND_ENTRY)
    entries["band"] = np.tile(np.arange(bands, dtype=np.uint64), n)
    entries["digest"] = d.reshape(-1)
    entries["ref"] = np.repeat(np.asarray(refs, dtype=np.uint64), bands)
    shard = (entries["digest"] % np.uint64(BAND_SHARDS)).astype(np.int64)
    order = np.argsort(shard, kind="stable")
    entries, shard = entries[order], shard[order]
    cuts = np.flatnonzero(np.diff(shard)) + 1
    for part in np.split(np.arange(len(entries)), cuts):
        yield int(shard[part[0]]), entries[part].tobytes()


def colliding_buckets(blobs: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(article ref, bucket) for each member of each band bucket of 2+ distinct articles in one shard's packed
    entries; a bucket is named by its members (their sorted refs as bytes), so the many bands that two copies
    share make one bucket, not one each (what a bucket yields depends on its members only)."""
    parts = [np.frombuffer(b, dtype=BAND_ENTRY) for b in blobs]
    if not parts:
        return
    e = np.unique(np.concatenate(parts))  # sorted by (band, digest, ref), repeated entries once
    if len(e) < 2:
        return
    same = (e["band"][1:] == e["band"][:-1]) & (e["digest"][1:] == e["digest"][:-1])
    starts = np.flatnonzero(np.concatenate([[True], ~same]))
    ends = np.append(starts[1:], len(e))
    seen = set()
    for lo, hi in zip(starts.tolist(), ends.tolist()):
        if hi - lo >= 2:
            refs = e["ref"][lo:hi]
            bucket = refs.tobytes()
            if bucket in seen:
                continue
            seen.add(bucket)
            for ref in refs.tolist():
                yield ref, bucket


def packed_candidate(c: CopyCandidate, banded: bytes) -> tuple:
    """A CopyCandidate and its band signature as plain values, as they cross the bucket join."""
    return c.rank, c.article_id, c.content_hash, c.canonical_url, c.shingles, banded


def unpacked_candidate(p: tuple) -> tuple[CopyCandidate, bytes]:
    rank, aid, content_hash, url, shingles, banded = p
    return CopyCandidate(tuple(rank), aid, content_hash, url, shingles), banded


def bucket_members(kv) -> Iterator[tuple[bytes, tuple]]:
    """(ref, {bucket: [bucket bytes], info: [packed candidate]}) -> (bucket, packed candidate) for each distinct bucket
    of the ref (buckets of equal members from several shards meet here)."""
    _, grouped = kv
    for bucket in sorted(set(grouped["bucket"])):
        for info in grouped["info"]:
            yield bucket, info


def is_near_copy(jaccard: float, n_a: int, n_b: int, cfg: CopyConfig) -> bool:
    """Whether two texts with this (estimated) shingle Jaccard and n_a, n_b distinct shingles are near copies.

    Jaccard >= cfg.threshold; or, for a pair sharing at least cfg.min_shared_shingles shingles (their number
    follows from the Jaccard and the two counts), the shorter text's shingles are cfg.containment found in the
    longer one (a copy with its lead or last sentence cut: Jaccard alone misses it on a short story, where one
    sentence is a large share of the shingles), or neither text has more than cfg.max_changed_words words'
    worth of shingles outside the other (a brief with a few words reworded: each changed word costs
    shingle_size shingles, a large share of a brief's). Unknown counts (0) leave only the Jaccard test.
    """
    if jaccard >= cfg.threshold:
        return True
    if n_a <= 0 or n_b <= 0:
        return False
    shared = jaccard * (n_a + n_b) / (1.0 + jaccard)
    if shared < cfg.min_shared_shingles:
        return False
    return shared / min(n_a, n_b) >= cfg.containment or max(n_a, n_b) - shared <= cfg.max_changed_words * cfg.shingle_size


def star_edges(members: Iterable[CopyCandidate]) -> Iterator[tuple[CopyCandidate, CopyCandidate]]:
    """Edges from the best-ranked member of a group to every other member (enough for components)."""
    ms = sorted(set(members), key=lambda n: n.rank)
    for other in ms[1:]:
        yield ms[0], other


def verified_bucket_edges(members: Iterable[tuple[CopyCandidate, bytes]], cfg: CopyConfig) -> Iterator[tuple[CopyCandidate, CopyCandidate]]:
    """Edges from each LSH bucket's best member to members that are near copies of it (is_near_copy; members
    carry 16-bit band signatures, see minhash.band_signature)."""
    ms = sorted({n.article_id: (n, s) for n, s in members}.values(), key=lambda x: x[0].rank)
    if len(ms) < 2:
        return
    head, head_sig = ms[0][0], np.frombuffer(ms[0][1], dtype=BAND_DTYPE)
    for node, sig in ms[1:]:
        if is_near_copy(jaccard_estimate(head_sig, np.frombuffer(sig, dtype=BAND_DTYPE)), head.shingles, node.shingles, cfg):
            yield head, node


def resolve_copies(edges: Iterable[tuple[CopyCandidate, CopyCandidate]]) -> dict[str, tuple[str, str]]:
    """Union-find over copy edges -> {article_id: (duplicate_of, duplicate_kind)} for every non-kept member.

    Each component keeps its best-ranked member; a member is an exact copy of it when they share the
    content hash or the canonical URL, a near copy otherwise.
    """
    parent: dict[str, str] = {}
    nodes: dict[str, CopyCandidate] = {}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        for n in (a, b):
            if n.article_id not in parent:
                parent[n.article_id] = n.article_id
                nodes[n.article_id] = n
        ra, rb = find(a.article_id), find(b.article_id)
        if ra != rb:
            if nodes[rb].rank < nodes[ra].rank:
                ra, rb = rb, ra
            parent[rb] = ra
    out: dict[str, tuple[str, str]] = {}
    for aid in parent:
        root = find(aid)
        if root == aid:
            continue
        keep, n = nodes[root], nodes[aid]
        out[aid] = (root, DUP_EXACT if n.content_hash == keep.content_hash else DUP_NEAR)
    return out
