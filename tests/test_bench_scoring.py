"""The extraction benchmark's scoring rule (../shared/eval/README.md) and its metadata agreement counts, on hand-computed cases."""
import datetime as dt

import pytest

from bench.quality_extraction import best_of, date_agreement, page_counts, read_gold, score, shingles, title_agreement


def test_shingles_overlap_and_short_texts():
    assert shingles("a b c d e") == {("a", "b", "c", "d"): 1, ("b", "c", "d", "e"): 1}
    assert shingles("Hi, there!") == {("Hi", "there"): 1}  # shorter than 4 tokens: one shingle of what it has
    assert shingles("") == {}
    assert shingles("A b c d") != shingles("a b c d")  # no lower-casing


def test_page_counts_are_normalised_by_their_sum():
    assert page_counts("a b c d e", "a b c d") == (0.5, 0.0, 0.5)
    assert page_counts("a b c d", "") == (0.0, 0.0, 1.0)
    assert page_counts("", "") == (0.0, 0.0, 0.0)


def test_macro_scores_leave_empty_predictions_out_of_precision():
    p, r, f = score([("a b c d e", "a b c d"), ("w x y z", "")])
    assert p == pytest.approx(1.0)  # the empty prediction has no precision
    assert r == pytest.approx(0.25)  # (0.5 + 0) / 2
    assert f == pytest.approx(0.4)


def test_gold_reading_cuts_dragnet_comments_and_cleaneval_markup():
    assert read_gold("dragnet", "Body text here.\n!@#$%^&*()  COMMENTS\nA comment.") == "Body text here.\n"
    cleaneval = "URL: http://example.invalid/a\n<h>Title &amp; more\n<p>First paragraph."
    assert read_gold("cleanportaleval", cleaneval) == "Title & more\nFirst paragraph."


def test_best_of_takes_the_best_output_per_page():
    pages = [("1", b"", "a b c d e f"), ("2", b"", "w x y z")]
    first = {"1": "a b c d e f", "2": "nothing alike here"}
    second = {"1": "unrelated words only", "2": "w x y z"}
    assert best_of(pages, [first, second]) == {"1": "a b c d e f", "2": "w x y z"}


def test_title_agreement_allows_a_site_suffix_but_not_a_different_line():
    html = {"1": "Floods force thousands from homes", "2": "Storm hits coast", "3": "Markets rally", "4": None}
    raw = {"1": "Floods force thousands from homes | Example News", "2": "By Jane Smith", "3": None, "4": "x"}
    assert title_agreement(raw, html) == (1, 3)


def test_date_agreement_counts_same_day_missing_and_other():
    day = lambda d, h=0: dt.datetime(2012, 7, d, h, tzinfo=dt.UTC)  # noqa: E731
    html = {"1": day(24, 1), "2": day(24), "3": day(24), "4": None}
    raw = {"1": day(24, 23), "2": None, "3": day(21), "4": day(1)}
    assert date_agreement(raw, html) == (1, 1, 1, 3)
