"""Same-event stories: TF-IDF over hashed terms, rare-term blocking, average linkage with a time window.

Steps: document frequencies in one global combine (side input) -> one sparse TF-IDF vector per
article -> blocks keyed by (strong rare term, time slice) -> cosine scores inside blocks (each pair
scored once) -> average-linkage clustering over the candidate graph. Average linkage counts a
missing edge as zero similarity, so one article bridging two events cannot merge them. Groups of
headline-only articles are compared by their centroids instead (see group_similarity).

Cost stays near-linear: blocking terms are in at most a small share of the corpus, dated articles
meet only within their time slices, and a (term, slice) block with more than max_block articles is
skipped (its pairs are scored in the next shared block, if any).
"""
from __future__ import annotations

import dataclasses
import heapq
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa
import xxhash

from schemas.layout import STORY_TERMS_STATE as STORY_TERMS_DIR
from schemas.records import ArticleTerms as Counted
from schemas.records import CleanArticle, StoryAssignment
from schemas.state import STORY_TERMS_SCHEMA, story_terms_row
from transforms.dedup import (
    SIGNATURES,
    SIGNATURES_DIR,
    SIGNATURES_SCHEMA,
    DedupConfig,
    FindDuplicates,
    signature_row,
)
from transforms.earlier import ReadEarlierState
from transforms.fingerprints import rank_key

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


@dataclasses.dataclass(frozen=True)
class StoryConfig:
    """Same-event clustering settings (fixed in advance, not tuned per data set)."""

    # Similarity (mean of the full-text and the name cosines; average linkage, centroids for headline
    # groups) needed to join two groups into one story. Measured with bench/quality_events.py (B3 F1 at
    # 0.18 / 0.19 / 0.2): ECB+ 0.925 / 0.938 / 0.925, NewsWCL50 0.984 (0.967 at 0.21), ECB+ titles only
    # 0.726 / 0.722 / 0.716. 0.19 is the middle of the band where both full-text sets are at their best.
    threshold: float = 0.19
    window_days: float = 3.0  # dated articles further apart than this never share a story
    title_weight: int = 2  # title terms count this many times
    entity_weight: int = 2  # capitalised (name-like) terms count this many times
    idf_power: float = 1.5  # weight = (1 + log tf) * idf**power: rare, event-specific terms count more
    max_terms: int = 400  # terms kept per article vector
    block_terms: int = 20  # blocking keys per article: its strongest terms seen in 2+ articles ...
    # ... and in at most this share of the corpus (or block_min_df articles in a small corpus): a blocking
    # term names something specific to one event, not a kind of event.
    block_max_share: float = 0.002
    block_min_df: int = 50
    # A (term, time slice) block with more articles than this is too common to block on: it is skipped,
    # which bounds the pairs scored per article and keeps the cost near-linear in the corpus size.
    max_block: int = 300
    # A pair is a candidate only when it shares at least this many blocking (strong, rare) terms, as in
    # GDELT's "minimum number of shared rare words": one shared name is what sibling events of one kind
    # (the same fighter's two fights) have in common. Measured: ECB+ B3 F1 0.904 -> 0.916 at 2,
    # NewsWCL50 unchanged (0.984); 3 costs recall on both. A short article (a headline, a brief) has
    # fewer rare words than the block_terms quota, all of them blocking terms: one shared is enough
    # when either article of the pair is short (see enough_shared).
    min_shared_terms: int = 2
    min_edge: float = 0.05  # candidate pairs below this similarity are not kept
    vocab_bits: int = 22  # hashed vocabulary size 2**bits bounds the document-frequency table

    def __post_init__(self):
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"story threshold must be in (0, 1), got {self.threshold}")
        if self.window_days <= 0:
            raise ValueError("story window must be positive (days)")
        if self.min_shared_terms < 1:
            raise ValueError("min_shared_terms must be at least 1")
        if not 8 <= self.vocab_bits <= 30:
            raise ValueError("vocab_bits must be in [8, 30] (terms and name terms are stored as int32)")
        if self.min_edge > self.threshold:
            raise ValueError("min_edge must not exceed the story threshold")


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


@dataclasses.dataclass(frozen=True)
class DocFreq:
    """Number of documents, per-term document frequencies and the number of undated documents."""

    n: int
    df: dict
    undated: int = 0


class DocFreqFn(beam.CombineFn):
    """Global combine of (term set, dated?) into document frequencies (bounded by the hashed vocabulary)."""

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
class Vec:
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
    norm = math.sqrt(sum(w * w for _, w, _ in scored)) or 1.0
    order = sorted(scored, key=lambda x: x[0])
    return (np.array([t + offset for t, _, _ in order], dtype=np.int32),
            np.array([w / norm * scale for _, w, _ in order], dtype=np.float32))


_HALF = math.sqrt(0.5)


def tfidf_vector(aid: str, rank: tuple, ts: float | None, counts, dfs: DocFreq, cfg: StoryConfig, headline: bool = False) -> Vec:
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
    return Vec(aid, rank, ts, np.concatenate([terms, name_terms]), np.concatenate([weights, name_weights]), blocks, headline)


def _dot(ta, wa, tb, wb) -> float:
    _, ia, ib = np.intersect1d(ta, tb, assume_unique=True, return_indices=True)
    return float(np.dot(wa[ia].astype(np.float64), wb[ib].astype(np.float64)))


def cosine(a: Vec, b: Vec) -> float:
    """Same-event similarity: the mean of the full-text cosine and the names cosine (words alone without names)."""
    return _dot(a.terms, a.weights, b.terms, b.weights)


def enough_shared(blocks_a: tuple, blocks_b: tuple, cfg: StoryConfig) -> bool:
    """The pair shares min_shared_terms blocking terms, or one when either article is short.

    A short article (a headline, a brief) has fewer rare terms than the block_terms quota, so all of
    them are blocking terms and one shared rare word is as telling as two in a full article.
    """
    need = cfg.min_shared_terms if min(len(blocks_a), len(blocks_b)) >= cfg.block_terms else 1
    return len(set(blocks_a) & set(blocks_b)) >= need


def within_window(ts_a: float | None, ts_b: float | None, window_s: float) -> bool:
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


def block_keys(v: Vec, undated_exist: bool, cfg: StoryConfig) -> list[tuple]:
    """(term, time slice) keys of an article; (term, None) compares undated articles with all the others."""
    slices = time_slices(v.ts, cfg)
    if slices != (None,) and undated_exist:
        slices += (None,)
    return [(t, s) for t in v.blocks for s in slices]


def pair_block(a: Vec, b: Vec, oversized, cfg: StoryConfig) -> tuple | None:
    """The one block in which the pair (a, b) is scored: its smallest shared term whose block is not
    oversized, in the later article's slice (None when either is undated); None if there is none."""
    ba, bb = time_bucket(a.ts, cfg), time_bucket(b.ts, cfg)
    s = None if ba is None or bb is None else max(ba, bb)
    shared = sorted(set(a.blocks) & set(b.blocks))
    return next(((t, s) for t in shared if (t, s) not in oversized), None)


def _gram_pairs(ms: list[Vec], min_edge: float) -> Iterator[tuple[int, int, float]]:
    """(i, j, similarity >= min_edge) for i < j: pairwise for a few members, one sparse product for many."""
    if len(ms) <= 6:
        for i in range(len(ms)):
            for j in range(i + 1, len(ms)):
                s = _dot(ms[i].terms, ms[i].weights, ms[j].terms, ms[j].weights)
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


def block_pairs(key: tuple, members: Iterable[Vec], oversized, cfg: StoryConfig) -> Iterator[tuple[tuple, tuple, float]]:
    """Scored candidate pairs inside one (term, time slice) block, each pair scored in one block only
    and kept when it shares enough blocking terms (enough_shared)."""
    ms = sorted({v.article_id: v for v in members}.values(), key=lambda v: v.article_id)
    if len(ms) < 2:
        return
    window_s = cfg.window_days * 86400.0

    def candidate(a: Vec, b: Vec) -> bool:
        return (within_window(a.ts, b.ts, window_s) and pair_block(a, b, oversized, cfg) == key
                and enough_shared(a.blocks, b.blocks, cfg))

    if len(ms) <= 6:
        # A pair sharing k blocks meets in k of them but is scored in one: test that (cheap set
        # operations) before the dot product.
        scored = ((i, j, _dot(ms[i].terms, ms[i].weights, ms[j].terms, ms[j].weights))
                  for i in range(len(ms)) for j in range(i + 1, len(ms)) if candidate(ms[i], ms[j]))
        pairs = ((i, j, s) for i, j, s in scored if s >= cfg.min_edge)
    else:
        pairs = ((i, j, s) for i, j, s in _gram_pairs(ms, cfg.min_edge) if candidate(ms[i], ms[j]))
    for i, j, s in pairs:
        a, b = ms[i], ms[j]
        yield (a.article_id, a.rank, a.ts, a.headline), (b.article_id, b.rank, b.ts, b.headline), round(s, 9)


def group_similarity(cross: float, a: tuple[int, float, bool], b: tuple[int, float, bool]) -> float:
    """Similarity of two groups from the sum of their cross similarities; a, b = (size, sum of the
    similarities inside the group, all members headline-only).

    Average linkage (cross / (size_a * size_b)) in general. Two groups of headlines are compared by
    their centroids, as streaming news clustering compares an article to story centroids: a headline
    carries only a few of its event's words, so headlines of one event are each weakly similar to
    one another and strongly to their sum. The centroid cosine follows from the same sums (the squared
    norm of a sum of unit vectors is size + 2 * inner sum; pairs that are no candidates count as 0, as
    in average linkage), so no vector is needed here. Centroids chain more easily than averages: a
    headline strongly similar to two small headline groups can join them (tests show where it does not).
    """
    (na, ia, ha), (nb, ib, hb) = a, b
    if ha and hb:
        return cross / math.sqrt((na + 2.0 * ia) * (nb + 2.0 * ib))
    return cross / (na * nb)


def average_linkage(edges: Iterable[tuple[tuple, tuple, float]], cfg: StoryConfig) -> dict[str, str]:
    """Agglomerative average-linkage clustering over a sparse similarity graph, with a time-span limit.

    Edges are ((id, rank, ts, headline), (id, rank, ts, headline), similarity). Returns
    {article_id: id of the best-ranked member of its cluster} for clusters of 2+ articles.
    Missing edges count as similarity 0, so weakly connected groups stay apart (no chaining).
    Groups made only of headlines are compared by their centroids (group_similarity).
    """
    info: dict[str, tuple] = {}
    pair_sum: dict[tuple[str, str], float] = {}
    for a, b, s in sorted(edges, key=lambda e: (e[0][0], e[1][0])):
        info[a[0]], info[b[0]] = a, b
        key = (a[0], b[0]) if a[0] < b[0] else (b[0], a[0])
        pair_sum[key] = max(pair_sum.get(key, 0.0), s)
    window_s = cfg.window_days * 86400.0
    # Cluster state, keyed by a cluster label (the id of its first member).
    members = {aid: [aid] for aid in info}
    span = {aid: (info[aid][2], info[aid][2]) for aid in info}
    version = {aid: 0 for aid in info}
    inner = {aid: 0.0 for aid in info}  # sum of the similarities inside the cluster
    heads = {aid: bool(info[aid][3]) for aid in info}  # all members headline-only
    nbrs: dict[str, dict[str, float]] = {aid: {} for aid in info}
    for (a, b), s in pair_sum.items():
        nbrs[a][b] = s
        nbrs[b][a] = s
    heap = [(-s, a, b, 0, 0) for (a, b), s in pair_sum.items() if s >= cfg.threshold]
    heapq.heapify(heap)

    def merged_span(a, b):
        lo = [t for t in (span[a][0], span[b][0]) if t is not None]
        hi = [t for t in (span[a][1], span[b][1]) if t is not None]
        return (min(lo) if lo else None, max(hi) if hi else None)

    while heap:
        neg, a, b, va, vb = heapq.heappop(heap)
        if a not in members or b not in members or version[a] != va or version[b] != vb:
            continue
        lo, hi = merged_span(a, b)
        if lo is not None and hi - lo > window_s:
            continue
        # Merge b into a.
        inner[a] += inner.pop(b) + nbrs[a].get(b, 0.0)
        heads[a] = heads[a] and heads.pop(b)
        members[a].extend(members.pop(b))
        span[a] = (lo, hi)
        version[a] += 1
        del version[b]
        nb = nbrs.pop(b)
        nbrs[a].pop(b, None)
        for k, s in nb.items():
            if k == a:
                continue
            nbrs[k].pop(b, None)
            nbrs[a][k] = nbrs[a].get(k, 0.0) + s
            nbrs[k][a] = nbrs[a][k]
        group_a = (len(members[a]), inner[a], heads[a])
        for k, s in nbrs[a].items():
            avg = group_similarity(s, group_a, (len(members[k]), inner[k], heads[k]))
            if avg >= cfg.threshold:
                x, y = (a, k) if a < k else (k, a)
                heapq.heappush(heap, (-avg, x, y, version[x], version[y]))
    out: dict[str, str] = {}
    for group in members.values():
        if len(group) < 2:
            continue
        best = min(group, key=lambda aid: info[aid][1])
        for aid in group:
            out[aid] = best
    return out



def counted_of(a: CleanArticle, cfg: StoryConfig) -> Counted:
    ts = a.published_at.timestamp() if a.published_at is not None else None
    return Counted(a.article_id, rank_key(a.published_at, a.word_count, a.article_id), ts, term_counts(a.title, a.text, cfg),
                   not a.text.strip())


class VectorFn(beam.DoFn):
    def __init__(self, cfg: StoryConfig):
        self.cfg = cfg

    def process(self, c: Counted, dfs: DocFreq):
        yield tfidf_vector(c.article_id, c.rank, c.ts, c.counts, dfs, self.cfg, c.headline)


class BlockKeysFn(beam.DoFn):
    """Vec -> (block key, Vec) for each of its blocks that is not oversized."""

    def __init__(self, cfg: StoryConfig):
        self.cfg = cfg

    def process(self, v: Vec, dfs: DocFreq, oversized):
        for key in block_keys(v, dfs.undated > 0, self.cfg):
            if key not in oversized:
                yield key, v


class ClusterEvents(beam.PTransform):
    """PCollection[Counted] (no copies) -> PCollection[(article_id, cluster label)] for clustered articles.

    Articles that join no other article are absent from the output: each is a story of its own.
    """

    def __init__(self, cfg: StoryConfig = StoryConfig()):
        super().__init__()
        self.cfg = cfg

    def expand(self, counted):
        cfg = self.cfg
        dfs = beam.pvalue.AsSingleton(
            counted
            | "TermSets" >> beam.Map(lambda c: (list(c.counts[0].keys()), c.ts is not None))
            | "DocFreq" >> beam.CombineGlobally(DocFreqFn()).without_defaults()
        )
        vecs = counted | "Vectors" >> beam.ParDo(VectorFn(cfg), dfs)
        # (block key, 1) -> the set of block keys with more than max_block articles
        oversized = beam.pvalue.AsSingleton(
            vecs
            | "AllBlockKeys" >> beam.FlatMap(lambda v, d: block_keys(v, d.undated > 0, cfg), dfs)
            | "BlockSizes" >> beam.combiners.Count.PerElement()
            | "Oversized" >> beam.Filter(lambda kv: kv[1] > cfg.max_block)
            | "OversizedKeys" >> beam.Keys()
            | "OversizedSet" >> beam.CombineGlobally(beam.combiners.ToSetCombineFn())
        )
        # ((term, time slice), Vec) -> scored pairs
        edges = (
            vecs
            | "BlockKeys" >> beam.ParDo(BlockKeysFn(cfg), dfs, oversized)
            | "GroupByBlock" >> beam.GroupByKey()
            | "ScorePairs" >> beam.FlatMap(lambda kv, o: block_pairs(kv[0], kv[1], o, cfg), oversized)
        )
        # (None, edge) -> one clustering step over the candidate graph
        return (
            edges
            | "OneKey" >> beam.Map(lambda e: (None, e))
            | "GatherEdges" >> beam.GroupByKey()
            | "AverageLinkage" >> beam.FlatMap(lambda kv: average_linkage(kv[1], cfg).items())
        )


# --------------------------------------------------------------------------------------------
# Stories across runs (--only_new): every run keeps the term counts of the articles it clustered in
# <output>/_state/story_terms/; a later --only_new run clusters its new articles together with the
# earlier ones published within a time window of them, and a cluster that holds earlier articles
# continues their story.
# --------------------------------------------------------------------------------------------

EARLIER_ID = "earlier:"  # earlier articles' ids inside this run's clustering (a changed file keeps its id)



def _state_rows(kv, dedup: DedupConfig, vocab_bits: int, run_id: str):
    """(article_id, {story: [story_id], signature: [bytes], counted: [Counted]}) -> a signatures row and a
    story_terms row (tagged) for an article the run kept; copies have no story entry here and get none."""
    article_id, grouped = kv
    for story_id in grouped["story"]:
        for sig in grouped["signature"]:
            yield beam.pvalue.TaggedOutput(SIGNATURES, signature_row(article_id, story_id, sig, dedup, run_id))
        for c in grouped["counted"]:
            yield beam.pvalue.TaggedOutput("terms", story_terms_row(c, story_id, vocab_bits, run_id))


class WriteRunState(beam.PTransform):
    """{articles: (CleanArticle, StoryAssignment), signatures: (article_id, MinHash bytes), counted: Counted} ->
    `<staging>/_state/signatures/part-*.parquet` and `<staging>/_state/story_terms/part-*.parquet`: the state
    later --only_new runs compare with, one row each per article the run kept (not its copies), with its
    story. One join brings each article's story to both."""

    def __init__(self, staging_dir: str, run_id: str, dedup: DedupConfig = DedupConfig(), cfg: StoryConfig = StoryConfig()):
        super().__init__()
        self.staging_dir, self.run_id, self.dedup, self.cfg = staging_dir.rstrip("/"), run_id, dedup, cfg

    def expand(self, tables):
        kept = tables["articles"] | "KeptStories" >> beam.FlatMap(
            lambda x: [(x[1].article_id, x[1].story_id)] if x[1].duplicate_of is None else []
        )
        rows = (
            {"story": kept, "signature": tables[SIGNATURES],
             "counted": tables["counted"] | "KeyCounted" >> beam.Map(lambda c: (c.article_id, c))}
            | "JoinStories" >> beam.CoGroupByKey()
            | "StateRows" >> beam.FlatMap(_state_rows, self.dedup, self.cfg.vocab_bits, self.run_id).with_outputs(SIGNATURES, "terms")
        )
        for tag, folder, schema in ((SIGNATURES, SIGNATURES_DIR, SIGNATURES_SCHEMA), ("terms", STORY_TERMS_DIR, STORY_TERMS_SCHEMA)):
            rows[tag] | f"Write{tag.title()}" >> beam.io.WriteToParquet(
                f"{self.staging_dir}/{folder}/part", schema, file_name_suffix=".parquet", codec="zstd"
            )
        return rows


def merged_windows(times: Iterable[float], window_s: float) -> list[tuple[float, float]]:
    """The union of [t - window, t + window] over the times, as sorted disjoint intervals: the stretches of
    time in which an earlier article can share a story with one of this run's articles. One old article
    adds its own stretch, not everything between it and the rest."""
    out: list[list[float]] = []
    for t in sorted(times):
        lo, hi = t - window_s, t + window_s
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def _in_windows(ts: np.ndarray, windows: list[tuple[float, float]]) -> np.ndarray:
    """Mask of the times (NaN: undated) that fall in one of the sorted disjoint windows."""
    lows = np.array([lo for lo, _ in windows])
    highs = np.array([hi for _, hi in windows])
    i = np.searchsorted(lows, ts, side="right") - 1
    ok = (i >= 0) & ~np.isnan(ts)
    return ok & (ts <= highs[np.clip(i, 0, len(highs) - 1)])


def earlier_counted(readable_file, windows: list | None, cfg: StoryConfig) -> Iterator[tuple[Counted, str]]:
    """(Counted, story_id) for each row of one earlier story_terms file published within `windows` (see
    merged_windows over this run's publication times); nothing when this run has no dated article. Only the
    rows in a window are decoded. Earlier ids are prefixed (EARLIER_ID) so they never meet this run's ids."""
    import pyarrow.parquet as pq

    if not windows:
        return
    with readable_file.open() as f:
        table = pq.read_table(f)
    ts = table.column("ts").to_numpy(zero_copy_only=False).astype(np.float64)  # NULL -> NaN
    table = table.filter(pa.array(_in_windows(ts, windows)))
    for row in table.to_pylist():
        if row["vocab_bits"] != cfg.vocab_bits:
            continue
        aid = f"{EARLIER_ID}{row['run_id']}/{row['article_id']}"
        counts = (Counter(dict(zip(row["terms"], row["counts"]))), Counter(dict(zip(row["name_terms"], row["name_counts"]))))
        yield Counted(aid, (row["ts"], -row["word_count"], aid), row["ts"], counts, row["headline"]), row["story_id"]


def _continued_label(kv):
    """(id, {label: [label], earlier: [(rank, story_id)]}) -> (label, (rank, story_id)) for a clustered earlier article."""
    _, grouped = kv
    for label in grouped["label"]:
        for rank_story in grouped["earlier"]:
            yield label, rank_story


# --------------------------------------------------------------------------------------------
# The stage composite: copies, then events, then one canonical article per story.
# --------------------------------------------------------------------------------------------


def story_id_for(canonical_article_id: str) -> str:
    return "s" + canonical_article_id


def canonical_of_story(story_id: str) -> str:
    return story_id[1:]


@dataclasses.dataclass(frozen=True)
class Meta:
    """What a story row needs of an article (no text)."""

    article_id: str
    rank: tuple
    published_at: object
    title: str | None
    site: str | None


def meta_of(a: CleanArticle) -> Meta:
    return Meta(a.article_id, rank_key(a.published_at, a.word_count, a.article_id), a.published_at, a.title, a.site)


def _split_copies(kv):
    """(article_id, {counted: [c], dups: [(of, kind)]}) -> Counted of a non-copy, or ('copies', (of, (id, kind)))."""
    aid, grouped = kv
    for c in grouped["counted"]:
        if grouped["dups"]:
            of, kind = grouped["dups"][0]
            yield beam.pvalue.TaggedOutput("copies", (of, (aid, kind)))
        else:
            yield c


def _attach_label(kv):
    """(article_id, {kept: [_], labels: [label]}) -> (article_id, label) for a non-copy article."""
    aid, grouped = kv
    label = grouped["labels"][0] if grouped["labels"] else aid
    for _ in grouped["kept"]:
        yield aid, label


def _attach_copies(kv):
    """(kept id, {label: [label], copies: [(id, kind)]}) -> (article_id, (label, copy info or None))."""
    kept_id, grouped = kv
    for label in grouped["label"]:
        yield kept_id, (label, None)
        for copy_id, kind in grouped["copies"]:
            yield copy_id, (label, (kept_id, kind))


def _with_meta(kv):
    """(article_id, {verdict: [(label, copy)], meta: [Meta]}) -> (label, (Meta, copy info))."""
    _, grouped = kv
    for label, copy in grouped["verdict"]:
        for m in grouped["meta"]:
            yield label, (m, copy)


CONTINUED = "continued"


def assemble_story(kv):
    """(label, [(Meta, copy_info)]) -> ('articles', (article_id, StoryAssignment)) rows and one ('stories', row).

    A label (CONTINUED, story_id) gathers this run's articles of an earlier run's story (--only_new): they
    join that story, and its canonical article stays the earlier one.
    """
    label, items = kv
    items = list(items)
    uniques = [m for m, c in items if c is None]
    best = min(uniques or [m for m, _ in items], key=lambda m: m.rank)
    earlier_sid = label[1] if isinstance(label, tuple) and label[0] == CONTINUED else None
    sid = earlier_sid or story_id_for(best.article_id)
    canonical_id = canonical_of_story(sid) if earlier_sid else best.article_id
    for m, copy in items:
        yield "articles", (
            m.article_id,
            StoryAssignment(
                article_id=m.article_id,
                story_id=sid,
                is_canonical=m.article_id == canonical_id,
                duplicate_of=copy[0] if copy else None,
                duplicate_kind=copy[1] if copy else None,
            ),
        )
    dates = [m.published_at for m, _ in items if m.published_at is not None]
    yield "stories", {
        "story_id": sid,
        "canonical_article_id": canonical_id,
        "title": best.title or next((m.title for m, _ in items if m.title), None),
        "first_published": min(dates) if dates else None,
        "last_published": max(dates) if dates else None,
        "article_count": len(items),
        "unique_article_count": len(uniques),
        "site_count": len({m.site.lower() for m, _ in items if m.site}),
        "continued": earlier_sid is not None,
    }


def _join_article(kv):
    """(article_id, {article: [CleanArticle], verdict: [StoryAssignment]}) -> (CleanArticle, StoryAssignment)."""
    _, grouped = kv
    for a in grouped["article"]:
        for s in grouped["verdict"]:
            yield a, s


class DeduplicateStories(beam.PTransform):
    """PCollection[CleanArticle] -> {articles: PCollection[(CleanArticle, StoryAssignment)], stories: PCollection[dict],
    signatures: PCollection[(article_id, MinHash bytes)], counted: PCollection[Counted]} (the last two are
    state for later runs: WriteRunState). With `earlier_glob` (earlier runs' story_terms)
    the new articles are clustered together with the earlier ones published within the window of them, and
    join the story of the earlier articles their cluster holds.

    Guarantees: every input article comes out exactly once; copies point to the kept article
    (`duplicate_of`) and share its story; each story has exactly one canonical article, chosen
    among its non-copies as the earliest published, then the most complete. The verdicts are
    computed on light records (ids, rank keys, term counts); the full articles (with text) meet
    their verdict in one join at the end.
    """

    def __init__(self, dedup: DedupConfig = DedupConfig(), stories: StoryConfig = StoryConfig(), earlier_glob: str | None = None):
        super().__init__()
        self.dedup = dedup
        self.stories = stories
        self.earlier_glob = earlier_glob

    def expand(self, articles):
        cfg = self.stories
        counted = articles | "TermCounts" >> beam.Map(lambda a: (a.article_id, counted_of(a, cfg)))
        metas = articles | "Meta" >> beam.Map(lambda a: (a.article_id, meta_of(a)))
        found = articles | "FindDuplicates" >> FindDuplicates(self.dedup, with_signatures=True)
        dups = found["copies"]
        # (article_id, {counted, dups}) -> non-copies, and copies keyed by their kept article
        split = (
            {"counted": counted, "dups": dups}
            | "JoinCopies" >> beam.CoGroupByKey()
            | "SplitCopies" >> beam.FlatMap(_split_copies).with_outputs("copies", main="uniques")
        )
        uniques = split["uniques"]
        continued = None
        if self.earlier_glob is None:
            labels = uniques | "ClusterEvents" >> ClusterEvents(cfg)
        else:
            window_s = cfg.window_days * 86400.0
            windows = beam.pvalue.AsSingleton(
                uniques
                | "DatedTimes" >> beam.FlatMap(lambda c: [c.ts] if c.ts is not None else [])
                | "AllTimes" >> beam.combiners.ToList()
                | "Windows" >> beam.Map(merged_windows, window_s)
            )
            earlier = articles.pipeline | "ReadEarlierTerms" >> ReadEarlierState(self.earlier_glob, earlier_counted, windows, cfg)
            labels = (
                (uniques, earlier | "EarlierOnly" >> beam.Map(lambda e: e[0])) | "WithEarlier" >> beam.Flatten()
                | "ClusterEvents" >> ClusterEvents(cfg)
            )
            # (label, story_id) of each cluster holding earlier articles: the best-ranked one's story
            continued = beam.pvalue.AsDict(
                {"label": labels, "earlier": earlier | "EarlierStory" >> beam.Map(lambda e: (e[0].article_id, (e[0].rank, e[1])))}
                | "JoinEarlierLabels" >> beam.CoGroupByKey()
                | "ContinuedLabels" >> beam.FlatMap(_continued_label)
                | "BestEarlier" >> beam.CombinePerKey(min)
                | "ContinuedStory" >> beam.MapTuple(lambda label, rank_story: (label, rank_story[1]))
            )
        # (article_id, {kept, labels}) -> (article_id, label) for every non-copy
        kept_labels = (
            {"kept": uniques | "KeyUnique" >> beam.Map(lambda c: (c.article_id, None)), "labels": labels}
            | "JoinLabels" >> beam.CoGroupByKey()
            | "AttachLabel" >> beam.FlatMap(_attach_label)
        )
        # (kept id, {label, copies}) -> (article_id, (label, copy info)) for every article
        verdicts = (
            {"label": kept_labels, "copies": split["copies"]}
            | "JoinKeptAndCopies" >> beam.CoGroupByKey()
            | "AttachCopies" >> beam.FlatMap(_attach_copies)
        )
        # (story label, (Meta, copy info)) -> one story
        by_label = (
            {"verdict": verdicts, "meta": metas}
            | "JoinMeta" >> beam.CoGroupByKey()
            | "WithMeta" >> beam.FlatMap(_with_meta)
        )
        if continued is not None:
            # Clusters that hold articles of one earlier story make one story together (this run's clustering
            # may split an earlier story's articles).
            by_label = by_label | "ContinuedKey" >> beam.Map(
                lambda kv, cont: (((CONTINUED, cont[kv[0]]) if kv[0] in cont else kv[0]), kv[1]), continued
            )
        assembled = (
            by_label
            | "GroupByStory" >> beam.GroupByKey()
            | "AssembleStory" >> beam.FlatMap(assemble_story)
        )
        assignments = assembled | "ArticleRows" >> beam.Filter(lambda kv: kv[0] == "articles") | "A" >> beam.Values()
        # (article_id, {article, verdict}) -> (CleanArticle, StoryAssignment): the one join of full articles
        joined = (
            {"article": articles | "KeyById" >> beam.Map(lambda a: (a.article_id, a)), "verdict": assignments}
            | "JoinArticles" >> beam.CoGroupByKey()
            | "ArticleVerdicts" >> beam.FlatMap(_join_article)
        )
        return {
            "articles": joined,
            "stories": assembled | "StoryRows" >> beam.Filter(lambda kv: kv[0] == "stories") | "S" >> beam.Values(),
            SIGNATURES: found[SIGNATURES],
            "counted": uniques,
        }
