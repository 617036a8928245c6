"""Article vectors for same-event clustering: term counts (terms.py) in the article's language, document frequencies, TF-IDF."""
from __future__ import annotations

import dataclasses
import math
from collections import Counter

import apache_beam as beam
import numpy as np

from schemas.records import ArticleTerms, CleanArticle
from transforms.fingerprints import rank_key
from transforms.stories.config import StoryConfig
from transforms.stories.dense import DenseTerms
from transforms.stories.terms import STOPWORDS, headline_language, term_counts

__all__ = ["STOPWORDS", "ArticleVector", "DocFreq", "DocFreqFn", "article_terms", "cosine", "term_counts", "tfidf_vector"]

_HALF = math.sqrt(0.5)


def article_language(a: CleanArticle) -> str | None:
    """The article's language: given, from the page or detected by cleaning; for a headline, from its title."""
    if a.language is None and not a.text.strip():
        return headline_language(a.title)
    return a.language


def article_terms(a: CleanArticle, cfg: StoryConfig, dense: bytes | None = None) -> ArticleTerms:
    """What clustering needs of an article: id, rank key, publication time, its two term views (in its
    language) and, when given, its dense vector and language (a DenseTerms then)."""
    ts = a.published_at.timestamp() if a.published_at is not None else None
    language = article_language(a)
    rank, counts, headline = rank_key(a.published_at, a.word_count, a.article_id), term_counts(a.title, a.text, cfg, language), not a.text.strip()
    if dense is not None:
        return DenseTerms(a.article_id, rank, ts, counts, headline, dense, language)
    return ArticleTerms(a.article_id, rank, ts, counts, headline)


@dataclasses.dataclass(frozen=True)
class DocFreq:
    """Number of documents, per-term document frequencies and the number of undated documents."""

    n: int
    df: dict
    undated: int = 0


class DocFreqFn(beam.CombineFn):
    """Global combine of (term set, dated?) into a DocFreq (bounded by the hashed vocabulary)."""

    def create_accumulator(self):
        return [0, Counter(), 0]

    def add_input(self, acc, item):
        terms, dated = item
        acc[0] += 1
        acc[1].update(terms)
        acc[2] += 0 if dated else 1
        return acc

    def merge_accumulators(self, accs):
        n, df, undated = 0, Counter(), 0
        for a_n, a_df, a_u in accs:
            n += a_n
            df.update(a_df)
            undated += a_u
        return [n, df, undated]

    def extract_output(self, acc):
        return DocFreq(acc[0], dict(acc[1]), acc[2])


@dataclasses.dataclass(frozen=True)
class ArticleVector:
    """An article's sparse TF-IDF vector and what clustering needs of it.

    The two views (all words, names only) are each L2-normalised, scaled by sqrt(1/2) and stored as one
    vector (name terms offset past the vocabulary), so one dot product gives the mean of the two cosines.
    """

    article_id: str
    rank: tuple
    ts: float | None  # publication time (epoch seconds) or None
    terms: np.ndarray  # int32 (hashed vocabulary plus the names offset), sorted
    weights: np.ndarray  # float32
    blocks: tuple  # blocking terms, sorted
    headline: bool = False  # a title and no body
    dense: np.ndarray | None = None  # unit vector of the dense view (dense.py), when the article has one
    language: str | None = None  # with a dense vector: the article's language (dense.across_languages)


def _weighted(counts: Counter, dfs: DocFreq, cfg: StoryConfig) -> list[tuple[int, float, int]]:
    """(term, TF-IDF weight, df) of the strongest terms, strongest first."""
    n = max(dfs.n, 1)
    scored = []
    for term, tf in counts.items():
        df = dfs.df.get(term, 1)
        idf = math.log((n + 1) / (df + 1)) + 1.0
        scored.append((term, (1.0 + math.log(tf)) * idf**cfg.idf_power, df))
    scored.sort(key=lambda x: (-x[1], x[0]))
    return scored[: cfg.max_terms]


def _normalised(scored: list[tuple[int, float, int]], offset: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(terms + offset, weights scaled to norm `scale`), sorted by term."""
    norm = math.sqrt(sum(w * w for _, w, _ in scored)) or 1.0
    order = sorted(scored, key=lambda x: x[0])
    return (np.array([t + offset for t, _, _ in order], dtype=np.int32),
            np.array([w / norm * scale for _, w, _ in order], dtype=np.float32))


def tfidf_vector(aid: str, rank: tuple, ts: float | None, counts, dfs: DocFreq, cfg: StoryConfig, headline: bool = False,
                 dense: np.ndarray | None = None, language: str | None = None) -> ArticleVector:
    """The article's two TF-IDF views as one vector, and its blocking terms (strongest terms seen in 2+ articles,
    and in at most block_min_df / block_max_share of them, headline_block_df for a headline).

    An article without names (a lower-case headline) has one view, which then takes the whole unit norm:
    it meets an article with names at sqrt(1/2) of the words cosine and one without at the full cosine,
    instead of at most half of it.
    """
    full, names = counts if isinstance(counts, tuple) else (counts, Counter())
    scored = _weighted(full, dfs, cfg)
    max_df = max(cfg.headline_block_df if headline else cfg.block_min_df, cfg.block_max_share * dfs.n)
    blocks = tuple(sorted(t for t, _, df in [s for s in scored if 2 <= s[2] <= max_df][: cfg.block_terms]))
    name_scored = _weighted(names, dfs, cfg)
    terms, weights = _normalised(scored, 0, _HALF if name_scored else 1.0)
    name_terms, name_weights = _normalised(name_scored, 1 << cfg.vocab_bits, _HALF)
    return ArticleVector(aid, rank, ts, np.concatenate([terms, name_terms]), np.concatenate([weights, name_weights]), blocks, headline, dense, language)


def sparse_dot(ta, wa, tb, wb) -> float:
    """Dot product of two sparse vectors given as sorted unique terms and their weights."""
    _, ia, ib = np.intersect1d(ta, tb, assume_unique=True, return_indices=True)
    return float(np.dot(wa[ia].astype(np.float64), wb[ib].astype(np.float64)))


def cosine(a: ArticleVector, b: ArticleVector) -> float:
    """Same-event similarity: the mean of the full-text cosine and the names cosine (words alone without names)."""
    return sparse_dot(a.terms, a.weights, b.terms, b.weights)
