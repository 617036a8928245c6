"""The Beam side of cleaning: the per-article DoFn, the learned-template DoFn and the StripBoilerplate composite."""
from __future__ import annotations

import dataclasses

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.records import FORMAT_JSONL_TITLE, CleanArticle, RawArticle
from schemas.rejects import Reason, Stage
from transforms.clean.article import clean_article
from transforms.clean.config import CleanConfig
from transforms.clean.extract import detect_language
from transforms.clean.templates import (
    DistinctUpTo,
    group_learned_by_source,
    is_template,
    remove_learned_template,
    template_candidates,
)
from transforms.rejecting import REJECTS, one_record, reject

ARTICLES = "articles"  # the main output of StripBoilerplate and its DoFns


class CleanArticleFn(beam.DoFn):
    """RawArticle -> CleanArticle (trafilatura for HTML, then the line rules; page-dump layout for raw text).

    Outputs: the article on the main output, or an extract-stage `extraction_failed` reject for HTML without
    main text. Every input leaves as exactly one of the two. The article's text may still be empty here.
    """

    def __init__(self, cfg: CleanConfig):
        self.cfg = cfg

    @one_record(Stage.EXTRACT, lambda raw: (raw.source_uri, raw.input_id))
    def process(self, raw: RawArticle):
        yield clean_article(raw, self.cfg)


class RemoveLearnedTemplateFn(beam.DoFn):
    """CleanArticle (+ side input {source_key: frozenset of normalised template lines}) -> CleanArticle.

    Removes the source's learned template lines (never emptying an article that had text), detects the language
    when none is known and counts every removed line under `boilerplate.removed_<rule>`. Outputs: the article,
    or an extract-stage `empty_after_cleaning` reject when no text is left (a headline-only record is kept).
    """

    @one_record(Stage.EXTRACT, lambda article: (article.source_uri, article.input_id))
    def process(self, article: CleanArticle, learned: dict):
        lines = learned.get(article.source_key, frozenset())
        article = remove_learned_template(article, lines)
        if not article.text.strip() and article.input_format != FORMAT_JSONL_TITLE:
            detail = f"all {len(article.boilerplate_removed)} lines were boilerplate"
            yield reject(article.source_uri, article.input_id, Stage.EXTRACT, Reason.EMPTY_AFTER_CLEANING, detail)
            return
        if article.language is None:
            article = dataclasses.replace(article, language=detect_language(article.text))
        for rule in article.boilerplate_rules:
            Metrics.counter("boilerplate", "removed_" + rule).inc()
        yield article


class StripBoilerplate(beam.PTransform):
    """PCollection[RawArticle], or a tuple of them -> {"articles": PCollection[CleanArticle],
    "rejects": PCollection[Reject]}.

    First each article is cleaned on its own (trafilatura for HTML, named line rules for all text). Then lines
    that recur across distinct articles of one source are learned as template (a keyed capped count feeding a
    side input) and removed. Guarantees: every input leaves as one article or one extract-stage reject; articles
    left with no text become rejects; every removed line is kept with the rule that removed it.
    """

    def __init__(self, cfg: CleanConfig = CleanConfig()):
        super().__init__()
        self.cfg = cfg

    def expand(self, raws):
        cfg = self.cfg
        if isinstance(raws, (tuple, list)):
            # Several inputs (files, records, fetched pages): each is cleaned on its own, so a runner fuses the
            # cleaning with the step that produced the input instead of materialising a Flatten of raw pages.
            parts = [
                pc | f"CleanArticles{i}" >> beam.ParDo(CleanArticleFn(cfg)).with_outputs(REJECTS, main=ARTICLES)
                for i, pc in enumerate(raws)
            ]
            cleaned = {
                ARTICLES: [part[ARTICLES] for part in parts] | "MergeCleanedArticles" >> beam.Flatten(),
                REJECTS: [part[REJECTS] for part in parts] | "MergeCleaningRejects" >> beam.Flatten(),
            }
        else:
            cleaned = raws | "CleanArticles" >> beam.ParDo(CleanArticleFn(cfg)).with_outputs(REJECTS, main=ARTICLES)
        # ((source_key, normalised line), fingerprint) -> ((source_key, line), frozenset of fingerprints, capped)
        learned = (
            cleaned[ARTICLES]
            | "ListTemplateCandidates" >> beam.FlatMap(template_candidates, cfg)
            | "CountArticlesPerLine" >> beam.CombinePerKey(DistinctUpTo(cfg.learn_min_articles_long))
            | "KeepTemplateLines" >> beam.Filter(lambda kv: is_template(kv[0], kv[1], cfg))
            | "DropArticleCounts" >> beam.Keys()
            | "GatherTemplateLines" >> beam.combiners.ToList()
            | "GroupTemplateLinesBySource" >> beam.Map(group_learned_by_source)
        )
        final = cleaned[ARTICLES] | "RemoveLearnedTemplate" >> beam.ParDo(
            RemoveLearnedTemplateFn(), beam.pvalue.AsSingleton(learned, default_value={})
        ).with_outputs(REJECTS, main=ARTICLES)
        rejects = (cleaned[REJECTS], final[REJECTS]) | "MergeRejects" >> beam.Flatten()
        return {ARTICLES: final[ARTICLES], REJECTS: rejects}
