"""Copy detection: exact copies (same normalised text or canonical URL) and near copies (MinHash LSH).

Stages, as in text-dedup: signature -> band buckets -> verified candidate edges -> components.
Each component keeps its best article (earliest published, then most complete); every other
member points to it with `duplicate_of` and `duplicate_kind` (`exact` or `near`).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Iterator

import apache_beam as beam
import numpy as np
import pyarrow as pa
import xxhash

from schemas.records import DUP_EXACT, DUP_NEAR, CleanArticle, StoryAssignment
from schemas.layout import SIGNATURES_STATE as SIGNATURES_DIR
from schemas.state import SIGNATURES_SCHEMA
from schemas.state import signature_row as _signature_row
from transforms.earlier import ReadEarlierState
from transforms.fingerprints import comparison_text, content_hash, normalise_text, rank_key

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



@dataclasses.dataclass(frozen=True)
class Node:
    """What the component step needs of an article."""

    rank: tuple
    article_id: str
    content_hash: str
    canonical_url: str | None


def dedup_text(a: CleanArticle) -> str:
    """What copies are compared on: the body, or the title of a headline-only article."""
    return comparison_text(a.text, a.title)


def node_of(a: CleanArticle) -> Node:
    return Node(rank_key(a.published_at, a.word_count, a.article_id), a.article_id, a.content_hash, a.canonical_url)


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


def signature_of(a: CleanArticle, perms: tuple[np.ndarray, np.ndarray], cfg: DedupConfig) -> np.ndarray:
    """The MinHash signature an article's copies are compared on."""
    return minhash(shingle_hashes(dedup_text(a), cfg.shingle_size), perms)


SIGNATURES = "signatures"
_SIG_DTYPE = np.dtype("<u4")  # whole signatures as stored: little-endian uint32


class SignatureFn(beam.DoFn):
    """CleanArticle -> (bucket key, (Node, 16-bit signature bytes)) for each LSH band, and with `keep` the whole
    signature as ('signatures', (article_id, signature bytes))."""

    def __init__(self, cfg: DedupConfig, keep: bool = False):
        self.cfg = cfg
        self.keep = keep

    def setup(self):
        self.perms = permutations(self.cfg.num_perm, self.cfg.seed)
        self.bands, self.rows = self.cfg.bands_rows

    def process(self, a: CleanArticle):
        sig = signature_of(a, self.perms, self.cfg)
        # Buckets carry 16-bit MinHash values (b-bit MinHash, Li & Koenig 2010): half the bytes in the
        # shuffle, and two unequal 32-bit values agree on their low 16 bits only 1 time in 65536.
        node, raw = node_of(a), (sig & 0xFFFF).astype(np.uint16).tobytes()
        for key in band_keys(sig, self.bands, self.rows):
            yield key, (node, raw)
        if self.keep:
            yield beam.pvalue.TaggedOutput(SIGNATURES, (a.article_id, sig.astype(_SIG_DTYPE).tobytes()))


class FindDuplicates(beam.PTransform):
    """PCollection[CleanArticle] -> PCollection[(article_id, (duplicate_of, duplicate_kind))], copies only.

    Exact copies share a normalised-text hash or a canonical URL; near copies share an LSH bucket and
    an estimated Jaccard >= threshold. Components are resolved in one step over the (few) edges.
    With `with_signatures` the result is {copies: that, signatures: PCollection[(article_id, MinHash bytes)]}
    for every article, so later runs can be compared with this one (WriteRunState) without a second MinHash.
    """

    def __init__(self, cfg: DedupConfig = DedupConfig(), with_signatures: bool = False):
        super().__init__()
        self.cfg = cfg
        self.with_signatures = with_signatures

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
        signed = articles | "Signatures" >> beam.ParDo(SignatureFn(self.cfg, self.with_signatures)).with_outputs(SIGNATURES, main="bands")
        near = (
            signed["bands"]
            | "GroupByBand" >> beam.GroupByKey()
            | "NearEdges" >> beam.FlatMap(lambda kv: verified_bucket_edges(kv[1], threshold))
        )
        copies = (
            (by_hash, by_url, near)
            | "AllEdges" >> beam.Flatten()
            | "OneKey" >> beam.Map(lambda e: (None, e))
            | "GatherEdges" >> beam.GroupByKey()
            | "Components" >> beam.FlatMap(lambda kv: resolve_duplicates(kv[1]).items())
        )
        return {"copies": copies, SIGNATURES: signed[SIGNATURES]} if self.with_signatures else copies


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
        hit = earlier.get(a.content_hash)
        if hit is None:
            yield a
            return
        _, kept, story_id = hit
        yield beam.pvalue.TaggedOutput(
            "copies", (a, StoryAssignment(a.article_id, story_id, is_canonical=False, duplicate_of=kept, duplicate_kind=DUP_EXACT))
        )


# Near copies across runs: every run keeps the MinHash signature of each article it kept (not of its
# copies) in <output>/_state/signatures/; a later --only_new run looks its new articles up there.


def _signature_setting(cfg: DedupConfig) -> tuple[int, int, int]:
    """What makes two signatures comparable: rows written with other settings are not looked at."""
    return cfg.num_perm, cfg.seed, cfg.shingle_size


class _FullSignatureFn(beam.DoFn):
    """CleanArticle -> (article_id, MinHash signature bytes)."""

    def __init__(self, cfg: DedupConfig):
        self.cfg = cfg

    def setup(self):
        self.perms = permutations(self.cfg.num_perm, self.cfg.seed)

    def process(self, a: CleanArticle):
        sig = signature_of(a, self.perms, self.cfg)
        yield a.article_id, sig.astype(_SIG_DTYPE).tobytes()


def earlier_signature_rows(readable_file, wanted: set, cfg: DedupConfig) -> Iterator[tuple[bytes, tuple]]:
    """(band key, (run_id, article_id, story_id, signature bytes)) for each band of each row of one earlier
    signatures file whose key is among `wanted` (the new articles' band keys) and whose settings match `cfg`."""
    import pyarrow.parquet as pq

    if not wanted:
        return
    bands, rows = cfg.bands_rows
    setting = _signature_setting(cfg)
    with readable_file.open() as f:
        table = pq.read_table(f)
    for row in table.to_pylist():
        if (row["num_perm"], row["seed"], row["shingle_size"]) != setting:
            continue
        sig = np.frombuffer(row["signature"], dtype=_SIG_DTYPE)
        for key in band_keys(sig, bands, rows):
            if key in wanted:
                yield key, (row["run_id"], row["article_id"], row["story_id"], row["signature"])


def earlier_matches(kv, threshold: float) -> Iterator[tuple[str, tuple]]:
    """(band key, {new: [(id, sig)], old: [(run_id, id, story_id, sig)]}) -> (new id, (-jaccard, run_id, old id,
    story_id)) for each pair in the bucket whose estimated Jaccard reaches the threshold."""
    _, grouped = kv
    olds = [(o, np.frombuffer(o[3], dtype=_SIG_DTYPE)) for o in grouped["old"]]
    if not olds:
        return
    for aid, raw in grouped["new"]:
        sig = np.frombuffer(raw, dtype=_SIG_DTYPE)
        for (run_id, old_id, story_id, _), old_sig in olds:
            j = jaccard_estimate(sig, old_sig)
            if j >= threshold:
                yield aid, (-j, run_id, old_id, story_id)


class SplitNearCopiesFn(beam.DoFn):
    """CleanArticle -> itself when new, or ('copies', (a, StoryAssignment)) when `matches` names its earlier original."""

    def process(self, a: CleanArticle, matches: dict):
        hit = matches.get(a.article_id)
        if hit is None:
            yield a
            return
        _, _, old_id, story_id = hit
        yield beam.pvalue.TaggedOutput(
            "copies", (a, StoryAssignment(a.article_id, story_id, is_canonical=False, duplicate_of=old_id, duplicate_kind=DUP_NEAR))
        )


def signature_row(article_id: str, story_id: str, signature: bytes, cfg: DedupConfig, run_id: str) -> dict:
    """A signatures state row for an article a run kept (see WriteRunState in transforms/stories.py)."""
    return _signature_row(article_id, story_id, signature, _signature_setting(cfg), run_id)


class MarkEarlierCopies(beam.PTransform):
    """PCollection[CleanArticle] -> {new: PCollection[CleanArticle], copies: PCollection[(CleanArticle, StoryAssignment)]}.

    An article whose normalised text (`content_hash`) is that of an article in the Parquet files matching
    `earlier_glob` (earlier runs' `articles`) is an exact copy of that article's kept article, in its story;
    the earliest run's row decides. The earlier hashes reach the split as a side input (300-400 bytes of
    memory per earlier article).

    With `signatures_glob` (earlier runs' signatures, see WriteRunState), an article that is not an exact
    copy but shares an LSH band with an earlier kept article and reaches `cfg.threshold` estimated Jaccard
    with it is a near copy of it, in its story (the most similar one; ties: the earliest run). Only earlier
    rows in a band of this run's new articles are shuffled. Every other article is new and goes on to this
    run's copies and stories.
    """

    def __init__(self, earlier_glob: str, signatures_glob: str | None = None, cfg: DedupConfig = DedupConfig()):
        super().__init__()
        self.earlier_glob = earlier_glob
        self.signatures_glob = signatures_glob
        self.cfg = cfg

    def expand(self, articles):
        earlier = (
            articles.pipeline
            | "ReadEarlier" >> ReadEarlierState(self.earlier_glob, earlier_rows)
            | "FirstRun" >> beam.CombinePerKey(min)
        )
        split = articles | "SplitEarlierCopies" >> beam.ParDo(SplitEarlierCopiesFn(), beam.pvalue.AsDict(earlier)).with_outputs(
            "copies", main="new"
        )
        if self.signatures_glob is None:
            return {"new": split["new"], "copies": split["copies"]}
        cfg = self.cfg
        bands, rows = cfg.bands_rows
        sigs = split["new"] | "NewSignatures" >> beam.ParDo(_FullSignatureFn(cfg))
        probes = sigs | "ProbeKeys" >> beam.FlatMap(
            lambda kv: ((key, kv) for key in band_keys(np.frombuffer(kv[1], dtype=_SIG_DTYPE), bands, rows))
        )
        wanted = beam.pvalue.AsSingleton(
            probes | "WantedKeys" >> beam.Keys() | "WantedSet" >> beam.CombineGlobally(beam.combiners.ToSetCombineFn())
        )
        olds = articles.pipeline | "ReadSignatures" >> ReadEarlierState(self.signatures_glob, earlier_signature_rows, wanted, cfg)
        threshold = cfg.threshold
        best = (
            {"new": probes, "old": olds}
            | "GroupByBand" >> beam.CoGroupByKey()
            | "EarlierMatches" >> beam.FlatMap(earlier_matches, threshold)
            | "BestMatch" >> beam.CombinePerKey(min)
        )
        # The matches (near copies only, a few per run) reach the articles as a side input: no shuffle of text.
        near = split["new"] | "SplitNearCopies" >> beam.ParDo(SplitNearCopiesFn(), beam.pvalue.AsDict(best)).with_outputs(
            "copies", main="new"
        )
        copies = (split["copies"], near["copies"]) | "AllEarlierCopies" >> beam.Flatten()
        return {"new": near["new"], "copies": copies}
