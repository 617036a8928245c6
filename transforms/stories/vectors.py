"""Article vectors for same-event clustering: hashed term counts, stopwords, document frequencies, TF-IDF."""
from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter

import apache_beam as beam
import numpy as np
import xxhash

from schemas.records import ArticleTerms, CleanArticle
from transforms.fingerprints import rank_key
from transforms.stories.config import StoryConfig

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves said says say
    told according one two new would could also like last first year years day days week weeks time since still
    may might must many much even well back made make get got us mr mrs ms per via around across""".split()
)
_TOKEN = re.compile(r"[^\W_][\w'’.-]*[^\W_]|[^\W_]", re.UNICODE)
_HALF = math.sqrt(0.5)


def term_counts(title: str | None, text: str, cfg: StoryConfig = StoryConfig()) -> tuple[Counter, Counter]:
    """Hashed term frequencies of an article, two views: all words (titles and names weigh more) and names only.

    Words are lower-cased, stopwords and short numbers dropped; a name is a capitalised word that does
    not start a sentence (in a title-case headline every word counts as a name).
    """
    mask = (1 << cfg.vocab_bits) - 1
    counts: Counter = Counter()
    names: Counter = Counter()

    def add(body: str, weight: int):
        sentence_start = True
        for m in _TOKEN.finditer(body):
            tok = m.group(0).strip(".'’-")
            low = tok.lower()
            if len(low) < 2 or low in STOPWORDS or (low.isdigit() and len(low) != 4):
                sentence_start = m.group(0).endswith(".")
                continue
            w = weight
            term = xxhash.xxh32_intdigest(low.encode("utf-8")) & mask
            if tok[:1].isupper() and not sentence_start:
                w *= cfg.entity_weight
                names[term] += weight
            counts[term] += w
            sentence_start = m.group(0).endswith(".")

    if title:
        add(title, cfg.title_weight)
    if text != title:
        add(text, 1)
    return counts, names


def article_terms(a: CleanArticle, cfg: StoryConfig) -> ArticleTerms:
    """What clustering needs of an article: id, rank key, publication time and its two term views."""
    ts = a.published_at.timestamp() if a.published_at is not None else None
    return ArticleTerms(a.article_id, rank_key(a.published_at, a.word_count, a.article_id), ts, term_counts(a.title, a.text, cfg),
                        not a.text.strip())


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


def tfidf_vector(aid: str, rank: tuple, ts: float | None, counts, dfs: DocFreq, cfg: StoryConfig, headline: bool = False) -> ArticleVector:
    """The article's two TF-IDF views as one vector, and its blocking terms (strongest terms seen in 2+ articles).

    An article without names (a lower-case headline) has one view, which then takes the whole unit norm:
    it meets an article with names at sqrt(1/2) of the words cosine and one without at the full cosine,
    instead of at most half of it.
    """
    full, names = counts if isinstance(counts, tuple) else (counts, Counter())
    scored = _weighted(full, dfs, cfg)
    max_df = max(cfg.block_min_df, cfg.block_max_share * dfs.n)
    blocks = tuple(sorted(t for t, _, df in [s for s in scored if 2 <= s[2] <= max_df][: cfg.block_terms]))
    name_scored = _weighted(names, dfs, cfg)
    terms, weights = _normalised(scored, 0, _HALF if name_scored else 1.0)
    name_terms, name_weights = _normalised(name_scored, 1 << cfg.vocab_bits, _HALF)
    return ArticleVector(aid, rank, ts, np.concatenate([terms, name_terms]), np.concatenate([weights, name_weights]), blocks, headline)


def sparse_dot(ta, wa, tb, wb) -> float:
    """Dot product of two sparse vectors given as sorted unique terms and their weights."""
    _, ia, ib = np.intersect1d(ta, tb, assume_unique=True, return_indices=True)
    return float(np.dot(wa[ia].astype(np.float64), wb[ib].astype(np.float64)))


def cosine(a: ArticleVector, b: ArticleVector) -> float:
    """Same-event similarity: the mean of the full-text cosine and the names cosine (words alone without names)."""
    return sparse_dot(a.terms, a.weights, b.terms, b.weights)
