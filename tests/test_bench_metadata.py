"""The extraction benchmark's metadata scoring (bench/quality_metadata.py) on hand-made cases."""
import datetime as dt

import pytest

from bench.quality_metadata import author_set, day_ok, score_meta, time_ok

UTC = dt.UTC


@pytest.mark.parametrize(
    "pred, gold, same",
    [
        ("Mara Quill, Tobias Reed", ["Tobias Reed", "Mara Quill"], True),
        ("By Mara Quill and Tobias Reed", ["Mara Quill", "Tobias Reed"], True),
        ("Le Figaro et AFP", ["Le Figaro et AFP"], True),  # a gold name holding a separator, predicted alike
        ("srf/hosb;kesm", ["srf/hosb", "kesm"], True),
        ("Mara Quill", ["Mara Quill", "Tobias Reed"], False),
        (None, ["Mara Quill"], False),
    ],
    ids=["order", "label-and", "separator-in-gold", "slash", "one-missing", "none"],
)
def test_author_sets(pred, gold, same):
    assert (author_set(pred) == author_set(gold)) is same


def test_day_and_time_in_the_gold_offset():
    gold = dt.datetime.fromisoformat("2024-05-03T00:30:00+02:00")
    assert day_ok(gold, dt.datetime(2024, 5, 2, 22, 30, tzinfo=UTC))  # the same instant is the gold's day
    assert time_ok(gold, dt.datetime(2024, 5, 2, 22, 30, 45, tzinfo=UTC))
    assert not time_ok(gold, dt.datetime(2024, 5, 2, 22, 32, tzinfo=UTC))


def test_score_meta_counts():
    gold = {"a": {"title": "T", "authors": ["X Y"], "publishing_date": "2024-05-03T10:00:00+00:00"},
            "b": {"title": "U", "authors": [], "publishing_date": None}}
    preds = {"a": {"title": "T", "author": "X Y", "published": dt.datetime(2024, 5, 3, 10, tzinfo=UTC)}, "b": {}}
    assert score_meta(gold, preds) == {"title": (1, 2), "day": (1, 1), "time": (1, 1), "authors": (1, 1)}
