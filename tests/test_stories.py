"""Same-event stories: pure functions (term views, vectors, average linkage), then FindCopies + GroupStories in Beam.

Composite tests cover the time window, the no-chaining property (a bridging article does not merge
two stories), order invariance (shuffled input gives the same stories) and two sibling events of
the same kind staying apart.
"""
import datetime as dt
import random

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import BeamAssertException, assert_that

from schemas.records import UTC, CleanArticle, story_id_for
from schemas.state import STORY_TERMS_SCHEMA
from transforms.copies import FindCopies
from transforms.copies.transform import COPIES
from transforms.fingerprints import comparison_text, content_hash, rank_key
from transforms.stories import GroupStories, StoryConfig
from transforms.stories.assembly import StoryMember, assemble_story
from transforms.stories.blocking import (
    UNDATED_SHARDS,
    block_keys,
    block_pairs,
    enough_shared,
    packed_vector,
    pair_block,
    shard_pairs,
    time_slices,
    unpacked_vector,
    vector_shards,
    within_window,
)
from transforms.stories.continuation import (
    continued_label,
    continued_story,
    earlier_article_id,
    earlier_terms,
    merged_windows,
    story_label,
)
from transforms.stories.linkage import average_linkage, group_similarity
from transforms.stories.terms import term_id
from transforms.stories.vectors import ArticleVector, DocFreq, cosine, term_counts, tfidf_vector

CFG = StoryConfig()
T0 = dt.datetime(2024, 5, 6, 8, 0, tzinfo=UTC)


# ------------------------------------------------------------------------------------------
# Pure functions
# ------------------------------------------------------------------------------------------

def _h(word):
    return term_id(word, CFG)


def test_term_counts_views():
    full, names = term_counts("Quake hits Kerman", "Rescuers reached Kerman on Monday. The governor Ali Rezaei said so.")
    assert _h("kerman") in names and _h("rezaei") in names
    assert _h("rescuers") not in names  # sentence-initial capital is not a name
    assert _h("the") not in full and _h("said") not in full  # stopwords
    assert full[_h("kerman")] > full[_h("rescuers")]  # title and name weights


def test_title_only_article_counts_its_title_once():
    full, _ = term_counts("Quake hits Kerman", "Quake hits Kerman")
    assert full[_h("quake")] == CFG.title_weight


@pytest.mark.parametrize("kw", [{"threshold": 0.0}, {"threshold": 1.0}, {"window_days": 0}, {"min_edge": 0.5}, {"attach_neighbours": -1}],
                         ids=["thr0", "thr1", "window0", "min-edge", "attach"])
def test_story_config_rejects_bad_values(kw):
    with pytest.raises(ValueError):
        StoryConfig(**kw)


def test_tfidf_vectors_are_normalised_and_block_on_shared_terms():
    a = term_counts("Quake in Kerman", "The quake in Kerman killed twelve villagers near Zarand.")
    b = term_counts("Kerman earthquake", "Villagers near Zarand buried twelve victims of the Kerman quake.")
    dfs = DocFreq(2, dict(__import__("collections").Counter(list(a[0]) + list(b[0]))))
    va, vb = (tfidf_vector(x, (0,), None, c, dfs, CFG) for x, c in (("a", a), ("b", b)))
    # Two views, each of unit length scaled by sqrt(1/2): the whole vector has unit length.
    assert np.isclose(np.linalg.norm(va.weights), 1.0)
    assert set(va.blocks) <= set(va.terms.tolist()) and all(dfs.df[t] >= 2 for t in va.blocks)
    assert 0.3 < cosine(va, vb) <= 1.0
    assert np.isclose(cosine(va, va), 1.0)


def test_an_article_without_names_is_compared_on_its_words_alone():
    headline = term_counts("quake kills twelve villagers near zarand", "")
    named = term_counts("Quake in Kerman", "The quake in Kerman killed twelve villagers near Zarand.")
    assert not headline[1] and named[1]
    dfs = DocFreq(2, dict(__import__("collections").Counter(list(headline[0]) + list(named[0]))))
    vh, vn = (tfidf_vector(x, (0,), None, c, dfs, CFG) for x, c in (("h", headline), ("n", named)))
    words_only = tfidf_vector("w", (0,), None, (named[0], __import__("collections").Counter()), dfs, CFG)
    # One view with the whole unit norm (not half of it), two views each scaled by sqrt(1/2).
    assert np.isclose(np.linalg.norm(vh.weights), 1.0) and np.isclose(cosine(vh, vh), 1.0)
    assert np.isclose(cosine(vh, vn), np.sqrt(0.5) * cosine(vh, words_only))
    assert (vn.terms >= 1 << CFG.vocab_bits).any() and np.isclose(np.linalg.norm(vn.weights), 1.0)


@pytest.mark.parametrize(
    "a,b,expected",
    [(0.0, 3 * 86400.0, True), (0.0, 3 * 86400.0 + 1, False), (None, 1e9, True), (5.0, None, True)],
    ids=["at-window", "past-window", "undated-a", "undated-b"],
)
def test_within_window(a, b, expected):
    assert within_window(a, b, 3 * 86400.0) is expected


def test_articles_within_the_window_share_a_time_slice_and_one_scoring_block():
    rng = random.Random(5)
    w = CFG.window_days * 86400.0
    for _ in range(2000):
        ta = rng.uniform(0, 60 * 86400.0)
        tb = ta + rng.uniform(-w, w)
        assert set(time_slices(ta, CFG)) & set(time_slices(tb, CFG))
        a = ArticleVector("a", (ta,), ta, np.zeros(0, np.int32), np.zeros(0, np.float32), (3, 5))
        b = ArticleVector("b", (tb,), tb, np.zeros(0, np.int32), np.zeros(0, np.float32), (5, 7))
        key = pair_block(a, b, set(), CFG)
        assert key in block_keys(a, False, CFG) and key in block_keys(b, False, CFG) and key[0] == 5
    # An oversized block hands the pair to the next shared term; an undated article meets dated ones in (term, None).
    a = ArticleVector("a", (0.0,), 0.0, np.zeros(0, np.int32), np.zeros(0, np.float32), (3, 5))
    b = ArticleVector("b", (0.0,), 0.0, np.zeros(0, np.int32), np.zeros(0, np.float32), (3, 5))
    assert pair_block(a, b, {(3, time_slices(0.0, CFG)[-1])}, CFG)[0] == 5
    u = ArticleVector("u", (float("inf"),), None, np.zeros(0, np.int32), np.zeros(0, np.float32), (3,))
    assert pair_block(a, u, set(), CFG) == (3, None) and (3, None) in block_keys(a, True, CFG)
    assert (3, None) not in block_keys(a, False, CFG)


LONG = tuple(range(100, 100 + CFG.block_terms))  # a full quota of blocking terms: a long article


def test_a_pair_of_long_articles_sharing_one_rare_term_is_no_candidate():
    t = np.array([3, 5, 7], np.int32)
    w = np.full(3, 1 / np.sqrt(3), np.float32)
    a = ArticleVector("a", (0,), None, t, w, (3, 5) + LONG[2:])
    one = ArticleVector("b", (0,), None, t, w, (3, 9) + tuple(x + 100 for x in LONG[2:]))
    two = ArticleVector("c", (0,), None, t, w, (3, 5) + tuple(x + 200 for x in LONG[2:]))
    assert [e[1][0] for e in block_pairs((3, None), [a, one, two], set(), CFG)] == ["c"]
    assert len(list(block_pairs((3, None), [a, one], set(), StoryConfig(min_shared_terms=1)))) == 1


@pytest.mark.parametrize(
    "a,b,expected",
    [
        (LONG, LONG[:1] + tuple(x + 100 for x in LONG[1:]), False),  # two long articles, one shared term
        (LONG, LONG[:2] + tuple(x + 100 for x in LONG[2:]), True),  # two long articles, two shared terms
        (LONG, (LONG[0], 7, 9), True),  # a headline with three rare terms shares one with a long article
        ((LONG[0], 7), (LONG[0], 9), True),  # two headlines sharing one rare term
        ((5, 7), (8, 9), False),  # two headlines sharing none
    ],
    ids=["long-one", "long-two", "short-long-one", "short-short-one", "short-none"],
)
def test_enough_shared_blocking_terms(a, b, expected):
    assert enough_shared(a, b, CFG) is expected
    assert enough_shared(b, a, CFG) is expected


def node(aid, ts=None, headline=False):
    return (aid, (ts or 0.0, 0, aid), ts, headline)


def edges_two_groups_and_bridge(bridge_sim):
    a1, a2, b1, b2, x = node("a1"), node("a2"), node("b1"), node("b2"), node("x")
    return [(a1, a2, 0.9), (b1, b2, 0.9)] + [(x, n, bridge_sim) for n in (a1, a2, b1, b2)]


def test_average_linkage_does_not_chain_through_a_bridge():
    labels = average_linkage(edges_two_groups_and_bridge(0.5), CFG)
    assert labels["a1"] == labels["a2"] and labels["b1"] == labels["b2"]
    assert labels["a1"] != labels["b1"]


def test_single_link_would_have_chained():
    # The same graph with every bridge edge above the threshold: connected components would be one
    # cluster; average linkage keeps the two groups apart as long as the mean stays below threshold.
    labels = average_linkage(edges_two_groups_and_bridge(0.55), CFG)
    assert labels["a1"] != labels["b1"]


@pytest.mark.parametrize(
    "a,b,expected",
    [
        ((2, 0.5, True), (1, 0.0, True), 0.36 / np.sqrt(3.0)),  # two headline groups: centroid cosine
        ((2, 0.5, True), (1, 0.0, False), 0.18),  # a full article on one side: average
        ((2, 0.5, False), (1, 0.0, False), 0.18),  # full articles: average
    ],
    ids=["headlines-centroid", "mixed-average", "full-average"],
)
def test_group_similarity(a, b, expected):
    assert np.isclose(group_similarity(0.36, a, b), expected)
    assert np.isclose(group_similarity(0.36, b, a), expected)


@pytest.mark.parametrize("headline", [True, False], ids=["headlines-join", "articles-stay-apart"])
def test_a_headline_joins_a_headline_story_through_its_centroid(headline):
    # h3 is weakly similar to each of h1, h2 (average 0.18, below the threshold) but its centroid
    # cosine with {h1, h2} is 0.36 / sqrt(3) = 0.21: headlines join, full articles do not.
    h1, h2, h3 = (node(x, headline=headline) for x in ("h1", "h2", "h3"))
    labels = average_linkage([(h1, h2, 0.5), (h3, h1, 0.18), (h3, h2, 0.18)], CFG)
    assert labels["h1"] == labels["h2"]
    assert (labels.get("h3") == labels["h1"]) is headline


def test_a_bridging_headline_does_not_merge_two_headline_stories():
    a = [node(f"a{i}", headline=True) for i in range(4)]
    b = [node(f"b{i}", headline=True) for i in range(4)]
    x = node("x", headline=True)
    edges = [(g[i], g[j], 0.5) for g in (a, b) for i in range(4) for j in range(i + 1, 4)]
    edges += [(x, n, 0.4) for n in a + b]
    labels = average_linkage(edges, CFG)
    assert len({labels[n[0]] for n in a}) == 1 and len({labels[n[0]] for n in b}) == 1
    assert labels["a0"] != labels["b0"]


def test_average_linkage_respects_time_window():
    day = 86400.0
    a, b, c = node("a", 0.0), node("b", 2 * day), node("c", 4 * day)
    labels = average_linkage([(a, b, 0.9), (b, c, 0.9), (a, c, 0.9)], CFG)
    # a-c are 4 days apart: never in one story, whichever of them joins b.
    assert labels.get("a", "a") != labels.get("c", "c")


def big_story_and_a_late_article(n=13):
    """A story of n articles (all pairs 0.4) and x, similar to four of them (0.27, 0.22, 0.21, 0.20: average
    linkage's mean over the n is under the threshold)."""
    story = [node(f"s{i:02d}") for i in range(n)]
    edges = [(story[i], story[j], 0.4) for i in range(n) for j in range(i + 1, n)]
    x = node("x")
    return story, edges + [(x, m, s) for m, s in zip(story, (0.27, 0.22, 0.21, 0.20))]


@pytest.mark.parametrize("k", [0, 3], ids=["off", "k3"])
def test_an_article_close_to_part_of_a_big_story_joins_it_through_its_nearest_neighbours(k):
    import dataclasses

    story, edges = big_story_and_a_late_article()
    labels = average_linkage(edges, dataclasses.replace(CFG, attach_neighbours=k))
    assert len({labels[m[0]] for m in story}) == 1
    # mean of x's 3 strongest edges into the story: (0.27 + 0.22 + 0.21) / 3 = 0.233 >= 0.19
    assert (labels.get("x") == labels["s00"]) is (k == 3)


def test_an_article_whose_nearest_neighbours_are_weak_stays_alone():
    story = [node(f"s{i}") for i in range(6)]
    edges = [(story[i], story[j], 0.4) for i in range(6) for j in range(i + 1, 6)]
    x = node("x")
    # two strong edges, the third missing: (0.25 + 0.25 + 0) / 3 = 0.167 < 0.19
    labels = average_linkage(edges + [(x, story[0], 0.25), (x, story[1], 0.25)], CFG)
    assert "x" not in labels


def test_two_groups_larger_than_k_never_merge_by_nearest_neighbours():
    # Each b has two edges of 0.3 into a: linkage keeps them apart (mean 8 * 0.3 / 16 = 0.15), and a lone
    # b would join a ((0.3 + 0.3 + 0) / 3 = 0.2), but a group of four is no leftover.
    a = [node(f"a{i}") for i in range(4)]
    b = [node(f"b{i}") for i in range(4)]
    edges = [(g[i], g[j], 0.9) for g in (a, b) for i in range(4) for j in range(i + 1, 4)]
    edges += [(b[i], a[(i + d) % 4], 0.3) for i in range(4) for d in (0, 1)]
    labels = average_linkage(edges, CFG)
    assert len({labels[n[0]] for n in a}) == 1 and len({labels[n[0]] for n in b}) == 1
    assert labels["a0"] != labels["b0"]


def test_a_leftover_article_does_not_join_a_story_beyond_the_time_window():
    day = 86400.0
    story = [node(f"s{i:02d}", 0.0 + i * 3600.0) for i in range(13)]
    edges = [(story[i], story[j], 0.4) for i in range(13) for j in range(i + 1, 13)]
    x = node("x", 3.5 * day)
    labels = average_linkage(edges + [(x, m, s) for m, s in zip(story, (0.27, 0.22, 0.21, 0.20))], CFG)
    assert "x" not in labels



def test_two_leftovers_before_and_after_a_story_never_both_join_it():
    # Each is within the window of the story (days 1-2) alone: a at day 0, b at day 3.9; together 3.9 days.
    day = 86400.0
    story = [node(f"s{i}", day + i * day / 4) for i in range(5)]
    edges = [(story[i], story[j], 0.4) for i in range(5) for j in range(i + 1, 5)]
    a, b = node("a", 0.0), node("b", 3.9 * day)
    edges += [(a, m, 0.25) for m in story[:3]] + [(b, m, 0.3) for m in story[2:]]
    labels = average_linkage(edges, CFG)
    assert labels["b"] == labels["s0"]  # the stronger one joins (0.3 against 0.25)
    assert "a" not in labels


@pytest.mark.parametrize("seed", range(5))
def test_every_story_stays_within_the_time_window(seed):
    # Six stories of six articles spanning 1.5 days, each with four leftovers of three edges (0.20-0.35) into
    # it, up to 2.4 days from its centre: each alone may join, but not one on each side.
    rng = random.Random(seed)
    day, nodes, edges = 86400.0, [], []
    for s in range(6):
        centre = rng.uniform(0, 20 * day)
        story = [node(f"s{s}m{i}", centre + rng.uniform(-0.75, 0.75) * day) for i in range(6)]
        edges += [(a, b, 0.5) for i, a in enumerate(story) for b in story[i + 1:]]
        for j in range(4):
            x = node(f"s{s}x{j}", centre + rng.uniform(-2.4, 2.4) * day)
            edges += [(x, m, round(rng.uniform(0.2, 0.35), 3)) for m in rng.sample(story, 3)]
            nodes.append(x)
        nodes += story
    labels = average_linkage(edges, CFG)
    stories: dict[str, list[float]] = {}
    for n in nodes:
        if n[0] in labels:
            stories.setdefault(labels[n[0]], []).append(n[2])
    assert sum(len(ts) for ts in stories.values()) > 36  # some leftovers joined
    assert max(max(ts) - min(ts) for ts in stories.values()) <= CFG.window_days * day


# ------------------------------------------------------------------------------------------
# FindCopies + GroupStories in Beam
# ------------------------------------------------------------------------------------------

QUAKE_A = [
    ("Earthquake kills 12 in Kerman province",
     "A magnitude 6.1 earthquake struck Kerman province in southeastern Iran on Monday, killing at least 12 villagers "
     "near Zarand, the Red Crescent said. Governor Ali Rezaei said rescue teams from Tehran reached the damaged villages "
     "before dawn and that the Zarand hospital was treating dozens of injured."),
    ("Iran quake: rescuers search rubble near Zarand",
     "Rescuers dug through collapsed mud-brick homes near Zarand after the earthquake in Kerman province. Governor Ali Rezaei "
     "told state television the death toll stood at 12 and the Red Crescent sent tents and blankets to the villages."),
    ("Red Crescent sends aid after Kerman earthquake",
     "The Red Crescent flew tents to Zarand on Tuesday, a day after the Kerman earthquake killed 12 people. Ali Rezaei, "
     "the provincial governor, said roads to several villages around Zarand remained blocked by landslides."),
]
QUAKE_B = [
    ("Strong earthquake shakes Valparaiso, two dead",
     "A magnitude 6.4 earthquake shook Valparaiso in central Chile on Monday, killing two people in Vina del Mar, the "
     "emergency office Onemi said. President Gabriel Boric said Onemi teams were inspecting hillside homes in Valparaiso."),
    ("Chile quake: Boric visits Vina del Mar",
     "President Gabriel Boric visited Vina del Mar after the Valparaiso earthquake left two dead. Onemi officials said "
     "landslides blocked hillside streets and port operations in Valparaiso were suspended for inspection."),
    ("Valparaiso port reopens after earthquake",
     "The port of Valparaiso reopened on Tuesday after Monday's earthquake, which killed two people in Vina del Mar. "
     "Onemi said Gabriel Boric would return to inspect the hillside neighbourhoods."),
]
BRIDGE = ("Two earthquakes in one day: Kerman and Valparaiso",
          "Earthquakes struck Kerman province in Iran and Valparaiso in Chile on Monday. In Iran the Red Crescent reported "
          "12 dead near Zarand; in Chile Onemi reported two dead in Vina del Mar.")
UNRELATED = ("Central bank holds interest rates steady",
             "The central bank kept its benchmark interest rate unchanged on Wednesday, citing slowing inflation and a "
             "weaker labour market, and signalled that cuts could come later in the year if wages cool.")


def article(aid, title, text, published=None):
    return CleanArticle(article_id=aid, source_uri=f"mem://{aid}", input_format="text", text=text, title=title, published_at=published,
                        content_hash=content_hash(comparison_text(text, title)))


def corpus(dates=True):
    arts = [article(f"a{i}", t, x, T0 + dt.timedelta(hours=i) if dates else None) for i, (t, x) in enumerate(QUAKE_A)]
    arts += [article(f"b{i}", t, x, T0 + dt.timedelta(hours=i, minutes=30) if dates else None) for i, (t, x) in enumerate(QUAKE_B)]
    arts.append(article("u", *UNRELATED, T0 if dates else None))
    return arts


def partition_of(rows):
    stories = {}
    for a, s in rows:
        stories.setdefault(s.story_id, set()).add(a.article_id)
    return sorted(sorted(v) for v in stories.values())


def expect_partition(expected):
    expected = sorted(sorted(g) for g in expected)

    def check(rows):
        got = partition_of(rows)
        if got != expected:
            raise BeamAssertException(f"stories {got} != expected {expected}")

    return check


def group_stories(articles, cfg=CFG):
    """The pipeline's copies-then-stories wiring: FindCopies, then GroupStories of the articles and their copies."""
    copies = articles | "FindCopies" >> FindCopies()
    return {"articles": articles, "copies": copies[COPIES]} | "GroupStories" >> GroupStories(cfg)


def run_stories(arts, expected, cfg=CFG):
    with TestPipeline() as p:
        out = group_stories(p | beam.Create(arts), cfg)
        assert_that(out["articles"], expect_partition(expected))


def test_sibling_events_of_one_kind_stay_apart():
    run_stories(corpus(), [["a0", "a1", "a2"], ["b0", "b1", "b2"], ["u"]])


def test_bridging_article_does_not_merge_two_stories():
    arts = corpus() + [article("x", *BRIDGE, T0 + dt.timedelta(hours=5))]

    def check(rows):
        got = partition_of(rows)
        a_story = next(g for g in got if "a0" in g)
        b_story = next(g for g in got if "b0" in g)
        if a_story == b_story or not {"a0", "a1", "a2"} <= set(a_story) or not {"b0", "b1", "b2"} <= set(b_story):
            raise BeamAssertException(f"bridge merged or broke the stories: {got}")

    with TestPipeline() as p:
        out = group_stories(p | beam.Create(arts))
        assert_that(out["articles"], check)


def test_articles_outside_the_time_window_never_share_a_story():
    # The same Kerman coverage, but the third article is dated 10 days later: it must start a new story.
    arts = [article(f"a{i}", t, x, T0 + dt.timedelta(hours=i)) for i, (t, x) in enumerate(QUAKE_A[:2])]
    arts.append(article("late", *QUAKE_A[2], T0 + dt.timedelta(days=10)))
    run_stories(arts, [["a0", "a1"], ["late"]])
    # With a window wide enough it joins.
    run_stories(arts, [["a0", "a1", "late"]], StoryConfig(window_days=30))


@pytest.mark.parametrize("seed", [1, 2, 3], ids=["shuffle1", "shuffle2", "shuffle3"])
def test_shuffled_input_gives_the_same_stories(seed):
    arts = corpus(dates=False) + [article("x", *BRIDGE)]
    random.Random(seed).shuffle(arts)

    def check(rows):
        by_id = {a.article_id: s.story_id for a, s in rows}
        # Story ids come from the canonical article, so identical ids mean identical stories.
        want_a, want_b = (story_id_for(min(g, key=lambda a: rank_key(a.published_at, a.word_count, a.article_id)).article_id)
                          for g in ([a for a in arts if a.article_id[0] == k] for k in "ab"))
        if {by_id["a1"], by_id["a2"]} != {want_a} or {by_id["b1"], by_id["b2"]} != {want_b} or want_a == want_b:
            raise BeamAssertException(f"unexpected stories: {by_id}")
        if by_id["u"] in (want_a, want_b):
            raise BeamAssertException("unrelated article joined a story")

    with TestPipeline() as p:
        out = group_stories(p | beam.Create(arts))
        assert_that(out["articles"], check)


def test_headline_only_articles_form_stories_and_siblings_stay_apart():
    # Headline feeds: a title and a time, no body (the read stage gives such an article an empty text).
    arts = [article(f"a{i}", t, "", T0 + dt.timedelta(hours=i)) for i, t in enumerate(
        ["Kerman earthquake kills 12 near Zarand", "Kerman earthquake: rescuers search rubble near Zarand",
         "Red Crescent sends aid to Zarand after Kerman earthquake"])]
    arts += [article(f"b{i}", t, "", T0 + dt.timedelta(hours=i)) for i, t in enumerate(
        ["Valparaiso earthquake kills two in Vina del Mar", "Valparaiso earthquake: Boric visits Vina del Mar",
         "Vina del Mar port reopens after Valparaiso earthquake"])]
    arts.append(article("u", "Central bank holds interest rates steady", "", T0))
    run_stories(arts, [["a0", "a1", "a2"], ["b0", "b1", "b2"], ["u"]])


# ---------------------------------------------------------------------------------------------
# Stories across runs: the story_terms state
# ---------------------------------------------------------------------------------------------


class _LocalFile:
    """What fileio.ReadMatches hands a DoFn: something with open()."""

    def __init__(self, path):
        self.path = path

    def open(self):
        return open(self.path, "rb")


def test_earlier_terms_reads_only_rows_within_the_window_of_this_runs_dates(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    day = 86400.0
    t = T0.timestamp()
    full, names = term_counts("Flood in Valencia", "Rain flooded the old town of Valencia on Monday.")

    def row(aid, ts, bits=CFG.vocab_bits):
        return {"article_id": aid, "story_id": "s" + aid, "ts": ts, "word_count": 9, "headline": False,
                "terms": list(full), "counts": list(full.values()), "name_terms": list(names),
                "name_counts": list(names.values()), "vocab_bits": bits, "run_id": "r1"}

    rows = [row("inside", t - 2 * day), row("edge", t - CFG.window_days * day), row("too-old", t - 4 * day),
            row("after", t + 5 * day), row("undated", None), row("other-vocab", t, bits=20)]
    path = tmp_path / "r1.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=STORY_TERMS_SCHEMA), path)
    got = list(earlier_terms(_LocalFile(path), merged_windows([t, t + day, t + 2 * day], CFG.window_days * day), CFG))
    assert [(c.article_id, story) for c, story in got] == [(earlier_article_id("r1", "inside"), "sinside"),
                                                          (earlier_article_id("r1", "edge"), "sedge"),
                                                          (earlier_article_id("r1", "after"), "safter")]
    assert earlier_article_id("r1", "inside") == "earlier:r1/inside"  # part of the rank key: its form decides ties
    c = got[0][0]
    assert c.counts == (full, names) and c.ts == t - 2 * day and c.rank == (t - 2 * day, -9, c.article_id)
    assert list(earlier_terms(_LocalFile(path), [], CFG)) == []  # no dated article in this run: nothing
    # One old article in the run adds its own stretch of time, not everything between it and the others.
    old = list(earlier_terms(_LocalFile(path), merged_windows([t - 30 * day, t + 5 * day], CFG.window_days * day), CFG))
    assert [c.article_id.rsplit("/", 1)[1] for c, _ in old] == ["after"]


def test_story_terms_state_keeps_the_dense_vector_for_later_runs(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from schemas.state import story_terms_row
    from transforms.stories.dense import DENSE_DTYPE, DenseTerms

    t = T0.timestamp()
    counts = term_counts("Floods swamp Passau", "")
    raw = np.ones(4, dtype=DENSE_DTYPE).tobytes()
    dense = DenseTerms("h", (t, -3, "h"), t, counts, True, raw, "en")
    plain = DenseTerms("p", (t, -3, "p"), t, counts, True)  # no vector: a full article with dense='headlines'
    rows = [story_terms_row(c, "s", CFG.vocab_bits, "r1") for c in (dense, plain)]
    path = tmp_path / "r1.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=STORY_TERMS_SCHEMA), path)
    got = {c.article_id: c for c, _ in earlier_terms(_LocalFile(path), merged_windows([t], CFG.window_s), CFG)}
    h, p = got[earlier_article_id("r1", "h")], got[earlier_article_id("r1", "p")]
    assert isinstance(h, DenseTerms) and h.dense == raw and h.language == "en" and h.counts == counts
    assert getattr(p, "dense", None) is None
    # A file written before the dense columns reads as before.
    old_schema = pa.schema([f for f in STORY_TERMS_SCHEMA if f.name not in ("dense", "language")])
    pq.write_table(pa.Table.from_pylist([{k: v for k, v in rows[0].items() if k in old_schema.names}], schema=old_schema), path)
    (old, _), = earlier_terms(_LocalFile(path), merged_windows([t], CFG.window_s), CFG)
    assert getattr(old, "dense", None) is None and old.counts == counts


def test_merged_windows_joins_overlapping_stretches_only():
    assert merged_windows([], 10) == []
    assert merged_windows([100, 0, 15, 500], 10) == [(-10, 25), (90, 110), (490, 510)]


def test_assemble_story_of_a_continued_story_keeps_its_id_and_earlier_canonical():
    def meta(aid, hours):
        when = T0 + dt.timedelta(hours=hours)
        return StoryMember(aid, rank_key(when, 100, aid), when, f"title {aid}", f"{aid}.example")

    items = [(meta("b", 5), None), (meta("c", 2), None), (meta("c2", 3), ("c", "near"))]
    rows, story = assemble_story(continued_label("searly"), items)
    rows = dict(rows)
    assert {aid: (s.story_id, s.is_canonical, s.duplicate_of) for aid, s in rows.items()} == {
        "b": ("searly", False, None), "c": ("searly", False, None), "c2": ("searly", False, "c")}
    assert (story.story_id, story.canonical_article_id, story.continued, story.article_count) == ("searly", "early", True, 3)
    assert story.title == "title c" and story.first_published == T0 + dt.timedelta(hours=2)
    # A cluster of this run only: its best-ranked article is canonical and names the story.
    _, fresh_story = assemble_story("c", items)
    assert (fresh_story.story_id, fresh_story.canonical_article_id, fresh_story.continued) == (story_id_for("c"), "c", False)


def test_story_label_continues_only_the_clusters_holding_earlier_articles():
    continued = {"c": "searly"}
    assert story_label("c", continued) == continued_label("searly")
    assert continued_story(story_label("c", continued)) == "searly"
    assert story_label("x", continued) == "x" and continued_story("x") is None


# ------------------------------------------------------------------------------------------
# Block shards: the blocks of a time slice scored together give the same pairs as block by block
# ------------------------------------------------------------------------------------------

def _random_vectors(rng, n, undated=0):
    """n articles over a few slices with blocking terms from a small pool (so blocks overlap), a few undated."""
    vs = []
    for i in range(n):
        ts = None if i < undated else rng.uniform(0, 30 * 86400.0)
        terms = np.array(sorted(rng.sample(range(1, 60), 12)), np.int32)
        w = rng.random() + np.arange(len(terms), dtype=np.float32)
        w = (w / np.linalg.norm(w)).astype(np.float32)
        blocks = tuple(sorted(rng.sample(range(1, 40), rng.choice([3, CFG.block_terms]))))
        rank = (ts if ts is not None else float("inf"), -rng.randint(1, 500), f"a{i:03d}")
        vs.append(ArticleVector(f"a{i:03d}", rank, ts, terms, w, blocks, rng.random() < 0.2))
    return vs


def _pairs_block_by_block(vs, cfg):
    """The scoring as it was: every block on its own, the oversized set counted over all blocks."""
    undated = any(v.ts is None for v in vs)
    blocks = {}
    for v in vs:
        for k in block_keys(v, undated, cfg):
            blocks.setdefault(k, []).append(v)
    oversized = {k for k, ms in blocks.items() if len(ms) > cfg.max_block}
    return sorted(e for k, ms in blocks.items() if k not in oversized for e in block_pairs(k, ms, oversized, cfg))


def _pairs_by_shard(vs, cfg):
    undated = any(v.ts is None for v in vs)
    shards = {}
    for v in vs:
        for s in vector_shards(v, undated, cfg):
            shards.setdefault(s, []).append(packed_vector(v))
    everywhere = {}
    for v in vs:
        for k in block_keys(v, undated, cfg):
            everywhere[k] = everywhere.get(k, 0) + 1
    oversized_undated = {k for k, n in everywhere.items() if k[1] is None and n > cfg.max_block}
    return sorted(e for s, ps in shards.items() for e in shard_pairs(s, ps, oversized_undated, cfg))


@pytest.mark.parametrize("undated", [0, 6])
def test_scoring_blocks_per_time_slice_shard_gives_the_pairs_of_block_by_block_scoring(undated):
    rng = random.Random(3 + undated)
    vs = _random_vectors(rng, 160, undated)
    cfg = StoryConfig(max_block=15, min_shared_terms=2, min_edge=0.0)  # small blocks: some are oversized
    sizes = {}
    for v in vs:
        for k in block_keys(v, undated > 0, cfg):
            sizes[k] = sizes.get(k, 0) + 1
    assert any(n > cfg.max_block for k, n in sizes.items() if k[1] is not None)
    assert undated == 0 or any(n > cfg.max_block for k, n in sizes.items() if k[1] is None)
    want = _pairs_block_by_block(vs, cfg)
    assert want and _pairs_by_shard(vs, cfg) == want


def test_a_dated_article_crosses_the_shard_shuffle_once_per_time_slice_not_once_per_block():
    v = _random_vectors(random.Random(1), 1)[0]
    assert len(block_keys(v, False, CFG)) >= len(v.blocks)
    assert len(vector_shards(v, False, CFG)) == len(time_slices(v.ts, CFG))
    assert len(vector_shards(v, True, CFG)) <= len(time_slices(v.ts, CFG)) + UNDATED_SHARDS


def test_a_packed_vector_unpacks_to_the_same_vector():
    v = _random_vectors(random.Random(2), 1)[0]
    d = ArticleVector(v.article_id, v.rank, v.ts, v.terms, v.weights, v.blocks, v.headline, np.ones(4, np.float32) / 2, "de")
    for x in (v, d):
        y = unpacked_vector(packed_vector(x))
        assert (y.article_id, y.rank, y.ts, y.blocks, y.headline, y.language) == (x.article_id, x.rank, x.ts, x.blocks, x.headline, x.language)
        assert np.array_equal(y.terms, x.terms) and np.array_equal(y.weights, x.weights)
        assert (y.dense is None) == (x.dense is None) and (x.dense is None or np.array_equal(y.dense, x.dense))
