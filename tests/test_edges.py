"""Edges of an HTML page's extracted text (transforms/clean/edges.py): a paywall or sign-up box at its end, a bare
date line at either end."""
from __future__ import annotations

import pytest

from transforms.clean.edges import RULE_DATE, RULE_PAYWALL, cut_edges, is_date_line

BODY = [
    "１３日午後９時ごろ、宮崎県で震度５弱の地震があった。震源の深さは約３６キロと推定される。",
    "気象庁は記者会見で「日頃からの備えを確実に実施しておくようお願いしたい」と呼びかけた。",
]
LONG = " ".join(["The council voted on Tuesday to rebuild the harbour wall before the winter storms arrive."] * 2)


@pytest.mark.parametrize(
    "line, want",
    [("2025年1月14日 01時28分 (1月14日 01時40分更新)", True), ("10.11.2025 17:59", True), ("47", False),
     ("2024年の予算は1兆円", False), ("Updated 10.11.2025", False)],
    ids=["ja-updated", "numeric", "lone-number", "sentence", "english-word"],
)
def test_is_date_line(line, want):
    assert is_date_line(line) is want


def test_sign_up_box_after_the_article_is_cut_with_its_list():
    box = ["紙の新聞の定期購読者の方は、無料で会員登録できます。", "- 会員向け記事が読み放題", "- 最新情報をお届け"]
    text, cut = cut_edges("\n".join(BODY + box))
    assert text == "\n".join(BODY)
    assert cut == [(RULE_PAYWALL, line) for line in box]


def test_paywall_notice_followed_by_the_article_stays():
    lines = [BODY[0], "Already a subscriber? Log in to read.", LONG]
    text, cut = cut_edges("\n".join(lines))
    assert text == "\n".join(lines) and cut == []


def test_date_line_after_the_title_is_cut_and_the_title_kept():
    text, cut = cut_edges("\n".join(["南海トラフ、一時調査", "\t2025年1月14日 01時28分", "", *BODY]), "南海トラフ、一時調査")
    assert text.split("\n") == ["南海トラフ、一時調査", *BODY]
    assert cut == [(RULE_DATE, "2025年1月14日 01時28分")]


def test_a_text_that_is_only_a_date_is_left_alone():
    assert cut_edges("10.11.2025 17:59") == ("10.11.2025 17:59", [])
