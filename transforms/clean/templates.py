"""Template lines learned per source: article fingerprints, candidate lines, the template threshold, the capped
distinct count that decides it, and the pass that removes learned lines from an article."""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable

import apache_beam as beam

from schemas.records import CleanArticle
from transforms.clean.config import CleanConfig
from transforms.clean.rules import LEARNED_TEMPLATE, POSITIONAL_RULES, normalise_line, split_lines, words
from transforms.fingerprints import comparison_text, content_hash


def article_fingerprint(text: str) -> str:
    """A short hash of an article's longest line: equal for copies of one article, different across articles."""
    lines = split_lines(text)
    longest = max(lines, key=len) if lines else ""
    return hashlib.blake2b(normalise_line(longest).encode(), digest_size=6).hexdigest()


def template_candidates(article: CleanArticle, cfg: CleanConfig = CleanConfig()) -> Iterable[tuple[tuple[str, str], str]]:
    """((source_key, normalised line), fingerprint) for each distinct line that could be a template line.

    Kept lines and lines removed only for where they sit (page header/footer, link lists) are
    candidates; the fingerprint identifies the article's content, so copies of one story count once.
    """
    fp = article_fingerprint(article.text)
    positional = [l for r, l in zip(article.boilerplate_rules, article.boilerplate_removed) if r in POSITIONAL_RULES]
    seen = set()
    for line in split_lines(article.text) + positional:
        if not line.strip() or words(line) > cfg.learn_max_words:
            continue
        key = normalise_line(line)
        if key not in seen:
            seen.add(key)
            yield (article.source_key, key), fp


def is_template(key: tuple[str, str], fingerprints: frozenset | set, cfg: CleanConfig = CleanConfig()) -> bool:
    """A line is template when enough distinct articles (by content fingerprint) of its source carry it."""
    need = cfg.learn_min_articles if words(key[1]) <= cfg.learn_short_words else cfg.learn_min_articles_long
    return len(fingerprints) >= need


def group_learned_by_source(items: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    """[(source_key, normalised line)] -> {source_key: frozenset(lines)}."""
    out: dict[str, set] = {}
    for src, line in items:
        out.setdefault(src, set()).add(line)
    return {k: frozenset(v) for k, v in out.items()}


def remove_learned_template(article: CleanArticle, learned: frozenset[str]) -> CleanArticle:
    """Remove lines learned as template of the article's source (and name positional removals that are template).

    Never empties an article that had text. `content_hash` is recomputed when the text changes.
    """
    if not learned:
        return article
    kept, removed = [], []
    for line in split_lines(article.text):
        if normalise_line(line) in learned:
            removed.append(line)
        else:
            kept.append(line)
    if removed and not any(line.strip() for line in kept):
        # Template evidence never empties an article that had text: a page whose only body is lines
        # its site repeats (a stub, a gallery) keeps them rather than becoming an empty reject.
        kept, removed = split_lines(article.text), []
    rules = tuple(
        LEARNED_TEMPLATE if r in POSITIONAL_RULES and normalise_line(l) in learned else r
        for r, l in zip(article.boilerplate_rules, article.boilerplate_removed)
    )
    if not removed and rules == article.boilerplate_rules:
        return article
    text = "\n".join(kept)
    return dataclasses.replace(
        article,
        text=text,
        content_hash=content_hash(comparison_text(text, article.title)),
        boilerplate_removed=article.boilerplate_removed + tuple(removed),
        boilerplate_rules=rules + (LEARNED_TEMPLATE,) * len(removed),
    )


class DistinctUpTo(beam.CombineFn):
    """Set of distinct values, capped at `limit` (enough to decide a threshold)."""

    def __init__(self, limit: int):
        self.limit = limit

    def create_accumulator(self):
        return set()

    def add_input(self, acc, value):
        if len(acc) < self.limit:
            acc.add(value)
        return acc

    def merge_accumulators(self, accs):
        out = set()
        for a in accs:
            for v in a:
                if len(out) >= self.limit:
                    return out
                out.add(v)
        return out

    def extract_output(self, acc):
        return frozenset(acc)
