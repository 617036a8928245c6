"""The time limit per page (transforms/clean/timeout.py): a page built to be slow becomes an
`extraction_timeout` reject, and the pages after it are still cleaned."""
from __future__ import annotations

import time

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.records import FORMAT_HTML, RawArticle
from schemas.rejects import Reason, RejectError
from transforms.clean import CleanConfig, StripBoilerplate
from transforms.clean.timeout import TimeLimitedCleaner

LIMIT_S = 1.0
SENTENCE = "Sentence number {} says something about the town council, the river and the weather today."


def slow_page() -> str:
    """About 2 MB of paragraphs in nested blocks: several seconds of extraction, far above LIMIT_S."""
    blocks = "".join(f'<div class="c{i % 7}"><p>{SENTENCE.format(i)}</p></div>' for i in range(20000))
    return f"<html><body><article>{blocks}</article></body></html>"


def quick_page() -> str:
    body = "".join(f"<p>{SENTENCE.format(i)}</p>" for i in range(5))
    return f"<html><head><title>Quick</title></head><body><article>{body}</article></body></html>"


def raw(aid: str, html: str) -> RawArticle:
    return RawArticle(article_id=aid, source_uri=f"{aid}.html", input_format=FORMAT_HTML, content=html, is_html=True)


def test_slow_page_times_out_and_the_next_page_is_cleaned():
    cleaner = TimeLimitedCleaner(LIMIT_S)
    try:
        assert "town council" in cleaner.clean(raw("before", quick_page()), CleanConfig()).text
        started = time.monotonic()
        with pytest.raises(RejectError) as err:
            cleaner.clean(raw("slow", slow_page()), CleanConfig())
        assert err.value.reason is Reason.EXTRACTION_TIMEOUT
        assert time.monotonic() - started < LIMIT_S + 5  # killed at the limit, not waited for
        assert "town council" in cleaner.clean(raw("after", quick_page()), CleanConfig()).text
    finally:
        cleaner.close()


def test_page_rejects_from_the_child_keep_their_reason():
    cleaner = TimeLimitedCleaner(LIMIT_S)
    try:
        with pytest.raises(RejectError) as err:
            cleaner.clean(raw("plain", "no markup at all, just words"), CleanConfig())
        assert err.value.reason is Reason.EXTRACTION_FAILED
    finally:
        cleaner.close()


def test_time_limit_must_be_positive():
    with pytest.raises(ValueError):
        TimeLimitedCleaner(0)
    with pytest.raises(ValueError):
        CleanConfig(extraction_timeout_s=-1)


def test_strip_boilerplate_rejects_the_slow_page_as_extraction_timeout():
    cfg = CleanConfig(extraction_timeout_s=LIMIT_S)
    with TestPipeline() as p:
        out = p | beam.Create([raw("slow", slow_page()), raw("quick", quick_page())]) | StripBoilerplate(cfg)
        assert_that(out["articles"] | beam.Map(lambda a: a.article_id), equal_to(["quick"]), label="Articles")
        assert_that(out["rejects"] | beam.Map(lambda r: (r.source_uri, r.reason.value)),
                    equal_to([("slow.html", "extraction_timeout")]), label="Rejects")


def test_the_cleaning_child_imports_no_beam():
    # Each worker has its own child: without Apache Beam it starts in a third of the time and some 80 MB less.
    import subprocess
    import sys

    code = "import sys; import transforms.clean.timeout; print('apache_beam' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


def test_child_writes_its_profile_when_asked(tmp_path, monkeypatch):
    import pstats

    from transforms.clean.timeout import PROFILE_ENV

    monkeypatch.setenv(PROFILE_ENV, str(tmp_path / "child"))
    cleaner = TimeLimitedCleaner(30)
    try:
        assert "town council" in cleaner.clean(raw("quick", quick_page()), CleanConfig()).text
    finally:
        cleaner.close()
    dumps = list(tmp_path.glob("child-*.prof"))
    assert len(dumps) == 1
    assert any(func == "clean_article" for (_, _, func) in pstats.Stats(str(dumps[0])).stats)
