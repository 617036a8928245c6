"""The copy-detection composite: FindCopies (exact and near copies within one run) and its signature DoFn."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.windowed_value import WindowedValue

from schemas.records import CleanArticle
from transforms.copies.components import (
    article_ref,
    band_entries,
    bucket_members,
    candidate_of,
    colliding_buckets,
    packed_candidate,
    resolve_copies,
    star_edges,
    unpacked_candidate,
    verified_bucket_edges,
)
from transforms.copies.config import CopyConfig
from transforms.copies.minhash import article_shingles, band_digests, band_signature, minhash, permutations, stored_signature
from transforms.graphs import ConnectedComponentsFn

COPIES = "copies"
SIGNATURES = "signatures"
_BANDS = "bands"
_INFO = "info"
# Articles whose band entries are packed into one batch per shard (per bundle at most this many).
_BATCH = 2000


class SignatureFn(beam.DoFn):
    """CleanArticle -> (shard, packed band entries) batches (main output: components.band_entries, every LSH band
    of the articles of a bundle), ('info', (ref, packed CopyCandidate and 16-bit band signature)) per article and
    ('signatures', (article_id, whole signature bytes)) for later runs.

    The bands are not shuffled one by one: an article is in every band (32), and a shuffle that holds each
    element as an object would hold 32 records of it; packed, a band entry is 24 bytes.
    Guarantees: the same article gives the same entries and bytes under the same config (seeded permutations).
    """

    def __init__(self, cfg: CopyConfig):
        self.cfg = cfg

    def setup(self):
        self.perms = permutations(self.cfg.num_perm, self.cfg.seed)
        self.bands, self.rows = self.cfg.bands_rows

    def start_bundle(self):
        self.digests, self.refs = [], []

    def process(self, a: CleanArticle):
        hashes = article_shingles(a, self.cfg.shingle_size)
        sig = minhash(hashes, self.perms)
        ref = article_ref(a.article_id)
        yield beam.pvalue.TaggedOutput(_INFO, (ref, packed_candidate(candidate_of(a, int(hashes.size)), band_signature(sig))))
        yield beam.pvalue.TaggedOutput(SIGNATURES, (a.article_id, stored_signature(sig)))
        self.digests.append(band_digests(sig, self.bands, self.rows))
        self.refs.append(ref)
        if len(self.refs) >= _BATCH:
            yield from self._flush()

    def _flush(self):
        batch = list(band_entries(self.digests, self.refs))
        self.digests, self.refs = [], []
        return batch

    def finish_bundle(self):
        for kv in self._flush():
            yield WindowedValue(kv, GlobalWindow().max_timestamp(), [GlobalWindow()])


class FindCopies(beam.PTransform):
    """PCollection[CleanArticle] -> {copies: PCollection[(article_id, (duplicate_of, duplicate_kind))],
    signatures: PCollection[(article_id, MinHash bytes)]}.

    Stages, as in text-dedup: signature -> band buckets -> verified candidate edges -> components.
    Exact copies share a normalised-text hash or a canonical URL; near copies share an LSH bucket and
    reach the threshold's estimated Jaccard, or hold a trimmed or lightly reworded short text
    (components.is_near_copy). Each component keeps its best article (earliest published, then
    most complete); `copies` names every other member once, with the kept article and `exact` or `near`.
    `signatures` has every input article's whole signature, so later runs can be compared with this one
    (the run state) without a second MinHash.
    """

    def __init__(self, cfg: CopyConfig = CopyConfig()):
        super().__init__()
        self.cfg = cfg

    def expand(self, articles):
        candidates = articles | "Candidates" >> beam.Map(candidate_of)
        # (content_hash, CopyCandidate) -> edges
        by_hash = (
            candidates
            | "KeyByHash" >> beam.Map(lambda n: (n.content_hash, n))
            | "GroupByHash" >> beam.GroupByKey()
            | "HashEdges" >> beam.FlatMap(lambda kv: star_edges(kv[1]))
        )
        # A shared (canonical) URL alone is no edge: two posts of a blog may both name its home page as their
        # canonical URL. Articles at one URL are copies only when their texts agree (the hash or the near edges).
        # (shard, packed band entries) -> (ref, bucket) of each article in a bucket of 2+ -> with its candidate
        # -> (bucket, candidate) -> verified edges
        cfg = self.cfg
        signed = articles | "Signatures" >> beam.ParDo(SignatureFn(self.cfg)).with_outputs(SIGNATURES, _INFO, main=_BANDS)
        buckets = (
            signed[_BANDS]
            | "GroupByBandShard" >> beam.GroupByKey()
            | "CollidingBuckets" >> beam.FlatMap(lambda kv: colliding_buckets(kv[1]))
        )
        near = (
            {"bucket": buckets, "info": signed[_INFO]}
            | "JoinBucketCandidates" >> beam.CoGroupByKey()
            | "BucketMembers" >> beam.FlatMap(bucket_members)
            | "GroupByBucket" >> beam.GroupByKey()
            | "NearEdges" >> beam.FlatMap(lambda kv: verified_bucket_edges(map(unpacked_candidate, kv[1]), cfg))
        )
        edges = (by_hash, near) | "AllEdges" >> beam.Flatten()
        # (article_id, article_id) -> {article_id: component}: ids only, merged from each worker's forest
        component = beam.pvalue.AsSingleton(
            edges
            | "EdgeEnds" >> beam.Map(lambda e: (e[0].article_id, e[1].article_id))
            | "ConnectedComponents" >> beam.CombineGlobally(ConnectedComponentsFn())
        )
        # (component, edge) -> each component resolved on its own (components are independent)
        copies = (
            edges
            | "KeyByComponent" >> beam.Map(lambda e, comp: (comp[e[0].article_id], e), component)
            | "GroupByComponent" >> beam.GroupByKey()
            | "Components" >> beam.FlatMap(lambda kv: resolve_copies(kv[1]).items())
        )
        return {COPIES: copies, SIGNATURES: signed[SIGNATURES]}
