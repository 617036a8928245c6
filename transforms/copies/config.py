"""Copy detection settings: the near-copy Jaccard threshold and the MinHash settings derived from it."""
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

    def __post_init__(self):
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"near-duplicate threshold must be in (0, 1], got {self.threshold}")
        if self.num_perm < 16 or self.shingle_size < 1:
            raise ValueError("num_perm must be >= 16 and shingle_size >= 1")

    @functools.cached_property
    def bands_rows(self) -> tuple[int, int]:
        """(bands, rows) of the LSH buckets (optimal_param for the threshold and the weights)."""
        return optimal_param(self.threshold, self.num_perm, 1 - self.fn_weight, self.fn_weight)

    @property
    def signature_setting(self) -> tuple[int, int, int]:
        """(num_perm, seed, shingle_size): what makes two signatures comparable (stored with each state row)."""
        return self.num_perm, self.seed, self.shingle_size
