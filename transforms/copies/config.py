"""Copy detection settings: the near-copy Jaccard threshold, the trimmed-copy rules and the MinHash settings derived from them."""
from __future__ import annotations

import dataclasses
import functools

from transforms.copies.minhash import optimal_param


@dataclasses.dataclass(frozen=True)
class CopyConfig:
    """Near-copy settings: users set the Jaccard threshold; LSH bands and rows are derived from it."""

    threshold: float = 0.7  # estimated Jaccard of two texts' shingle sets that makes them near copies, in (0, 1]
    num_perm: int = 128  # MinHash permutations (signature length), >= 16
    shingle_size: int = 5  # words per shingle, >= 1
    seed: int = 42  # seed of the MinHash permutations
    # Weight of a missed pair against an extra candidate when bands and rows are chosen, in [0, 1]; above 0.5
    # favours recall (every candidate is verified, so an extra one costs only a comparison).
    fn_weight: float = 0.8
    # Trimmed copies (components.is_near_copy): a pair under the Jaccard threshold is a near copy too when the
    # shorter text has at least this share of its shingles in the longer one (a story with a sentence cut), in
    # (0, 1] ...
    containment: float = 0.9
    # ... or when neither text has more than this many words' worth of shingles (max_changed_words *
    # shingle_size) outside the other (a brief with two sentences reworded), >= 0; either way only when the two
    # share at least min_shared_shingles shingles (two headlines sharing a phrase are no copies), >= 1.
    max_changed_words: int = 4
    min_shared_shingles: int = 20
    # LSH buckets are laid out for this Jaccard (or the threshold, when lower), in (0, 1]: a trimmed short story
    # or a reworded brief has a Jaccard near 0.5 with its original, so the buckets must bring such pairs together.
    candidate_threshold: float = 0.45

    def __post_init__(self):
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"near-duplicate threshold must be in (0, 1], got {self.threshold}")
        if self.num_perm < 16 or self.shingle_size < 1:
            raise ValueError("num_perm must be >= 16 and shingle_size >= 1")
        if not 0.0 < self.containment <= 1.0 or not 0.0 < self.candidate_threshold <= 1.0:
            raise ValueError("containment and candidate_threshold must be in (0, 1]")
        if self.max_changed_words < 0 or self.min_shared_shingles < 1:
            raise ValueError("max_changed_words must be >= 0 and min_shared_shingles >= 1")

    @functools.cached_property
    def bands_rows(self) -> tuple[int, int]:
        """(bands, rows) of the LSH buckets (optimal_param for the lower of threshold and candidate_threshold)."""
        return optimal_param(min(self.threshold, self.candidate_threshold), self.num_perm, 1 - self.fn_weight, self.fn_weight)

    @property
    def signature_setting(self) -> tuple[int, int, int]:
        """(num_perm, seed, shingle_size): what makes two signatures comparable (stored with each state row)."""
        return self.num_perm, self.seed, self.shingle_size
