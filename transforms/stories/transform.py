"""The stories composites: ClusterEvents, ClusterWithEarlierStories, AssembleStories and GroupStories at the face."""
from __future__ import annotations

import apache_beam as beam

from schemas.records import ArticleTerms, CleanArticle
from transforms.earlier import ReadEarlierState
from transforms.graphs import ConnectedComponentsFn
from transforms.stories.assembly import (
    COPIES,
    STORIES,
    assemble_story,
    attach_copies,
    attach_label,
    join_article,
    member_of,
    packed,
    packed_article,
    split_copies,
    with_member,
)
from transforms.stories.blocking import block_keys, packed_vector, shard_pairs, vector_shards
from transforms.stories.config import StoryConfig
from transforms.stories.continuation import earlier_in_cluster, earlier_terms, merged_windows, story_label
from transforms.stories.dense import DenseEncoder, dense_text, dense_vector, wants_dense
from transforms.stories.linkage import average_linkage
from transforms.stories.vectors import DocFreq, DocFreqFn, article_terms, tfidf_vector

ARTICLES = "articles"
TERMS = "terms"
LABELS = "labels"
CONTINUED = "continued"


class ArticleTermsFn(beam.DoFn):
    """CleanArticle -> (article_id, packed ArticleTerms), with its dense vector (a DenseTerms) when StoryConfig.dense
    names the article; the dense model is loaded by the first such article (a run without one never loads it)."""

    def __init__(self, cfg: StoryConfig):
        self.cfg = cfg

    def setup(self):
        self.encoder = None

    def process(self, a: CleanArticle):
        dense = None
        if wants_dense(a, self.cfg):
            if self.encoder is None:
                self.encoder = DenseEncoder()
            dense = self.encoder.encode(dense_text(a.title, a.text, self.cfg.dense_words))
        yield a.article_id, packed(article_terms(a, self.cfg, dense))


UNDATED_KEYS = "undated_keys"


class VectorFn(beam.DoFn):
    """ArticleTerms -> (shard, packed ArticleVector) for each block shard the article is in (blocking.vector_shards;
    main output), and ('undated_keys', block key) for each of its blocks with undated articles; the corpus DocFreq
    is a side input. One step does both, so a worker holds one decoded copy of the DocFreq, not one per step."""

    def __init__(self, cfg: StoryConfig):
        self.cfg = cfg

    def process(self, t: ArticleTerms, dfs: DocFreq):
        dense = dense_vector(getattr(t, "dense", None))
        v = tfidf_vector(t.article_id, t.rank, t.ts, t.counts, dfs, self.cfg, t.headline, dense, getattr(t, "language", None))
        undated = dfs.undated > 0
        packed = packed_vector(v)
        for shard in vector_shards(v, undated, self.cfg):
            yield shard, packed
        if undated:
            for key in block_keys(v, undated, self.cfg):
                if key[1] is None:
                    yield beam.pvalue.TaggedOutput(UNDATED_KEYS, key)


def compact_edge(e: tuple) -> tuple:
    """A scored pair ((id, rank, ts, headline), (id, rank, ts, headline), similarity) as one flat tuple (fewer
    objects per element where a runner holds a shuffle in memory); full_edge undoes it."""
    (a, ra, ta, ha), (b, rb, tb, hb), s = e
    return a, ra, ta, ha, b, rb, tb, hb, s


def full_edge(c: tuple) -> tuple:
    a, ra, ta, ha, b, rb, tb, hb, s = c
    return (a, ra, ta, ha), (b, rb, tb, hb), s


class AssembleStoryFn(beam.DoFn):
    """(story label, [(StoryMember, copy info)]) -> (article_id, StoryAssignment) for each member (main output)
    and ('stories', StoryRow) once. See assembly.assemble_story."""

    def process(self, kv):
        assignments, row = assemble_story(*kv)
        yield from assignments
        yield beam.pvalue.TaggedOutput(STORIES, row)


class ClusterEvents(beam.PTransform):
    """PCollection[ArticleTerms] (no copies) -> PCollection[(article_id, cluster label)] for clustered articles.

    Document frequencies in one global combine (side input) -> one sparse TF-IDF vector per article ->
    blocks keyed by (strong rare term, time slice), scored per time slice (blocking.shard_pairs: a vector
    crosses that shuffle once per slice, not once per block) -> cosine scores inside blocks (each pair
    scored once) -> connected components of the scored pairs (ids only) -> average-linkage clustering per
    component. A cluster's label is its best-ranked member's id. Articles that join no other article are
    absent from the output: each is a story of its own.
    """

    def __init__(self, cfg: StoryConfig = StoryConfig()):
        super().__init__()
        self.cfg = cfg

    def expand(self, terms):
        cfg = self.cfg
        dfs = beam.pvalue.AsSingleton(
            terms
            | "TermSets" >> beam.Map(lambda t: (list(t.counts[0].keys()), t.ts is not None))
            | "DocFreq" >> beam.CombineGlobally(DocFreqFn()).without_defaults()
        )
        vecs = terms | "Vectors" >> beam.ParDo(VectorFn(cfg), dfs).with_outputs(UNDATED_KEYS, main="shards")
        # ((term, None), 1) -> the set of blocks with undated articles holding more than max_block articles (a
        # dated shard counts its own blocks); empty when every article is dated
        oversized_undated = beam.pvalue.AsSingleton(
            vecs[UNDATED_KEYS]
            | "UndatedBlockSizes" >> beam.combiners.Count.PerElement()
            | "Oversized" >> beam.Filter(lambda kv: kv[1] > cfg.max_block)
            | "OversizedKeys" >> beam.Keys()
            | "OversizedSet" >> beam.CombineGlobally(beam.combiners.ToSetCombineFn())
        )
        # (shard, packed ArticleVector) -> scored pairs of every block of the shard
        edges = (
            vecs["shards"]
            | "GroupByShard" >> beam.GroupByKey()
            | "ScoreShards" >> beam.FlatMap(lambda kv, o: shard_pairs(kv[0], kv[1], o, cfg), oversized_undated)
        )
        # (article_id, article_id) -> {article_id: component of the candidate graph}: ids only, merged from
        # each worker's union-find forest
        component = beam.pvalue.AsSingleton(
            edges
            | "EdgeEnds" >> beam.Map(lambda e: (e[0][0], e[1][0]))
            | "ConnectedComponents" >> beam.CombineGlobally(ConnectedComponentsFn())
        )
        # (component, edge) -> average linkage per component: clusters only ever merge along edges, so the
        # clustering of each component alone is that of the whole graph, and components spread over workers
        return (
            edges
            | "KeyByComponent" >> beam.Map(lambda e, comp: (comp[e[0][0]], compact_edge(e)), component)
            | "GroupByComponent" >> beam.GroupByKey()
            | "AverageLinkage" >> beam.FlatMap(lambda kv: average_linkage(map(full_edge, kv[1]), cfg).items())
        )


class ClusterWithEarlierStories(beam.PTransform):
    """PCollection[ArticleTerms] (no copies) -> {labels: PCollection[(article_id, cluster label)],
    continued: PCollection[(cluster label, earlier story_id)]}.

    The articles are clustered (ClusterEvents) together with the earlier runs' articles in the story_terms
    files matching `earlier_glob` that were published within the window of one of them. `labels` may name
    earlier articles (earlier_article_id ids, never this run's); `continued` gives each cluster holding
    earlier articles the story of its best-ranked earlier article.
    """

    def __init__(self, earlier_glob: str, cfg: StoryConfig = StoryConfig()):
        super().__init__()
        self.earlier_glob, self.cfg = earlier_glob, cfg

    def expand(self, terms):
        cfg = self.cfg
        windows = beam.pvalue.AsSingleton(
            terms
            | "DatedTimes" >> beam.FlatMap(lambda t: [t.ts] if t.ts is not None else [])
            | "AllTimes" >> beam.combiners.ToList()
            | "Windows" >> beam.Map(merged_windows, cfg.window_s)
        )
        # (ArticleTerms, story_id) of each earlier article within the windows
        earlier = terms.pipeline | "ReadEarlierTerms" >> ReadEarlierState(self.earlier_glob, earlier_terms, windows, cfg)
        labels = (
            (terms, earlier | "EarlierOnly" >> beam.Map(lambda e: e[0])) | "WithEarlier" >> beam.Flatten()
            | "ClusterEvents" >> ClusterEvents(cfg)
        )
        # (label, story_id) of each cluster holding earlier articles: the best-ranked one's story
        continued = (
            {"label": labels, "earlier": earlier | "EarlierStory" >> beam.Map(lambda e: (e[0].article_id, (e[0].rank, e[1])))}
            | "JoinEarlierLabels" >> beam.CoGroupByKey()
            | "EarlierInCluster" >> beam.FlatMap(earlier_in_cluster)
            | "BestEarlier" >> beam.CombinePerKey(min)
            | "ContinuedStory" >> beam.MapTuple(lambda label, rank_story: (label, rank_story[1]))
        )
        return {LABELS: labels, CONTINUED: continued}


class AssembleStories(beam.PTransform):
    """{articles: CleanArticle, uniques: ArticleTerms, copies: (kept id, (copy id, kind)), labels: (article_id,
    cluster label)[, continued: (cluster label, earlier story_id)]} -> {articles: PCollection[(CleanArticle,
    StoryAssignment)], stories: PCollection[StoryRow]}.

    Guarantees: every article comes out once; copies point to their kept article and share its story; each
    story has exactly one canonical article (assembly.assemble_story). Verdicts are computed on light records;
    the full articles (with text) meet their verdict in one join at the end.
    """

    def expand(self, inputs):
        articles, uniques = inputs[ARTICLES], inputs["uniques"]
        members = articles | "StoryMembers" >> beam.Map(lambda a: (a.article_id, member_of(a)))
        # (article_id, {kept, labels}) -> (article_id, label) for every non-copy
        kept_labels = (
            {"kept": uniques | "KeyUnique" >> beam.Map(lambda t: (t.article_id, None)), "labels": inputs[LABELS]}
            | "JoinLabels" >> beam.CoGroupByKey()
            | "AttachLabel" >> beam.FlatMap(attach_label)
        )
        # (kept id, {label, copies}) -> (article_id, (label, copy info)) for every article
        verdicts = (
            {"label": kept_labels, "copies": inputs[COPIES]}
            | "JoinKeptAndCopies" >> beam.CoGroupByKey()
            | "AttachCopies" >> beam.FlatMap(attach_copies)
        )
        # (article_id, {verdict, member}) -> (story label, (StoryMember, copy info))
        by_label = (
            {"verdict": verdicts, "member": members}
            | "JoinMembers" >> beam.CoGroupByKey()
            | "WithMember" >> beam.FlatMap(with_member)
        )
        if CONTINUED in inputs:
            continued = beam.pvalue.AsDict(inputs[CONTINUED])
            by_label = by_label | "ContinuedLabel" >> beam.Map(lambda kv, cont: (story_label(kv[0], cont), kv[1]), continued)
        # (story label, [(StoryMember, copy info)]) -> one story
        assembled = (
            by_label
            | "GroupByStory" >> beam.GroupByKey()
            | "AssembleStory" >> beam.ParDo(AssembleStoryFn()).with_outputs(STORIES, main="assignments")
        )
        # (article_id, {article, verdict}) -> (CleanArticle, StoryAssignment): the one join of full articles
        joined = (
            {"article": articles | "KeyById" >> beam.Map(lambda a: (a.article_id, packed_article(a))), "verdict": assembled["assignments"]}
            | "JoinArticles" >> beam.CoGroupByKey()
            | "ArticleVerdicts" >> beam.FlatMap(join_article)
        )
        return {ARTICLES: joined, STORIES: assembled[STORIES]}


class GroupStories(beam.PTransform):
    """{articles: PCollection[CleanArticle], copies: PCollection[(article_id, (duplicate_of, duplicate_kind))]}
    -> {articles: PCollection[(CleanArticle, StoryAssignment)], stories: PCollection[StoryRow],
    terms: PCollection[ArticleTerms]}.

    `copies` is the copy verdicts of these articles (FindCopies). The non-copies are clustered into same-event
    stories (ClusterEvents); with `earlier_glob` (earlier runs' story_terms state) together with the earlier
    articles published within the window of them, joining the story of the earlier articles their cluster
    holds. `terms` is the clustered (non-copy) articles' term counts: state for later runs.

    Guarantees: every input article comes out exactly once; copies point to the kept article
    (`duplicate_of`) and share its story; each story has exactly one canonical article, chosen among its
    non-copies as the earliest published, then the most complete.
    """

    def __init__(self, cfg: StoryConfig = StoryConfig(), earlier_glob: str | None = None):
        super().__init__()
        self.cfg = cfg
        self.earlier_glob = earlier_glob

    def expand(self, inputs):
        cfg = self.cfg
        articles = inputs[ARTICLES]
        terms = articles | "TermCounts" >> beam.ParDo(ArticleTermsFn(cfg))
        # (article_id, {terms, copies}) -> non-copies, and copies keyed by their kept article
        split = (
            {"terms": terms, "copies": inputs[COPIES]}
            | "JoinCopies" >> beam.CoGroupByKey()
            | "SplitCopies" >> beam.FlatMap(split_copies).with_outputs(COPIES, main="uniques")
        )
        uniques = split["uniques"]
        assembly = {ARTICLES: articles, "uniques": uniques, COPIES: split[COPIES]}
        if self.earlier_glob is None:
            assembly[LABELS] = uniques | "ClusterEvents" >> ClusterEvents(cfg)
        else:
            clustered = uniques | "ClusterWithEarlierStories" >> ClusterWithEarlierStories(self.earlier_glob, cfg)
            assembly[LABELS], assembly[CONTINUED] = clustered[LABELS], clustered[CONTINUED]
        stories = assembly | "AssembleStories" >> AssembleStories()
        return {ARTICLES: stories[ARTICLES], STORIES: stories[STORIES], TERMS: uniques}
