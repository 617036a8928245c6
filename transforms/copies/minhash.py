"""MinHash of an article's text: shingles, permutations, signatures, LSH band keys and their parameters."""
from __future__ import annotations

import math

import numpy as np
import xxhash

from schemas.records import CleanArticle
from transforms.fingerprints import comparison_text, normalise_text

_MERSENNE = np.uint64((1 << 61) - 1)
_MAX32 = np.uint64(0xFFFFFFFF)
SIGNATURE_DTYPE = np.dtype("<u4")  # whole signatures as stored and compared across runs: little-endian uint32
BAND_DTYPE = np.dtype(np.uint16)  # the b-bit (16-bit) signatures carried through this run's buckets


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


def shingle_hashes(text: str, k: int) -> np.ndarray:
    """32-bit hashes of the distinct k-word shingles of the normalised text (one shingle if shorter)."""
    toks = normalise_text(text).split()
    if len(toks) < k:
        grams = {" ".join(toks)}
    else:
        grams = {" ".join(toks[i : i + k]) for i in range(len(toks) - k + 1)}
    return np.fromiter((xxhash.xxh32_intdigest(g.encode("utf-8")) for g in grams), dtype=np.uint64, count=len(grams))


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) coefficients of `num_perm` universal hash permutations, from `seed`."""
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


def band_digests(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """The 64-bit hash of each band's rows (uint64[bands]): band_keys without the band index, as numbers."""
    return np.fromiter((xxhash.xxh64_intdigest(sig[i * rows : (i + 1) * rows].tobytes()) for i in range(bands)), dtype=np.uint64, count=bands)


def jaccard_estimate(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two sets: the share of equal signature positions."""
    return float(np.mean(a == b))


def article_shingles(a: CleanArticle, shingle_size: int) -> np.ndarray:
    """The shingle hashes an article's copies are compared on (of its body, or of a headline's title)."""
    return shingle_hashes(comparison_text(a.text, a.title), shingle_size)


def article_signature(a: CleanArticle, perms: tuple[np.ndarray, np.ndarray], shingle_size: int) -> np.ndarray:
    """The MinHash signature an article's copies are compared on (of its body, or of a headline's title)."""
    return minhash(article_shingles(a, shingle_size), perms)


def stored_signature(sig: np.ndarray) -> bytes:
    """A whole signature as stored for later runs (SIGNATURE_DTYPE bytes)."""
    return sig.astype(SIGNATURE_DTYPE).tobytes()


def band_signature(sig: np.ndarray) -> bytes:
    """The low 16 bits of each MinHash value (b-bit MinHash, Li & Koenig 2010), as carried through the buckets:
    half the bytes in the shuffle, and two unequal 32-bit values agree on their low 16 bits only 1 time in 65536."""
    return (sig & 0xFFFF).astype(BAND_DTYPE).tobytes()
