"""Candidate pairs for clustering: blocking keys (rare term, time slice), the one block a pair is scored in, its score.

Cost stays near-linear: blocking terms are in at most a small share of the corpus, dated articles
meet only within their time slices, and a (term, slice) block with more than max_block articles is
skipped (its pairs are scored in the next shared block, if any).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from transforms.stories.config import StoryConfig
from transforms.stories.dense import across_languages, mixed_similarity
from transforms.stories.vectors import ArticleVector, sparse_dot


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
