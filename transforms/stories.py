"""Same-event stories: TF-IDF over hashed terms, rare-term blocking, average linkage with a time window.

Steps: document frequencies in one global combine (side input) -> one sparse TF-IDF vector per
article -> blocks keyed by each article's rarest strong terms -> cosine scores inside blocks
(each pair scored once) -> average-linkage clustering over the candidate graph. Average linkage
counts a missing edge as zero similarity, so one article bridging two events cannot merge them.
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
import xxhash

from schemas.article import CleanArticle, StoryAssignment
from transforms.dedup import DedupConfig, FindDuplicates, rank_key

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

    # Average similarity (mean of the full-text and the name cosines) needed to join two groups into one
    # story. Measured with bench/quality_events.py: 0.2 is best on both dev sets together and both sets
    # stay within 0.02 B-cubed F1 of their own best at 0.18 to 0.2 (see README "Quality").
    threshold: float = 0.2
    window_days: float = 3.0  # dated articles further apart than this never share a story
    title_weight: int = 2  # title terms count this many times
    entity_weight: int = 2  # capitalised (name-like) terms count this many times
    idf_power: float = 1.5  # weight = (1 + log tf) * idf**power: rare, event-specific terms count more
    max_terms: int = 400  # terms kept per article vector
    block_terms: int = 20  # blocking keys per article: its strongest terms seen in 2+ articles
    max_block: int = 2000  # terms in more articles than this are too common to block on
    min_edge: float = 0.05  # candidate pairs below this similarity are not kept
    vocab_bits: int = 22  # hashed vocabulary size 2**bits bounds the document-frequency table

    def __post_init__(self):
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"story threshold must be in (0, 1), got {self.threshold}")
        if self.window_days <= 0:
            raise ValueError("story window must be positive (days)")
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
    """Number of documents and per-term document frequencies."""

    n: int
    df: dict


class DocFreqFn(beam.CombineFn):
    """Global combine of term sets into document frequencies (bounded by the hashed vocabulary)."""

    def create_accumulator(self):
        return [0, Counter()]

    def add_input(self, acc, terms):
        acc[0] += 1
        acc[1].update(terms)
        return acc

    def merge_accumulators(self, accs):
        n, df = 0, Counter()
        for a_n, a_df in accs:
            n += a_n
            df.update(a_df)
        return [n, df]

    def extract_output(self, acc):
        return DocFreq(acc[0], dict(acc[1]))


@dataclasses.dataclass(frozen=True)
class Vec:
    """An article's sparse, L2-normalised TF-IDF vector and what clustering needs of it."""

    article_id: str
    rank: tuple
    ts: float | None  # publication time (epoch seconds) or None
    terms: np.ndarray  # int64, sorted
    weights: np.ndarray  # float32
    blocks: tuple  # blocking terms, sorted
    name_terms: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    name_weights: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.float32))


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


def _normalised(scored: list[tuple[int, float, int]]) -> tuple[np.ndarray, np.ndarray]:
    norm = math.sqrt(sum(w * w for _, w, _ in scored)) or 1.0
    order = sorted(scored, key=lambda x: x[0])
    return np.array([t for t, _, _ in order], dtype=np.int64), np.array([w / norm for _, w, _ in order], dtype=np.float32)


def tfidf_vector(aid: str, rank: tuple, ts: float | None, counts, dfs: DocFreq, cfg: StoryConfig) -> Vec:
    """The article's two L2-normalised TF-IDF views and its blocking terms (strongest terms seen in 2+ articles)."""
    full, names = counts if isinstance(counts, tuple) else (counts, Counter())
    scored = _weighted(full, dfs, cfg)
    blocks = tuple(sorted(t for t, _, df in [s for s in scored if 2 <= s[2] <= cfg.max_block][: cfg.block_terms]))
    terms, weights = _normalised(scored)
    name_terms, name_weights = _normalised(_weighted(names, dfs, cfg))
    return Vec(aid, rank, ts, terms, weights, blocks, name_terms, name_weights)


def _dot(ta, wa, tb, wb) -> float:
    _, ia, ib = np.intersect1d(ta, tb, assume_unique=True, return_indices=True)
    return float(np.dot(wa[ia], wb[ib]))


def cosine(a: Vec, b: Vec) -> float:
    """Same-event similarity: the mean of the full-text cosine and the names cosine."""
    return 0.5 * (_dot(a.terms, a.weights, b.terms, b.weights) + _dot(a.name_terms, a.name_weights, b.name_terms, b.name_weights))


def within_window(ts_a: float | None, ts_b: float | None, window_s: float) -> bool:
    return ts_a is None or ts_b is None or abs(ts_a - ts_b) <= window_s


def block_pairs(term: int, members: Iterable[Vec], cfg: StoryConfig) -> Iterator[tuple[tuple, tuple, float]]:
    """Scored candidate pairs inside one block; a pair is scored only in the block of its smallest shared term."""
    from scipy import sparse

    ms = sorted({v.article_id: v for v in members}.values(), key=lambda v: v.article_id)
    if len(ms) < 2:
        return

    def gram(view):
        vocab: dict[int, int] = {}
        rows, cols, vals = [], [], []
        for i, v in enumerate(ms):
            terms, weights = view(v)
            for t, w in zip(terms.tolist(), weights.tolist()):
                rows.append(i)
                cols.append(vocab.setdefault(t, len(vocab)))
                vals.append(w)
        x = sparse.csr_matrix((vals, (rows, cols)), shape=(len(ms), max(len(vocab), 1)), dtype=np.float64)
        return x @ x.T

    both = gram(lambda v: (v.terms, v.weights)) + gram(lambda v: (v.name_terms, v.name_weights))
    sims = sparse.triu(both * 0.5, k=1).tocoo()
    window_s = cfg.window_days * 86400.0
    for i, j, s in zip(sims.row.tolist(), sims.col.tolist(), sims.data.tolist()):
        if s < cfg.min_edge:
            continue
        a, b = ms[i], ms[j]
        if min(set(a.blocks) & set(b.blocks)) != term or not within_window(a.ts, b.ts, window_s):
            continue
        yield (a.article_id, a.rank, a.ts), (b.article_id, b.rank, b.ts), round(s, 9)


def average_linkage(edges: Iterable[tuple[tuple, tuple, float]], cfg: StoryConfig) -> dict[str, str]:
    """Agglomerative average-linkage clustering over a sparse similarity graph, with a time-span limit.

    Returns {article_id: id of the best-ranked member of its cluster} for clusters of 2+ articles.
    Missing edges count as similarity 0, so weakly connected groups stay apart (no chaining).
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
        size_a = len(members[a])
        for k, s in nbrs[a].items():
            avg = s / (size_a * len(members[k]))
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


class VectorFn(beam.DoFn):
    def __init__(self, cfg: StoryConfig):
        self.cfg = cfg

    def process(self, item, dfs: DocFreq):
        a, counts = item
        ts = a.published_at.timestamp() if a.published_at is not None else None
        yield tfidf_vector(a.article_id, rank_key(a.published_at, a.word_count, a.article_id), ts, counts, dfs, self.cfg)


class ClusterEvents(beam.PTransform):
    """PCollection[CleanArticle] (no copies) -> PCollection[(article_id, cluster label)] for clustered articles.

    Articles that join no other article are absent from the output: each is a story of its own.
    """

    def __init__(self, cfg: StoryConfig = StoryConfig()):
        super().__init__()
        self.cfg = cfg

    def expand(self, articles):
        cfg = self.cfg
        counted = articles | "TermCounts" >> beam.Map(lambda a: (a, term_counts(a.title, a.text, cfg)))
        dfs = (
            counted
            | "TermSets" >> beam.Map(lambda ac: list(ac[1][0].keys()))
            | "DocFreq" >> beam.CombineGlobally(DocFreqFn()).without_defaults()
        )
        vecs = counted | "Vectors" >> beam.ParDo(VectorFn(cfg), beam.pvalue.AsSingleton(dfs))
        # (blocking term, Vec) -> scored pairs
        edges = (
            vecs
            | "BlockKeys" >> beam.FlatMap(lambda v: ((t, v) for t in v.blocks))
            | "GroupByBlock" >> beam.GroupByKey()
            | "ScorePairs" >> beam.FlatMap(lambda kv: block_pairs(kv[0], kv[1], cfg))
        )
        # (None, edge) -> one clustering step over the candidate graph
        return (
            edges
            | "OneKey" >> beam.Map(lambda e: (None, e))
            | "GatherEdges" >> beam.GroupByKey()
            | "AverageLinkage" >> beam.FlatMap(lambda kv: average_linkage(kv[1], cfg).items())
        )


# --------------------------------------------------------------------------------------------
# The stage composite: copies, then events, then one canonical article per story.
# --------------------------------------------------------------------------------------------


def story_id_for(canonical_article_id: str) -> str:
    return "s" + canonical_article_id


def _split_copies(kv):
    """(article_id, {articles: [a], dups: [(of, kind)]}) -> unique article, or ('copy', (of, (a, kind)))."""
    _, grouped = kv
    for a in grouped["articles"]:
        if grouped["dups"]:
            of, kind = grouped["dups"][0]
            yield beam.pvalue.TaggedOutput("copies", (of, (a, kind)))
        else:
            yield a


def _attach_label(kv):
    """(article_id, {articles: [a], labels: [label]}) -> (label, (a, None)) for a unique article."""
    aid, grouped = kv
    label = grouped["labels"][0] if grouped["labels"] else aid
    for a in grouped["articles"]:
        yield aid, (label, a)


def _attach_copies(kv):
    """(kept id, {kept: [(label, a)], copies: [(a, kind)]}) -> (label, (article, (dup_of, kind)))."""
    kept_id, grouped = kv
    for label, a in grouped["kept"]:
        yield label, (a, None)
        for copy, kind in grouped["copies"]:
            yield label, (copy, (kept_id, kind))


def assemble_story(kv):
    """(label, [(article, copy_info)]) -> ('articles', (article, StoryAssignment)) rows and one ('stories', row)."""
    _, items = kv
    items = list(items)
    uniques = [a for a, c in items if c is None]
    canonical = min(uniques or [a for a, _ in items], key=lambda a: rank_key(a.published_at, a.word_count, a.article_id))
    sid = story_id_for(canonical.article_id)
    for a, copy in items:
        yield "articles", (
            a,
            StoryAssignment(
                article_id=a.article_id,
                story_id=sid,
                is_canonical=a.article_id == canonical.article_id,
                duplicate_of=copy[0] if copy else None,
                duplicate_kind=copy[1] if copy else None,
            ),
        )
    dates = [a.published_at for a, _ in items if a.published_at is not None]
    yield "stories", {
        "story_id": sid,
        "canonical_article_id": canonical.article_id,
        "title": canonical.title or next((a.title for a, _ in items if a.title), None),
        "first_published": min(dates) if dates else None,
        "last_published": max(dates) if dates else None,
        "article_count": len(items),
        "unique_article_count": len(uniques),
        "site_count": len({a.site.lower() for a, _ in items if a.site}),
    }


class DeduplicateStories(beam.PTransform):
    """PCollection[CleanArticle] -> {articles: PCollection[(CleanArticle, StoryAssignment)], stories: PCollection[dict]}.

    Guarantees: every input article comes out exactly once; copies point to the kept article
    (`duplicate_of`) and share its story; each story has exactly one canonical article, chosen
    among its non-copies as the earliest published, then the most complete.
    """

    def __init__(self, dedup: DedupConfig = DedupConfig(), stories: StoryConfig = StoryConfig()):
        super().__init__()
        self.dedup = dedup
        self.stories = stories

    def expand(self, articles):
        by_id = articles | "KeyById" >> beam.Map(lambda a: (a.article_id, a))
        dups = articles | "FindDuplicates" >> FindDuplicates(self.dedup)
        split = (
            {"articles": by_id, "dups": dups}
            | "JoinCopies" >> beam.CoGroupByKey()
            | "SplitCopies" >> beam.FlatMap(_split_copies).with_outputs("copies", main="uniques")
        )
        uniques = split["uniques"]
        labels = uniques | "ClusterEvents" >> ClusterEvents(self.stories)
        labelled = (
            {"articles": uniques | "KeyUnique" >> beam.Map(lambda a: (a.article_id, a)), "labels": labels}
            | "JoinLabels" >> beam.CoGroupByKey()
            | "AttachLabel" >> beam.FlatMap(_attach_label)
        )
        # (story label, (article, copy info)) -> one story
        assembled = (
            {"kept": labelled, "copies": split["copies"]}
            | "JoinKeptAndCopies" >> beam.CoGroupByKey()
            | "AttachCopies" >> beam.FlatMap(_attach_copies)
            | "GroupByStory" >> beam.GroupByKey()
            | "AssembleStory" >> beam.FlatMap(assemble_story)
        )
        return {
            "articles": assembled | "ArticleRows" >> beam.Filter(lambda kv: kv[0] == "articles") | "A" >> beam.Values(),
            "stories": assembled | "StoryRows" >> beam.Filter(lambda kv: kv[0] == "stories") | "S" >> beam.Values(),
        }
