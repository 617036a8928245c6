"""HTML body text checked against the page itself: the reference article a fast text is held against, the JSON-LD
articleBody that replaces a fragment of it, and ruby annotations kept inline."""
from __future__ import annotations

import json

import pytest
from trafilatura.utils import load_html

from schemas.records import FORMAT_HTML, RawArticle
from transforms.clean import CleanConfig
from transforms.clean.agreement import (
    agreement,
    coverage,
    fuller_body,
    on_page_lines,
    paragraph_groups,
    pick_reference,
    shingle_bag,
)
from transforms.clean.article import clean_article
from transforms.clean.prune import flatten_ruby

STORY = [
    "The council voted on Tuesday to rebuild the harbour wall before the winter storms arrive in the bay.",
    "Work will start next month and is expected to last until the end of the year, the engineers said.",
    "Residents of the lower town have asked for the repair since the flood of last spring damaged their homes.",
]
NEXT_STORY = [
    "A new ferry timetable comes into force on Monday with two more crossings to the islands every day.",
    "The operator said the extra sailings were paid for by the regional transport fund until next summer.",
    "Passengers who bought season tickets before the change can exchange them at the harbour office.",
    "The ferry company also plans to replace its oldest vessel with an electric one within three years.",
]


def raw_html(html: str) -> RawArticle:
    return RawArticle(article_id="a", source_uri="a.html", input_format=FORMAT_HTML, content=html, is_html=True)


def paragraphs(lines: list[str]) -> str:
    return "".join(f"<p>{line}</p>" for line in lines)


# --- shingle agreement -------------------------------------------------------------------------------------------

def test_coverage_and_agreement_count_shared_shingles():
    ref = shingle_bag(" ".join(STORY))
    assert coverage(ref, ref) == agreement(ref, ref) == 1.0
    half = shingle_bag(STORY[0])
    assert 0.2 < coverage(ref, half) < 0.5
    assert coverage(half, ref) == 1.0  # all of the fragment is in the story
    assert agreement(ref, shingle_bag(" ".join(NEXT_STORY))) == 0.0
    assert coverage(shingle_bag(""), ref) == 0.0


def test_paragraph_groups_split_by_outermost_article_and_skip_comments():
    tree = load_html(f"<html><body><p>Outside the articles, a standfirst of the page.</p>"
                     f"<article>{paragraphs(STORY)}<article><p>Nested, counted with its outer article.</p></article>"
                     f"</article><article>{paragraphs(NEXT_STORY)}</article>"
                     f"<div class='comments'><p>A reader comment that must not count at all.</p></div></body></html>")
    outside, articles = paragraph_groups(tree, whole_page=True)
    assert outside == ["Outside the articles, a standfirst of the page."]
    assert articles == [STORY + ["Nested, counted with its outer article."], NEXT_STORY]


def test_reference_is_the_article_the_text_agrees_with():
    """A page that appends the next story: the fast text found the first one, which is what it is held against."""
    bag = shingle_bag("\n".join(STORY))
    assert pick_reference(["Standfirst."], [STORY, NEXT_STORY], bag, 0.5) == ["Standfirst.", *STORY]


def test_reference_is_the_largest_article_when_the_text_found_a_teaser():
    teaser = ["A short teaser of another story."]
    assert pick_reference([], [teaser, STORY + NEXT_STORY], shingle_bag(teaser[0]), 0.5) == STORY + NEXT_STORY


def test_page_with_two_stories_keeps_the_first():
    """The fast text holds the page's own story in full: no second pass that would add the appended one."""
    page = (f"<html><head><title>Harbour wall</title></head><body><main>"
            f"<article><h1>Harbour wall</h1>{paragraphs(STORY)}</article>"
            f"<article class='second-article'><h2>New ferry timetable</h2>{paragraphs(NEXT_STORY)}</article>"
            f"</main></body></html>")
    a = clean_article(raw_html(page))
    assert all(line in a.text for line in STORY)
    assert not any(line in a.text for line in NEXT_STORY)
    assert "text=trafilatura_fast" in a.metadata_source


# --- JSON-LD articleBody ------------------------------------------------------------------------------------------

def _json_ld(body: str) -> str:
    obj = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": "Harbour wall", "articleBody": body}
    return f"<script type='application/ld+json'>{json.dumps(obj)}</script>"


def test_fuller_body_replaces_a_fragment_with_the_lines_the_page_shows():
    body = "+++dropcap\n\n" + "\n\n".join(STORY + NEXT_STORY) + "\n\nA hidden paragraph for subscribers only, never shown."
    got = fuller_body(body, shingle_bag(STORY[0]), STORY + NEXT_STORY, 0.8)
    assert got == "\n".join(STORY + NEXT_STORY)  # the markup code and the unshown paragraph are not kept
    assert on_page_lines("dropcap\n" + STORY[1], shingle_bag("\n".join(STORY)), 0.8) == [STORY[1]]


@pytest.mark.parametrize("text, page_lines", [
    (" ".join(STORY + NEXT_STORY), STORY + NEXT_STORY),  # the text already holds the body
    ("An unrelated text about the weather in the mountains this week.", STORY + NEXT_STORY),  # no agreement
    (STORY[0], STORY[:1]),  # the page does not show the body: a paywalled teaser stays a teaser
], ids=["text-holds-body", "disagree", "not-on-page"])
def test_fuller_body_leaves_the_text_alone(text, page_lines):
    body = "\n".join(STORY + NEXT_STORY)
    assert fuller_body(body, shingle_bag(text), page_lines, 0.8) is None


def test_article_cut_short_by_extraction_gets_its_json_ld_body():
    """The page shows the whole article, but the first half sits in an aside the extractor drops."""
    body = "\n".join(NEXT_STORY + STORY)
    page = (f"<html><head><title>Ferry</title>{_json_ld(body)}</head><body>"
            f"<aside class='related'>{paragraphs(NEXT_STORY)}</aside>"
            f"<article>{paragraphs(STORY)}</article></body></html>")
    a = clean_article(raw_html(page))
    assert "text=json_ld_body" in a.metadata_source
    assert all(line in a.text for line in NEXT_STORY + STORY)
    off = clean_article(raw_html(page), CleanConfig(json_ld_min_share=0))
    assert "text=json_ld_body" not in off.metadata_source


# --- ruby ---------------------------------------------------------------------------------------------------------

def test_ruby_reading_stays_inline_in_its_brackets():
    tree = load_html("<html><body><p>韓国の<ruby><rb>尹錫悦</rb><rp>（</rp><rt>ユンソンニョル</rt><rp>）</rp></ruby>大統領</p>"
                     "</body></html>")
    assert flatten_ruby(tree) == 1
    assert "".join(tree.find(".//p").itertext()) == "韓国の尹錫悦（ユンソンニョル）大統領"


def test_config_bounds():
    with pytest.raises(ValueError):
        CleanConfig(json_ld_min_share=1.5)
    with pytest.raises(ValueError):
        CleanConfig(second_opinion_min_coverage=-0.1)


def test_bold_byline_paragraph_replaces_a_publication_credit():
    lead = "".join(f"<p>{s}</p>" for s in STORY * 3)
    head = ('<meta property="og:site_name" content="Lesotho Courier">'
            '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Harbour wall",'
            ' "author": {"@type": "Organization", "name": "Lesotho Courier"}}</script>')
    html = (f"<html><head>{head}</head><body><article><h1>Harbour wall</h1>"
            f"<p><strong>Jana Feldmann</strong></p>{lead}</article></body></html>")
    art = clean_article(raw_html(html))
    assert art.author == "Jana Feldmann"
    assert "author=byline" in art.metadata_source
    credited = html.replace("<p><strong>Jana Feldmann</strong></p>", "")
    assert clean_article(raw_html(credited)).author == "Lesotho Courier"


def test_closing_paywall_box_is_cut_and_listed_in_the_audit_trail():
    story = "".join(f"<p>{s}</p>" for s in STORY * 2)
    box = "<p>有料会員になると会員限定の有料記事もお読みいただけます。</p><ul><li>記事が読み放題</li><li>メールマガジン</li></ul>"
    html = f"<html><body><article><h1>Harbour wall</h1>{story}{box}</article></body></html>"
    art = clean_article(raw_html(html))
    assert "有料会員" not in art.text and STORY[-1] in art.text
    assert "html_paywall_box" in art.boilerplate_rules
