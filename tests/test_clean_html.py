"""HTML cleaning beyond the line rules: the block-level audit trail, the second opinion on pages the fast pass
gets wrong, which metadata wins (time of day, site, host), language identification, unspaced scripts."""
from __future__ import annotations

import datetime as dt

import pytest
from trafilatura.utils import load_html

from schemas.records import FORMAT_HTML, FORMAT_HTTP, RawArticle
from transforms.clean import CleanConfig
from transforms.clean.agreement import paragraph_groups
from transforms.clean.article import clean_article
from transforms.clean.extract import detect_language, load_language_identifier
from transforms.clean.html_audit import left_out, page_blocks
from transforms.clean.rules import ends_like_sentence, match_line_rule, words

UTC = dt.UTC
SENTENCES = [
    "The council voted on Tuesday to rebuild the harbour wall before the winter storms arrive in the bay.",
    "Work will start next month and is expected to last until the end of the year, the engineers said.",
    "Residents of the lower town have asked for the repair since the flood of last spring damaged their homes.",
]


def raw_html(html: str, **kw) -> RawArticle:
    return RawArticle(article_id="a", source_uri="a.html", input_format=FORMAT_HTML, content=html, is_html=True, **kw)


def article_page(head: str = "", extra: str = "") -> str:
    body = "".join(f"<p>{s}</p>" for s in SENTENCES)
    return (f"<html><head><title>Harbour wall</title>{head}</head><body>"
            f"<nav><ul><li><a href='/'>Home</a></li><li><a href='/news'>News</a></li></ul></nav>"
            f"<article><h1>Harbour wall</h1>{body}</article>{extra}"
            f"<footer><p>Copyright 2024 The Courier</p></footer></body></html>")


# --- audit trail -------------------------------------------------------------------------------------------------

def test_page_blocks_are_named_for_the_part_of_the_page_they_sit_in():
    tree = load_html(article_page(extra="<aside class='related-stories'><h3>More news</h3><ul><li>Ferry times</li></ul></aside>"
                                        "<div class='newsletter-box'>Get our newsletter</div>"
                                        "<div id='comments'><p>Great article, thanks.</p></div>"))
    blocks = dict((text, rule) for rule, text in page_blocks(tree))
    assert blocks["Home"] == blocks["News"] == "html_navigation"
    assert blocks["Ferry times"] == "html_related"
    assert blocks["Get our newsletter"] == "html_newsletter"
    assert blocks["Great article, thanks."] == "html_comments"
    assert blocks["Copyright 2024 The Courier"] == "html_footer"
    assert blocks[SENTENCES[0]] == "html_not_main_text"


def test_left_out_keeps_only_blocks_missing_from_the_text():
    blocks = [("html_navigation", "Home"), ("html_not_main_text", SENTENCES[0])]
    assert left_out(blocks, SENTENCES[0] + "\n" + SENTENCES[1]) == [("html_navigation", "Home")]


def test_html_article_lists_what_extraction_left_out():
    a = clean_article(raw_html(article_page(extra="<div class='share-bar'><a>Facebook</a> <a>X</a></div>")))
    removed = dict(zip(a.boilerplate_removed, a.boilerplate_rules))
    assert removed["Home"] == "html_navigation"
    assert removed["Copyright 2024 The Courier"] == "html_footer"
    assert all(s in a.text for s in SENTENCES)
    assert not any(s in a.boilerplate_removed for s in SENTENCES)
    assert clean_article(raw_html(article_page()), CleanConfig(audit_html=False)).boilerplate_removed == ()


# --- second opinion ----------------------------------------------------------------------------------------------

def _paragraph_chars(tree, whole_page: bool) -> int:
    outside, articles = paragraph_groups(tree, whole_page)
    return sum(len(p) for p in outside) + sum(len(p) for group in articles for p in group)


def test_paragraph_groups_hold_article_paragraphs_outside_comments():
    page = article_page(extra="<div class='comment-list'><p>" + "A reader comment. " * 20 + "</p></div>")
    tree = load_html(page)
    article_only = sum(len(s) for s in SENTENCES)
    assert _paragraph_chars(tree, whole_page=False) == article_only  # <article> only
    assert _paragraph_chars(tree, whole_page=True) == article_only + len("Copyright 2024 The Courier")


def test_second_opinion_never_shortens_the_text():
    page = article_page()
    fast = clean_article(raw_html(page), CleanConfig(second_opinion_ratio=0))
    second = clean_article(raw_html(page), CleanConfig(second_opinion_ratio=1.0))
    assert len(second.text) >= len(fast.text)
    assert "text=trafilatura_fast" in fast.metadata_source


def test_config_bounds():
    with pytest.raises(ValueError):
        CleanConfig(second_opinion_ratio=1.5)


# --- metadata precedence -----------------------------------------------------------------------------------------

def test_feed_time_completes_a_page_that_gives_a_day_only():
    """A page saying only its day (htmldate) and a feed entry giving 11:00 that day: 11:00 is kept."""
    page = article_page(head="<meta name='date' content='2024-05-14'>")
    fed = dt.datetime(2024, 5, 14, 11, tzinfo=UTC)
    a = clean_article(raw_html(page, fallback_published_at=fed))
    assert a.published_at == fed
    assert "published=fallback" in a.metadata_source


def test_page_time_of_day_is_kept_over_a_feed_day():
    page = article_page(head="<meta property='article:published_time' content='2024-05-14T11:00:00+00:00'>")
    a = clean_article(raw_html(page, fallback_published_at=dt.datetime(2024, 5, 14, tzinfo=UTC)))
    assert a.published_at == dt.datetime(2024, 5, 14, 11, tzinfo=UTC)
    assert "published=og" in a.metadata_source


@pytest.mark.parametrize(
    "site, want",
    [("http://ibnlive.in.com/", None), ("Harbour wall", None), ("The Courier", "The Courier")],
    ids=["url", "page-title", "name"],
)
def test_site_is_a_publication_name_never_a_url_or_the_title(site, want):
    a = clean_article(raw_html(article_page(head=f"<meta property='og:site_name' content='{site}'>")))
    assert a.site == want


def test_host_is_the_canonical_urls_host():
    url = "https://www.Courier.example/news/harbour?utm_source=x"
    a = clean_article(RawArticle(article_id="a", source_uri=url, input_format=FORMAT_HTTP, content=article_page(),
                                 is_html=True, url=url))
    assert a.host == "courier.example"
    text_article = clean_article(RawArticle(article_id="t", source_uri="t.txt", input_format="text",
                                            content="\n".join(SENTENCES), is_html=False))
    assert text_article.host is None and text_article.site is None


# --- language ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def identifier():
    return load_language_identifier()


@pytest.mark.parametrize(
    "text, lang",
    [(" ".join(SENTENCES), "en"),
     ("Die Stadt hat am Dienstag beschlossen, die Hafenmauer vor den Winterstürmen neu zu bauen.", "de"),
     ("Anna Schmidt\nJohn Miller\nMaria Garcia\nPeter Novak", None),
     ("Short.", None)],
    ids=["english", "german", "list-of-names", "too-short"],
)
def test_language_only_when_the_text_is_long_enough_and_the_model_sure(identifier, text, lang):
    assert detect_language(text, identifier) == lang


# --- scripts written without spaces ------------------------------------------------------------------------------

def test_japanese_paragraph_counts_its_words_and_ends_like_a_sentence():
    line = "港町の中心部に十日、新しい市立図書館が開館し、朝から多くの家族連れが訪れた。"
    assert words(line) >= 15
    assert ends_like_sentence(line)
    assert words("Harbour wall to be rebuilt") == 5


@pytest.mark.parametrize(
    "junk, rule",
    [("Mehr zum Thema", "related_links"), ("À lire aussi", "related_links"), ("関連記事", "related_links"),
     ("Lees ook", "related_links"), ("この記事は会員限定です。", "paywall_notice")],
    ids=["de", "fr", "ja", "nl", "ja-paywall"],
)
def test_related_and_paywall_headings_in_other_languages(junk, rule):
    assert match_line_rule(junk) == rule


@pytest.mark.parametrize(
    "content",
    ["Mehr zum Thema Hochwasser sagte der Bürgermeister am Dienstag nichts.", "関連記事によると、市は来年も調査を続ける。"],
    ids=["de-sentence", "ja-sentence"],
)
def test_sentences_that_start_like_those_headings_are_kept(content):
    assert match_line_rule(content) is None
