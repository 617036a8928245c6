"""Candidate pairs for clustering: blocking keys (rare term, time slice), the one block a pair is scored in, its score.

Cost stays near-linear: blocking terms are in at most a small share of the corpus, dated articles
meet only within their time slices, and a (term, slice) block with more than max_block articles is
skipped (its pairs are scored in the next shared block, if any).

Memory stays near-linear too: the blocks are not shuffled one by one (an article is in about 30 of them,
and a shuffle holds each copy), but per shard (shard_of): all the blocks of one time slice are scored
together, so an article's vector crosses the shuffle once per slice it joins (1.5 on average), packed
(packed_vector). Each shard counts its own blocks, so the oversized blocks of a time slice need no global
step; only blocks with undated articles (slice None), spread over UNDATED_SHARDS by term, take their
oversized set from a count over all of them.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from transforms.stories.config import StoryConfig
from transforms.stories.dense import across_languages, mixed_similarity
from transforms.stories.vectors import ArticleVector, sparse_dot

# Shards of the blocks with undated articles (slice None): those blocks may hold every article, so they are
# spread by term (an article then joins up to this many more shards), > 0.
UNDATED_SHARDS = 8


def enough_shared(blocks_a: tuple, blocks_b: tuple, cfg: StoryConfig) -> bool:
    """The pair shares min_shared_terms blocking terms, or one when either article is short.

    A short article (a headline, a brief) has fewer rare terms than the block_terms quota, so all of
    them are blocking terms and one shared rare word is as telling as two in a full article.
    """
    need = cfg.min_shared_terms if min(len(blocks_a), len(blocks_b)) >= cfg.block_terms else 1
    return len(set(blocks_a) & set(blocks_b)) >= need


def within_window(ts_a: float | None, ts_b: float | None, window_s: float) -> bool:
    """The two times are at most a window apart, or either is undated."""
    return ts_a is None or ts_b is None or abs(ts_a - ts_b) <= window_s


def time_bucket(ts: float | None, cfg: StoryConfig) -> int | None:
    """Index of the time slice (two windows wide) holding ts; None when undated."""
    return None if ts is None else int(ts // (2 * cfg.window_days * 86400.0))


def time_slices(ts: float | None, cfg: StoryConfig) -> tuple:
    """The slices a dated article joins: its own, and the next one when it lies within one window of it.

    Two articles at most a window apart then share the later one's slice; an article joins 1.5
    slices on average. (None,) for an undated article.
    """
    b = time_bucket(ts, cfg)
    if b is None:
        return (None,)
    w = cfg.window_days * 86400.0
    return (b, b + 1) if ts >= (b + 1) * 2 * w - w else (b,)


def block_keys(v: ArticleVector, undated_exist: bool, cfg: StoryConfig) -> list[tuple]:
    """(term, time slice) keys of an article; (term, None) compares undated articles with all the others."""
    slices = time_slices(v.ts, cfg)
    if slices != (None,) and undated_exist:
        slices += (None,)
    return [(t, s) for t in v.blocks for s in slices]


def pair_block(a: ArticleVector, b: ArticleVector, oversized, cfg: StoryConfig) -> tuple | None:
    """The one block in which the pair (a, b) is scored: its smallest shared term whose block is not
    oversized, in the later article's slice (None when either is undated); None if there is none."""
    ba, bb = time_bucket(a.ts, cfg), time_bucket(b.ts, cfg)
    s = None if ba is None or bb is None else max(ba, bb)
    shared = sorted(set(a.blocks) & set(b.blocks))
    return next(((t, s) for t in shared if (t, s) not in oversized), None)


def _gram_pairs(ms: list[ArticleVector], min_edge: float) -> Iterator[tuple[int, int, float]]:
    """(i, j, similarity >= min_edge) for i < j: pairwise for a few members, one sparse product for many."""
    if len(ms) <= 6:
        for i in range(len(ms)):
            for j in range(i + 1, len(ms)):
                s = sparse_dot(ms[i].terms, ms[i].weights, ms[j].terms, ms[j].weights)
                if s >= min_edge:
                    yield i, j, s
        return
    from scipy import sparse

    lens = [len(v.terms) for v in ms]
    vocab, cols = np.unique(np.concatenate([v.terms for v in ms]), return_inverse=True)
    rows = np.repeat(np.arange(len(ms)), lens)
    vals = np.concatenate([v.weights for v in ms]).astype(np.float64)
    x = sparse.csr_matrix((vals, (rows, cols)), shape=(len(ms), max(len(vocab), 1)))
    sims = sparse.triu(x @ x.T, k=1).tocoo()
    keep = sims.data >= min_edge
    yield from zip(sims.row[keep].tolist(), sims.col[keep].tolist(), sims.data[keep].tolist())


def block_pairs(key: tuple, members: Iterable[ArticleVector], oversized, cfg: StoryConfig) -> Iterator[tuple[tuple, tuple, float]]:
    """Scored candidate pairs inside one (term, time slice) block, each pair scored in one block only
    and kept when it shares enough blocking terms (enough_shared). A pair of articles that both have a
    dense vector is scored on both views (dense.mixed_similarity)."""
    ms = sorted({v.article_id: v for v in members}.values(), key=lambda v: v.article_id)
    if len(ms) < 2:
        return
    window_s = cfg.window_days * 86400.0

    def candidate(a: ArticleVector, b: ArticleVector) -> bool:
        return (within_window(a.ts, b.ts, window_s) and pair_block(a, b, oversized, cfg) == key
                and enough_shared(a.blocks, b.blocks, cfg))

    def similarity(i: int, j: int, lexical: float) -> float:
        return mixed_similarity(lexical, ms[i].dense, ms[j].dense, cfg, ms[i].ts, ms[j].ts, across_languages(ms[i].language, ms[j].language),
                                not (ms[i].headline or ms[j].headline))

    if len(ms) <= 6:
        # A pair sharing k blocks meets in k of them but is scored in one: test that (cheap set
        # operations) before the dot product.
        scored = ((i, j, similarity(i, j, sparse_dot(ms[i].terms, ms[i].weights, ms[j].terms, ms[j].weights)))
                  for i in range(len(ms)) for j in range(i + 1, len(ms)) if candidate(ms[i], ms[j]))
        pairs = ((i, j, s) for i, j, s in scored if s >= cfg.min_edge)
    else:
        # With dense vectors a pair weak in words can still be strong: its words are not filtered first.
        lexical_floor = 0.0 if any(v.dense is not None for v in ms) else cfg.min_edge
        scored = ((i, j, similarity(i, j, s)) for i, j, s in _gram_pairs(ms, lexical_floor) if candidate(ms[i], ms[j]))
        pairs = ((i, j, s) for i, j, s in scored if s >= cfg.min_edge)
    for i, j, s in pairs:
        a, b = ms[i], ms[j]
        yield (a.article_id, a.rank, a.ts, a.headline), (b.article_id, b.rank, b.ts, b.headline), round(s, 9)


def shard_of(key: tuple) -> tuple:
    """The shard (shuffle key) in which the (term, time slice) block `key` is scored: its time slice; blocks
    with undated articles (slice None) are spread over UNDATED_SHARDS by term."""
    t, s = key
    return (s, 0) if s is not None else (None, t % UNDATED_SHARDS)


def shard_keys(v: ArticleVector, shard: tuple) -> list[tuple]:
    """The blocks of `v` that are scored in `shard` (block_keys restricted to it)."""
    s, part = shard
    if s is not None:
        return [(t, s) for t in v.blocks]
    return [(t, None) for t in v.blocks if t % UNDATED_SHARDS == part]


def vector_shards(v: ArticleVector, undated_exist: bool, cfg: StoryConfig) -> list[tuple]:
    """The shards holding a block of `v`, each once."""
    return sorted({shard_of(k) for k in block_keys(v, undated_exist, cfg)}, key=repr)


def packed_vector(v: ArticleVector) -> tuple:
    """An ArticleVector as plain values (no numpy object nor dataclass), as it crosses the shard shuffle: a
    runner that holds a shuffle in memory keeps each element as one tuple of bytes and numbers."""
    blocks = np.asarray(v.blocks, dtype=np.int64).tobytes()
    dense = None if v.dense is None else np.asarray(v.dense, dtype=np.float32).tobytes()
    return (v.article_id, v.rank, v.ts, v.terms.astype(np.int32).tobytes(), v.weights.astype(np.float32).tobytes(), blocks,
            v.headline, dense, v.language)


def unpacked_vector(p: tuple) -> ArticleVector:
    """The ArticleVector of packed_vector(v) (equal to v)."""
    aid, rank, ts, terms, weights, blocks, headline, dense, language = p
    return ArticleVector(aid, tuple(rank), ts, np.frombuffer(terms, dtype=np.int32), np.frombuffer(weights, dtype=np.float32),
                         tuple(int(t) for t in np.frombuffer(blocks, dtype=np.int64)), headline,
                         None if dense is None else np.frombuffer(dense, dtype=np.float32), language)


def shard_pairs(shard: tuple, packed: Iterable[tuple], oversized_undated, cfg: StoryConfig) -> Iterator[tuple[tuple, tuple, float]]:
    """The scored candidate pairs of every block of one shard (block_pairs per block, blocks in key order).

    A dated shard holds every member of each of its blocks, so it finds its oversized blocks itself;
    `oversized_undated` is the set of oversized blocks with undated articles (counted over all shards)."""
    blocks: dict[tuple, list[ArticleVector]] = {}
    for p in packed:
        v = unpacked_vector(p)
        for key in shard_keys(v, shard):
            blocks.setdefault(key, []).append(v)
    # (as the count over all blocks did: entries, not distinct articles)
    oversized = oversized_undated if shard[0] is None else {key for key, ms in blocks.items() if len(ms) > cfg.max_block}
    for key in sorted(blocks, key=repr):
        if key not in oversized:
            yield from block_pairs(key, blocks[key], oversized, cfg)
