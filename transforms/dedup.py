"""Copy detection: exact copies (same normalised text or canonical URL) and near copies (MinHash LSH).

Stages, as in text-dedup: signature -> band buckets -> verified candidate edges -> components.
Each component keeps its best article (earliest published, then most complete); every other
member points to it with `duplicate_of` and `duplicate_kind` (`exact` or `near`).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
import xxhash

from schemas.article import DUP_EXACT, DUP_NEAR, CleanArticle, StoryAssignment

_MERSENNE = np.uint64((1 << 61) - 1)
_MAX32 = np.uint64(0xFFFFFFFF)


def optimal_param(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive and negative areas around `threshold`."""

    lo, hi = np.linspace(0.0, threshold, 200), np.linspace(threshold, 1.0, 200)
    best, best_err = (1, num_perm), math.inf
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = float(np.trapezoid(1 - (1 - lo**r) ** b, lo))
            fn = float(np.trapezoid((1 - hi**r) ** b, hi))
            err = fp * fp_weight + fn * fn_weight
            if err < best_err:
                best, best_err = (b, r), err
    return best


@dataclasses.dataclass(frozen=True)
class DedupConfig:
    """Near-duplicate settings: users set the Jaccard threshold; LSH bands and rows are derived from it."""

    threshold: float = 0.7
    num_perm: int = 128
    shingle_size: int = 5
    seed: int = 42
    # Candidates for near duplicates weigh missed pairs more than extra candidates (all are verified).
    fn_weight: float = 0.8

    def __post_init__(self):
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"near-duplicate threshold must be in (0, 1], got {self.threshold}")
        if self.num_perm < 16 or self.shingle_size < 1:
            raise ValueError("num_perm must be >= 16 and shingle_size >= 1")

    @property
    def bands_rows(self) -> tuple[int, int]:
        return _bands_rows(self.threshold, self.num_perm, self.fn_weight)


_PARAM_CACHE: dict = {}


def _bands_rows(threshold, num_perm, fn_weight):
    key = (threshold, num_perm, fn_weight)
    if key not in _PARAM_CACHE:
        _PARAM_CACHE[key] = optimal_param(threshold, num_perm, 1 - fn_weight, fn_weight)
    return _PARAM_CACHE[key]


_DIGIT_GROUP = re.compile(r"(?<=\d)[,.’'](?=\d{3}\b)")


def normalise_text(text: str) -> str:
    """Text for comparison: NFKC, lower case, digit-group separators (2,000) joined, punctuation dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _DIGIT_GROUP.sub("", text)
    return " ".join(re.findall(r"\w+", text))


def content_hash(text: str) -> str:
    return hashlib.blake2b(normalise_text(text).encode("utf-8"), digest_size=12).hexdigest()


def shingle_hashes(text: str, k: int) -> np.ndarray:
    """32-bit hashes of the distinct k-word shingles of the normalised text (one shingle if shorter)."""
    toks = normalise_text(text).split()
    if len(toks) < k:
        grams = {" ".join(toks)}
    else:
        grams = {" ".join(toks[i : i + k]) for i in range(len(toks) - k + 1)}
    return np.fromiter((xxhash.xxh32_intdigest(g.encode("utf-8")) for g in grams), dtype=np.uint64, count=len(grams))


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    a = rng.randint(1, int(_MERSENNE), size=num_perm, dtype=np.uint64)
    b = rng.randint(0, int(_MERSENNE), size=num_perm, dtype=np.uint64)
    return a, b


def minhash(hashes: np.ndarray, perms: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """MinHash signature (uint32[num_perm]) of a set of 32-bit shingle hashes."""
    a, b = perms
    if hashes.size == 0:
        return np.full(a.shape, 0xFFFFFFFF, dtype=np.uint32)
    with np.errstate(over="ignore"):
        phv = ((hashes[:, None] * a[None, :] + b[None, :]) % _MERSENNE) & _MAX32
    return phv.min(axis=0).astype(np.uint32)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> list[bytes]:
    """One bucket key per band: band index plus a hash of that band's rows."""
    return [bytes([i]) + xxhash.xxh64_digest(sig[i * rows : (i + 1) * rows].tobytes()) for i in range(bands)]


def jaccard_estimate(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b))


def rank_key(published_at: dt.datetime | None, word_count: int, article_id: str) -> tuple:
    """Sort key of the article to keep: earliest published (dated before undated), then most complete, then id."""
    ts = published_at.timestamp() if published_at is not None else math.inf
    return (ts, -word_count, article_id)


@dataclasses.dataclass(frozen=True)
class Node:
    """What the component step needs of an article."""

    rank: tuple
    article_id: str
    content_hash: str
    canonical_url: str | None


def dedup_text(a: CleanArticle) -> str:
    """What copies are compared on: the body, or the title of a headline-only article."""
    return a.text if a.text.strip() else (a.title or "")


def node_of(a: CleanArticle) -> Node:
    return Node(rank_key(a.published_at, a.word_count, a.article_id), a.article_id, content_hash(dedup_text(a)), a.canonical_url)


def star_edges(members: Iterable[Node]) -> Iterator[tuple[Node, Node]]:
    """Edges from the best-ranked member of a group to every other member (enough for components)."""
    ms = sorted(set(members), key=lambda n: n.rank)
    for other in ms[1:]:
        yield ms[0], other


def verified_bucket_edges(members: Iterable[tuple[Node, bytes]], threshold: float) -> Iterator[tuple[Node, Node]]:
    """Edges from each LSH bucket's best member to members whose estimated Jaccard reaches the threshold."""
    ms = sorted({n.article_id: (n, s) for n, s in members}.values(), key=lambda x: x[0].rank)
    if len(ms) < 2:
        return
    head, head_sig = ms[0][0], np.frombuffer(ms[0][1], dtype=np.uint16)
    for node, sig in ms[1:]:
        if jaccard_estimate(head_sig, np.frombuffer(sig, dtype=np.uint16)) >= threshold:
            yield head, node


def resolve_duplicates(edges: Iterable[tuple[Node, Node]]) -> dict[str, tuple[str, str]]:
    """Union-find over copy edges -> {article_id: (duplicate_of, duplicate_kind)} for every non-kept member."""
    parent: dict[str, str] = {}
    nodes: dict[str, Node] = {}

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
        same = n.content_hash == keep.content_hash or (n.canonical_url is not None and n.canonical_url == keep.canonical_url)
        out[aid] = (root, DUP_EXACT if same else DUP_NEAR)
    return out


class SignatureFn(beam.DoFn):
    """CleanArticle -> (bucket key, (Node, 16-bit signature bytes)) for each LSH band."""

    def __init__(self, cfg: DedupConfig):
        self.cfg = cfg

    def setup(self):
        self.perms = permutations(self.cfg.num_perm, self.cfg.seed)
        self.bands, self.rows = self.cfg.bands_rows

    def process(self, a: CleanArticle):
        sig = minhash(shingle_hashes(dedup_text(a), self.cfg.shingle_size), self.perms)
        # Buckets carry 16-bit MinHash values (b-bit MinHash, Li & Koenig 2010): half the bytes in the
        # shuffle, and two unequal 32-bit values agree on their low 16 bits only 1 time in 65536.
        node, raw = node_of(a), (sig & 0xFFFF).astype(np.uint16).tobytes()
        for key in band_keys(sig, self.bands, self.rows):
            yield key, (node, raw)


class FindDuplicates(beam.PTransform):
    """PCollection[CleanArticle] -> PCollection[(article_id, (duplicate_of, duplicate_kind))], copies only.

    Exact copies share a normalised-text hash or a canonical URL; near copies share an LSH bucket and
    an estimated Jaccard >= threshold. Components are resolved in one step over the (few) edges.
    """

    def __init__(self, cfg: DedupConfig = DedupConfig()):
        super().__init__()
        self.cfg = cfg

    def expand(self, articles):
        nodes = articles | "Node" >> beam.Map(node_of)
        # (content_hash, Node) -> edges
        by_hash = (
            nodes
            | "KeyByHash" >> beam.Map(lambda n: (n.content_hash, n))
            | "GroupByHash" >> beam.GroupByKey()
            | "HashEdges" >> beam.FlatMap(lambda kv: star_edges(kv[1]))
        )
        # (canonical_url, Node) -> edges
        by_url = (
            nodes
            | "WithUrl" >> beam.Filter(lambda n: n.canonical_url is not None)
            | "KeyByUrl" >> beam.Map(lambda n: (n.canonical_url, n))
            | "GroupByUrl" >> beam.GroupByKey()
            | "UrlEdges" >> beam.FlatMap(lambda kv: star_edges(kv[1]))
        )
        # (band key, (Node, signature)) -> verified edges
        threshold = self.cfg.threshold
        near = (
            articles
            | "Signatures" >> beam.ParDo(SignatureFn(self.cfg))
            | "GroupByBand" >> beam.GroupByKey()
            | "NearEdges" >> beam.FlatMap(lambda kv: verified_bucket_edges(kv[1], threshold))
        )
        return (
            (by_hash, by_url, near)
            | "AllEdges" >> beam.Flatten()
            | "OneKey" >> beam.Map(lambda e: (None, e))
            | "GatherEdges" >> beam.GroupByKey()
            | "Components" >> beam.FlatMap(lambda kv: resolve_duplicates(kv[1]).items())
        )


# --------------------------------------------------------------------------------------------
# Copies of articles that earlier runs wrote (scheduled runs, --only_new).
# --------------------------------------------------------------------------------------------

EARLIER_COLUMNS = ["content_hash", "article_id", "duplicate_of", "story_id", "run_id"]


def earlier_rows(readable_file) -> Iterator[tuple[str, tuple[str, str, str]]]:
    """(content_hash, (run_id, kept article_id, story_id)) for each row of one earlier `articles` Parquet file;
    the kept article is the row's `duplicate_of`, or the row itself."""
    import pyarrow.parquet as pq

    with readable_file.open() as f:
        table = pq.read_table(f, columns=EARLIER_COLUMNS)
    for row in table.to_pylist():
        yield row["content_hash"], (row["run_id"], row["duplicate_of"] or row["article_id"], row["story_id"])


class SplitEarlierCopiesFn(beam.DoFn):
    def process(self, a: CleanArticle, earlier: dict):
        hit = earlier.get(content_hash(dedup_text(a)))
        if hit is None:
            yield a
            return
        _, kept, story_id = hit
        yield beam.pvalue.TaggedOutput(
            "copies", (a, StoryAssignment(a.article_id, story_id, is_canonical=False, duplicate_of=kept, duplicate_kind=DUP_EXACT))
        )


class MarkEarlierCopies(beam.PTransform):
    """PCollection[CleanArticle] -> {new: PCollection[CleanArticle], copies: PCollection[(CleanArticle, StoryAssignment)]}.

    An article whose normalised text (`content_hash`) is that of an article in the Parquet files matching
    `earlier_glob` (earlier runs' `articles`) is an exact copy of that article's kept article, in its story;
    the earliest run's row decides. Every other article is new and goes on to this run's copies and stories.
    The earlier hashes reach the split as a side input (300-400 bytes of memory per earlier article).
    """

    def __init__(self, earlier_glob: str):
        super().__init__()
        self.earlier_glob = earlier_glob

    def expand(self, articles):
        from apache_beam.io import fileio
        from apache_beam.io.fileio import EmptyMatchTreatment

        earlier = (
            articles.pipeline
            | "EarlierGlob" >> beam.Create([self.earlier_glob])
            | "MatchEarlier" >> fileio.MatchAll(EmptyMatchTreatment.ALLOW)
            | "ReadEarlier" >> fileio.ReadMatches()
            | "EarlierRows" >> beam.FlatMap(earlier_rows)
            | "FirstRun" >> beam.CombinePerKey(min)
        )
        split = articles | "SplitEarlierCopies" >> beam.ParDo(SplitEarlierCopiesFn(), beam.pvalue.AsDict(earlier)).with_outputs(
            "copies", main="new"
        )
        return {"new": split["new"], "copies": split["copies"]}
