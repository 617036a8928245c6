"""The pool of cleaning processes (transforms/clean/timeout.py: CleaningPool) and CleanArticleFn with pages in
flight: real child processes, a page built to be slow, a child killed from outside, a bug in the child."""
from __future__ import annotations

import os
import pickle
import signal

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import window

from pipeline import local
from schemas.records import FORMAT_HTML, FORMAT_TEXT, CleanArticle, RawArticle
from schemas.rejects import Reason, RejectError
from tests.test_clean_timeout import quick_page, raw, slow_page
from transforms.clean import CleanConfig, StripBoilerplate
from transforms.clean.timeout import CleaningPool
from transforms.clean.transform import ARTICLES, CleanArticleFn
from transforms.rejecting import REJECTS

LIMIT_S = 2.0
CFG = CleanConfig()


def outcome_of(done: list, token):
    return next(outcome for t, outcome in done if t == token)


def test_slow_page_is_rejected_while_the_other_child_goes_on():
    pool = CleaningPool(2, LIMIT_S)
    try:
        for warm in ("warm-0", "warm-1"):  # one page each: both children are up before the slow page comes
            pool.submit(warm, raw(warm, quick_page()), CFG)
        assert all(isinstance(o, CleanArticle) for _, o in pool.collect(0)) and len(pool.pids()) == 2
        pool.submit("slow", raw("slow", slow_page()), CFG)
        slow_pid = pool.pids()[0]  # the least loaded child, the first of equals
        for i in range(8):
            pool.submit(f"q{i}", raw(f"q{i}", quick_page()), CFG)
        other_pids = set(pool.pids()) - {slow_pid}
        done = pool.collect(0)
        assert sorted(t for t, _ in done) == sorted(["slow"] + [f"q{i}" for i in range(8)])  # each page exactly once
        slow = outcome_of(done, "slow")
        assert isinstance(slow, RejectError) and slow.reason is Reason.EXTRACTION_TIMEOUT
        assert all(isinstance(o, CleanArticle) and "town council" in o.text for t, o in done if t != "slow")
        order = [t for t, _ in done]
        assert order.index("slow") > 0  # quick pages on the other child came out before the slow one's limit
        assert slow_pid not in pool.pids() and other_pids <= set(pool.pids())  # only the slow page's child was killed
        assert pool.in_flight == 0
    finally:
        pool.close()


def test_a_child_that_dies_is_a_reject_for_its_page_and_the_pool_goes_on():
    pool = CleaningPool(1, 60.0)
    try:
        assert "town council" in pool.clean(raw("warm-up", quick_page()), CFG).text  # the child is up
        pool.submit("victim", raw("victim", slow_page()), CFG)
        pool.submit("next", raw("next", quick_page()), CFG)  # queued behind it on the same child
        (pid,) = pool.pids()
        os.kill(pid, signal.SIGKILL)
        done = pool.collect(0)
        victim = outcome_of(done, "victim")
        assert isinstance(victim, RejectError) and victim.reason is Reason.EXTRACTION_FAILED
        assert "died" in victim.detail
        assert isinstance(outcome_of(done, "next"), CleanArticle)  # given to the restarted child
        assert pool.pids() and pool.pids() != [pid]
    finally:
        pool.close()


def test_a_bug_in_the_child_raises_with_its_traceback():
    pool = CleaningPool(1, 30.0)
    broken = RawArticle(article_id="b", source_uri="b.html", input_format=FORMAT_HTML, content=None, is_html=True)
    try:
        with pytest.raises(RuntimeError, match="failed in the child process") as err:
            pool.clean(broken, CFG)
        assert "TypeError" in str(err.value)
        assert "town council" in pool.clean(raw("after", quick_page()), CFG).text
    finally:
        pool.close()


def test_collect_bounds_the_pages_in_flight():
    pool = CleaningPool(2, 30.0)
    seen = []
    try:
        for i in range(10):
            pool.submit(i, raw(f"p{i}", quick_page()), CFG)
            seen += pool.collect(keep=3)
            assert pool.in_flight <= 3
        seen += pool.collect(0)
        assert sorted(t for t, _ in seen) == list(range(10))
    finally:
        pool.close()


def test_pool_arguments_are_checked():
    with pytest.raises(ValueError):
        CleaningPool(0, 1.0)
    with pytest.raises(ValueError):
        CleaningPool(2, 0)
    with pytest.raises(ValueError):
        CleanConfig(clean_processes=0)


def test_clean_article_fn_pickles_before_and_after_its_pool():
    fn = CleanArticleFn(CleanConfig(clean_processes=2, clean_in_flight=4))
    fn.setup()
    try:
        assert pickle.loads(pickle.dumps(CleanArticleFn(fn.cfg))).cfg == fn.cfg
    finally:
        fn.teardown()


def _pages():
    pages = [raw("slow", slow_page())] + [raw(f"q{i}", quick_page()) for i in range(6)]
    body = "\n".join(f"Line {i} of the text article says enough words about the harbour to be a body line." for i in range(12))
    text = RawArticle(article_id="t", source_uri="t.txt", input_format=FORMAT_TEXT, content=body, is_html=False)
    return pages + [text]


POOLED = CleanConfig(extraction_timeout_s=LIMIT_S, clean_processes=2, clean_in_flight=4)


def test_strip_boilerplate_with_pages_in_flight_gives_every_input_once():
    with TestPipeline() as p:
        out = p | beam.Create(_pages()) | StripBoilerplate(POOLED)
        assert_that(out["articles"] | beam.Map(lambda a: a.article_id), equal_to([f"q{i}" for i in range(6)] + ["t"]),
                    label="Articles")
        assert_that(out["rejects"] | beam.Map(lambda r: (r.source_uri, r.reason.value)),
                    equal_to([("slow.html", "extraction_timeout")]), label="Rejects")


def test_articles_in_flight_keep_their_own_timestamp_and_window():
    def stamped(x):
        return window.TimestampedValue(x, int(x.article_id[1:]) * 100 + 5)

    class Where(beam.DoFn):
        def process(self, x, ts=beam.DoFn.TimestampParam, w=beam.DoFn.WindowParam):
            yield getattr(x, "article_id", None) or x.source_uri, int(ts), int(w.start)

    pages = [raw(f"q{i}", quick_page()) for i in range(6)]
    with TestPipeline() as p:
        got = (p | beam.Create(pages) | beam.Map(stamped) | beam.WindowInto(window.FixedWindows(100))
               | beam.ParDo(CleanArticleFn(POOLED)).with_outputs(REJECTS, main=ARTICLES))
        assert_that(got[ARTICLES] | "WhereArticles" >> beam.ParDo(Where()),
                    equal_to([(f"q{i}", i * 100 + 5, i * 100) for i in range(6)]), label="Articles")


def test_pool_works_in_beam_worker_processes(tmp_path):
    options = PipelineOptions([])
    out = tmp_path / "ids"
    with beam.Pipeline(runner=local.process_runner(options, 2, str(tmp_path / "w.log")), options=options) as p:
        cleaned = p | beam.Create(_pages()) | beam.Reshuffle() | StripBoilerplate(POOLED)
        ((cleaned["articles"] | "ArticleIds" >> beam.Map(lambda a: a.article_id),
          cleaned["rejects"] | "RejectIds" >> beam.Map(lambda r: f"{r.source_uri}:{r.reason.value}"))
         | beam.Flatten() | beam.io.WriteToText(str(out), shard_name_template=""))
    assert sorted(out.read_text().split()) == sorted([f"q{i}" for i in range(6)] + ["t", "slow.html:extraction_timeout"])
