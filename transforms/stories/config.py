"""Same-event clustering settings (fixed in advance, not tuned per data set)."""
from __future__ import annotations

import dataclasses


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
    # A (term, time slice) block with more articles than this is too common to block on: it is skipped,
    # which bounds the pairs scored per article and keeps the cost near-linear in the corpus size.
    max_block: int = 300
    # A pair is a candidate only when it shares at least this many blocking (strong, rare) terms (>= 1), as
    # in GDELT's "minimum number of shared rare words": one shared name is what sibling events of one kind
    # (the same fighter's two fights) have in common. A short article (a headline, a brief) has fewer rare
    # words than the block_terms quota, all of them blocking terms: one shared is enough when either
    # article of the pair is short (see blocking.enough_shared).
    min_shared_terms: int = 2
    min_edge: float = 0.05  # candidate pairs below this similarity are not kept; in [0, threshold]
    vocab_bits: int = 22  # hashed vocabulary size 2**bits bounds the document-frequency table; in [8, 30]

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

    @property
    def window_s(self) -> float:
        """The time window in seconds."""
        return self.window_days * 86400.0
