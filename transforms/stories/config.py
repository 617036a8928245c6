"""Same-event clustering settings (fixed in advance, not tuned per data set)."""
from __future__ import annotations

import dataclasses

DENSE_OFF, DENSE_HEADLINES, DENSE_ALL = "off", "headlines", "all"
DENSE_MODES = (DENSE_OFF, DENSE_HEADLINES, DENSE_ALL)


@dataclasses.dataclass(frozen=True)
class StoryConfig:
    """Same-event clustering settings; docs/ records the measurements that chose the defaults."""

    # Similarity two groups need to join into one story, in (0, 1): the mean of the full-text and the
    # name cosines, by average linkage (centroids for groups of headlines).
    threshold: float = 0.19
    window_days: float = 3.0  # dated articles further apart than this many days never share a story; > 0
    title_weight: int = 2  # title terms count this many times; >= 1
    entity_weight: int = 2  # capitalised (name-like) terms count this many times; >= 1
    idf_power: float = 1.5  # weight = (1 + log tf) * idf**power: above 1, rare, event-specific terms count more
    max_terms: int = 400  # terms kept per article vector; >= 1
    block_terms: int = 20  # blocking keys per article: its strongest terms seen in 2+ articles ...
    # ... and in at most this share of the corpus, in (0, 1] (or block_min_df articles in a small corpus): a
    # blocking term names something specific to one event, not a kind of event.
    block_max_share: float = 0.002
    block_min_df: int = 50
    # A headline's blocking terms may be in up to this many articles (>= block_min_df): a headline has a few
    # words, and its story's name is in many of a stream's headlines (UCI: a story of 230 headlines is all
    # "Snowden"; B3 F1 0.66 -> 0.88 with 50 -> 300). Blocks stay bounded by max_block.
    headline_block_df: int = 300
    # A (term, time slice) block with more articles than this is too common to block on: it is skipped,
    # which bounds the pairs scored per article and keeps the cost near-linear in the corpus size.
    max_block: int = 300
    # A pair is a candidate only when it shares at least this many blocking (strong, rare) terms (>= 1), as
    # in GDELT's "minimum number of shared rare words": one shared name is what sibling events of one kind
    # (the same fighter's two fights) have in common. A short article (a headline, a brief) has fewer rare
    # words than the block_terms quota, all of them blocking terms: one shared is enough when either
    # article of the pair is short (see blocking.enough_shared).
    min_shared_terms: int = 2
    # Groups of at most this many articles that average linkage left apart join the story holding their k
    # nearest neighbours (linkage.attach_leftovers; k is this number, >= 0, 0 = off): average linkage counts a
    # big story's missing edges as zeros, so an article close to part of it stays out (ECB+ B3 F1 0.936 ->
    # 0.951, UCI headlines 0.815 -> 0.852, NewsWCL50 and SemEval pairs unchanged; see docs/benchmarks.md).
    attach_neighbours: int = 3
    min_edge: float = 0.05  # candidate pairs below this similarity are not kept; in [0, threshold]
    vocab_bits: int = 22  # hashed vocabulary size 2**bits bounds the document-frequency table; in [8, 30]
    # The dense view (dense.py, multilingual-e5-small): which articles get a vector, one of DENSE_MODES.
    # 'headlines' (title-only articles; 15 ms of CPU each on this machine): UCI headline stories B3 F1
    # 0.78 -> 0.88. 'all' also embeds full articles (title and first dense_words words: 140-180 ms of CPU each,
    # about ten times the rest of the pipeline's cost per page), which links undated pairs across languages and
    # checks undated ones within a language (dense_across, dense_check; SemEval pairs: see docs/benchmarks.md)
    # at a small cost on ECB+ (B3 F1 0.93 -> 0.92-0.93), so it is an option.
    dense: str = DENSE_HEADLINES
    dense_weight: float = 0.7  # share of the dense score in a pair's similarity when both have a vector, in [0, 1]
    dense_floor: float = 0.85  # dense cosine that scores 0 (unrelated news), in [0, 1)
    dense_words: int = 100  # words of the body embedded after the title, >= 0
    # Time scale of the dense view, > 0: two dated articles this many days apart have 0.61 of dense_weight
    # (a Gaussian of the gap), undated ones none (dense.mixed_similarity).
    dense_time_days: float = 3.0
    # ... and a pair with an undated article this share of it, in [0, 1]: 0 judges undated articles on their
    # words alone, where nothing tells two events of one kind apart; 1 (with dense='all') compares undated
    # articles across languages on the dense view.
    dense_undated: float = 0.0
    # ... and an undated pair in two different (detected) languages this share, in [0, 1]: there words meet only
    # in names and numbers, and the dense view is what reads the rest (cross-language stories need
    # dense='all'; within one language the words judge undated pairs, so ECB+ siblings stay apart).
    dense_across: float = 1.0
    # Within one language an undated pair of full articles the dense view calls unrelated (cosine under
    # dense_floor) scores this share less, in [0, 1]; the dense view never raises such a pair. Words that meet in a place name or a site's
    # boilerplate while the texts are about different things then stop linking (SemEval pairs with dense='all',
    # same-story precision over all pairs 0.84 -> 0.94 in-process; ECB+ B3 F1 0.934 -> 0.922), and sibling
    # events, alike in both views, are judged on words as before.
    dense_check: float = 0.5

    def __post_init__(self):
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"story threshold must be in (0, 1), got {self.threshold}")
        if self.window_days <= 0:
            raise ValueError("story window must be positive (days)")
        if self.attach_neighbours < 0:
            raise ValueError("attach_neighbours must be >= 0 (0 turns attaching off)")
        if self.min_shared_terms < 1:
            raise ValueError("min_shared_terms must be at least 1")
        if not 8 <= self.vocab_bits <= 30:
            raise ValueError("vocab_bits must be in [8, 30] (terms and name terms are stored as int32)")
        if self.min_edge > self.threshold:
            raise ValueError("min_edge must not exceed the story threshold")
        if self.dense not in DENSE_MODES:
            raise ValueError(f"dense must be one of {', '.join(DENSE_MODES)}, got {self.dense!r}")
        if not 0.0 <= self.dense_weight <= 1.0 or not 0.0 <= self.dense_floor < 1.0 or self.dense_words < 0 or self.dense_time_days <= 0 \
                or not 0.0 <= self.dense_undated <= 1.0 or not 0.0 <= self.dense_across <= 1.0 \
                or not 0.0 <= self.dense_check <= 1.0:
            raise ValueError("dense_weight must be in [0, 1], dense_floor in [0, 1), dense_words >= 0, dense_time_days > 0, "
                             "dense_undated, dense_across and dense_check in [0, 1]")
        if self.headline_block_df < self.block_min_df:
            raise ValueError("headline_block_df must be at least block_min_df")

    @property
    def window_s(self) -> float:
        """The time window in seconds."""
        return self.window_days * 86400.0
