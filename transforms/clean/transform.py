"""The Beam side of cleaning: the per-article DoFn, the learned-template DoFn and the StripBoilerplate composite."""
from __future__ import annotations

import dataclasses
import itertools

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from schemas.records import FORMAT_JSONL_TEXT, FORMAT_JSONL_TITLE, CleanArticle, RawArticle
from schemas.rejects import Reason, Stage
from transforms.clean.article import clean_article
from transforms.clean.config import CleanConfig
from transforms.clean.extract import detect_language, load_language_identifier
from transforms.clean.templates import (
    DistinctUpTo,
    group_learned_by_source,
    is_template,
    remove_learned_template,
    template_candidates,
)
from transforms.clean.timeout import CleaningPool
from transforms.rejecting import REJECTS, emit, one_record, reject, reject_for

ARTICLES = "articles"  # the main output of StripBoilerplate and its DoFns


class CleanArticleFn(beam.DoFn):
    """RawArticle -> CleanArticle (trafilatura for HTML, then the line rules; page-dump layout for raw text).

    Outputs: the article on the main output, or an extract-stage reject: `extraction_failed` for HTML without
    main text (or whose cleaning process died on it), `extraction_timeout` for a page that took longer than
    `cfg.extraction_timeout_s`. Every input leaves as exactly one of the two. The article's text may still be
    empty here.

    With a time limit, HTML is cleaned in a pool of `cfg.clean_processes` child processes (timeout.py), a child
    killed at the limit. With `cfg.clean_in_flight` > 1 a page's outcome may leave in a later process() call or
    in finish_bundle, as a WindowedValue with its own element's timestamp and windows, while later pages are
    read and earlier articles go on downstream.
    """

    def __init__(self, cfg: CleanConfig):
        self.cfg = cfg
        self._pool = None
        self._waiting: dict = {}

    def setup(self):
        cfg = self.cfg
        self._pool = CleaningPool(cfg.clean_processes, cfg.extraction_timeout_s) if cfg.extraction_timeout_s > 0 else None
        self._waiting = {}  # token -> (source_uri, input_id, the element's WindowedValue without its value)
        self._tokens = itertools.count()

    def process(self, raw: RawArticle, element=beam.DoFn.WindowedValueParam):
        if not (raw.is_html and self._pool is not None):
            yield from self._clean_here(raw)
            return
        token = next(self._tokens)
        # Without Beam around it (a direct call) there is no element to take the window from: plain values.
        where = element.with_value(None) if isinstance(element, WindowedValue) else None
        self._waiting[token] = (raw.source_uri, raw.input_id, where)
        self._pool.submit(token, raw, self.cfg)
        yield from self._outputs(self._pool.collect(keep=self.cfg.clean_in_flight - 1))

    def finish_bundle(self):
        if self._pool is not None:
            yield from self._outputs(self._pool.collect(keep=0))

    @one_record(Stage.EXTRACT, lambda raw: (raw.source_uri, raw.input_id))
    def _clean_here(self, raw: RawArticle):
        yield clean_article(raw, self.cfg)

    def _outputs(self, done):
        """Each finished page's article or reject, in its own element's window."""
        for token, outcome in done:
            source_uri, input_id, element = self._waiting.pop(token)
            if isinstance(outcome, Exception):  # a reject of the page, or a bug in the child: an internal_error reject
                tagged = emit(reject_for(outcome, source_uri, input_id, Stage.EXTRACT))
                yield tagged if element is None else beam.pvalue.TaggedOutput(tagged.tag, element.with_value(tagged.value))
            else:
                yield outcome if element is None else element.with_value(outcome)

    def teardown(self):
        if self._pool is not None:
            self._pool.close()


class RemoveLearnedTemplateFn(beam.DoFn):
    """CleanArticle (+ side input {source_key: frozenset of normalised template lines}) -> CleanArticle.

    Removes the source's learned template lines (never emptying an article that had text), detects the language
    when none is known (None when the text is too short or the model unsure) and counts every removed line under
    `boilerplate.removed_<rule>`. Outputs: the article, or an extract-stage `empty_after_cleaning` reject when no
    text is left, unless it has a title: a headline-only record, or a JSONL record whose text was only its title
    or boilerplate, is a headline article (title, no body).
    """

    def setup(self):
        self._identifier = None  # py3langid's model (0.6 s and 100 MB per process): loaded by the first article that needs it

    @one_record(Stage.EXTRACT, lambda article: (article.source_uri, article.input_id))
    def process(self, article: CleanArticle, learned: dict):
        lines = learned.get(article.source_key, frozenset())
        article = remove_learned_template(article, lines)
        if not article.text.strip() and not _is_headline(article):
            detail = f"all {len(article.boilerplate_removed)} lines were boilerplate"
            yield reject(article.source_uri, article.input_id, Stage.EXTRACT, Reason.EMPTY_AFTER_CLEANING, detail)
            return
        if article.language is None and article.text.strip():
            if self._identifier is None:
                self._identifier = load_language_identifier()
            language = detect_language(article.text, self._identifier)
            if language:
                notes = f"{article.metadata_source};language=detected" if article.metadata_source else "language=detected"
                article = dataclasses.replace(article, language=language, metadata_source=notes)
        for rule in article.boilerplate_rules:
            Metrics.counter("boilerplate", "removed_" + rule).inc()
        yield article


def _is_headline(article: CleanArticle) -> bool:
    """A record that is a headline: headline-only, or a JSONL text record with a title whose text was all title
    or boilerplate (HTML and text files without a body stay rejects: their title alone is no article)."""
    if article.input_format == FORMAT_JSONL_TITLE:
        return True
    return article.input_format == FORMAT_JSONL_TEXT and bool((article.title or "").strip())


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
