"""The state a run keeps for later runs: its kept articles' MinHash signatures and story term counts."""
from __future__ import annotations

import pickle
from collections.abc import Iterator

import apache_beam as beam

from schemas.layout import SIGNATURES_STATE, STORY_TERMS_STATE, StagingLayout
from schemas.records import CleanArticle, StoryAssignment
from schemas.state import SIGNATURES_SCHEMA, STORY_TERMS_SCHEMA, signature_row, story_terms_row
from transforms.parquet import WriteParquet

SIGNATURE_ROWS = "signatures"
TERMS_ROWS = "terms"


def kept_story(row: tuple[CleanArticle, StoryAssignment]) -> list[tuple[str, str]]:
    """[(article_id, story_id)] of an article the run kept (not a copy), else []."""
    _, s = row
    return [(s.article_id, s.story_id)] if s.duplicate_of is None else []


def state_rows(kv, signature_setting: tuple[int, int, int], vocab_bits: int, run_id: str) -> Iterator:
    """(article_id, {story: [story_id], signature: [bytes], terms: [pickled ArticleTerms]}) -> a signatures row and a
    story_terms row (tagged) for an article the run kept; copies have no story entry here and get none."""
    article_id, grouped = kv
    for story_id in grouped["story"]:
        for sig in grouped["signature"]:
            yield beam.pvalue.TaggedOutput(SIGNATURE_ROWS, signature_row(article_id, story_id, sig, signature_setting, run_id))
        for t in grouped["terms"]:
            yield beam.pvalue.TaggedOutput(TERMS_ROWS, story_terms_row(pickle.loads(t), story_id, vocab_bits, run_id))


class WriteRunState(beam.PTransform):
    """{articles: (CleanArticle, StoryAssignment), signatures: (article_id, MinHash bytes), terms: ArticleTerms} ->
    `<staging>/_state/signatures/part-*.parquet` and `<staging>/_state/story_terms/part-*.parquet`.

    The state later incremental runs compare with: one row each per article the run kept (not its copies),
    with its story. One join brings each article's story to both. `signature_setting` is the copy config's
    (num_perm, seed, shingle_size) and `vocab_bits` the story config's, stored with each row so that rows
    written with other settings are never compared. Returns {signatures, terms}: the rows written.
    """

    def __init__(self, staging_dir: str, run_id: str, signature_setting: tuple[int, int, int], vocab_bits: int):
        super().__init__()
        self.staging = StagingLayout(staging_dir)
        self.run_id, self.signature_setting, self.vocab_bits = run_id, tuple(signature_setting), vocab_bits

    def expand(self, tables):
        kept = tables["articles"] | "KeptStories" >> beam.FlatMap(kept_story)
        # (article_id, {story, signature, terms}) -> the state rows of each kept article
        rows = (
            {"story": kept, "signature": tables["signatures"],
             # pickled: a runner holding this join in memory keeps one bytes object per article, not its Counters
             "terms": tables["terms"] | "KeyTerms" >> beam.Map(lambda t: (t.article_id, pickle.dumps(t, protocol=pickle.HIGHEST_PROTOCOL)))}
            | "JoinStories" >> beam.CoGroupByKey()
            | "StateRows" >> beam.FlatMap(state_rows, self.signature_setting, self.vocab_bits, self.run_id).with_outputs(
                SIGNATURE_ROWS, TERMS_ROWS
            )
        )
        rows[SIGNATURE_ROWS] | "WriteSignatures" >> WriteParquet(self.staging.state_prefix(SIGNATURES_STATE), SIGNATURES_SCHEMA)
        rows[TERMS_ROWS] | "WriteStoryTerms" >> WriteParquet(self.staging.state_prefix(STORY_TERMS_STATE), STORY_TERMS_SCHEMA)
        return {SIGNATURE_ROWS: rows[SIGNATURE_ROWS], TERMS_ROWS: rows[TERMS_ROWS]}
