"""Story assembly: copies and cluster labels brought to each article, one story per label, its canonical article and row."""
from __future__ import annotations

import dataclasses
import pickle
import zlib
from collections.abc import Iterable, Iterator

import apache_beam as beam

from schemas.records import CleanArticle, StoryAssignment, StoryRow, canonical_of_story, story_id_for
from transforms.fingerprints import rank_key
from transforms.stories.continuation import continued_story

COPIES = "copies"
STORIES = "stories"


@dataclasses.dataclass(frozen=True, slots=True)
class StoryMember:
    """What a story row needs of an article (no text)."""

    article_id: str
    rank: tuple
    published_at: object
    title: str | None
    site: str | None


def member_of(a: CleanArticle) -> StoryMember:
    """The light record an article brings to its story's assembly."""
    return StoryMember(a.article_id, rank_key(a.published_at, a.word_count, a.article_id), a.published_at, a.title, a.site)


def packed(obj) -> bytes:
    """`obj` pickled, as a record crosses a shuffle that a runner may hold in memory: one bytes object
    instead of the many objects of a decoded record (a Counter of term counts, an article's fields)."""
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def packed_article(a: CleanArticle) -> bytes:
    """An article (with its text) as it waits for its verdict in the final join: pickled and compressed."""
    return zlib.compress(packed(a), 1)


def unpacked_article(b: bytes) -> CleanArticle:
    return pickle.loads(zlib.decompress(b))


def split_copies(kv) -> Iterator:
    """(article_id, {terms: [packed ArticleTerms], copies: [(of, kind)]}) -> ArticleTerms of a non-copy, or
    ('copies', (of, (id, kind))) for a copy, keyed by its kept article."""
    aid, grouped = kv
    for t in grouped["terms"]:
        if grouped["copies"]:
            of, kind = grouped["copies"][0]
            yield beam.pvalue.TaggedOutput(COPIES, (of, (aid, kind)))
        else:
            yield pickle.loads(t)


def attach_label(kv) -> Iterator[tuple[str, object]]:
    """(article_id, {kept: [_], labels: [label]}) -> (article_id, label) for a non-copy article (its own id when
    it joined no cluster)."""
    aid, grouped = kv
    label = grouped["labels"][0] if grouped["labels"] else aid
    for _ in grouped["kept"]:
        yield aid, label


def attach_copies(kv) -> Iterator[tuple[str, tuple]]:
    """(kept id, {label: [label], copies: [(id, kind)]}) -> (article_id, (label, copy info or None))."""
    kept_id, grouped = kv
    for label in grouped["label"]:
        yield kept_id, (label, None)
        for copy_id, kind in grouped["copies"]:
            yield copy_id, (label, (kept_id, kind))


def with_member(kv) -> Iterator[tuple[object, tuple]]:
    """(article_id, {verdict: [(label, copy)], member: [StoryMember]}) -> (label, (StoryMember, copy info))."""
    _, grouped = kv
    for label, copy in grouped["verdict"]:
        for m in grouped["member"]:
            yield label, (m, copy)


def assemble_story(label, items: Iterable[tuple[StoryMember, tuple | None]]) -> tuple[list[tuple[str, StoryAssignment]], StoryRow]:
    """One story from its label and members: ([(article_id, StoryAssignment)], StoryRow).

    The canonical article is the best-ranked non-copy (earliest published, then most complete), and the
    story id is made from it. A label continuing an earlier story (continuation.continued_label) gathers
    this run's articles of an earlier run's story (incremental runs): they join that story, and its canonical
    article stays the earlier one.
    """
    items = list(items)
    uniques = [m for m, c in items if c is None]
    best = min(uniques or [m for m, _ in items], key=lambda m: m.rank)
    earlier_sid = continued_story(label)
    sid = earlier_sid or story_id_for(best.article_id)
    canonical_id = canonical_of_story(sid) if earlier_sid else best.article_id
    assignments = [
        (
            m.article_id,
            StoryAssignment(
                article_id=m.article_id,
                story_id=sid,
                is_canonical=m.article_id == canonical_id,
                duplicate_of=copy[0] if copy else None,
                duplicate_kind=copy[1] if copy else None,
            ),
        )
        for m, copy in items
    ]
    dates = [m.published_at for m, _ in items if m.published_at is not None]
    row = StoryRow(
        story_id=sid,
        canonical_article_id=canonical_id,
        title=best.title or next((m.title for m, _ in items if m.title), None),
        first_published=min(dates) if dates else None,
        last_published=max(dates) if dates else None,
        article_count=len(items),
        unique_article_count=len(uniques),
        site_count=len({m.site.lower() for m, _ in items if m.site}),
        continued=earlier_sid is not None,
    )
    return assignments, row


def join_article(kv) -> Iterator[tuple[CleanArticle, StoryAssignment]]:
    """(article_id, {article: [packed_article], verdict: [StoryAssignment]}) -> (CleanArticle, StoryAssignment)."""
    _, grouped = kv
    for a in grouped["article"]:
        for s in grouped["verdict"]:
            yield unpacked_article(a), s
