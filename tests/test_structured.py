"""Structured page metadata (transforms/clean/structured.py): JSON-LD, OpenGraph, and choosing one value per field."""
from __future__ import annotations

import datetime as dt

import pytest
from trafilatura.utils import load_html

from transforms.clean import structured as sd

UTC = dt.UTC


def page(head: str, body: str = "<p>Body.</p>") -> object:
    return load_html(f"<html><head>{head}</head><body>{body}</body></html>")


def ld(obj: str) -> str:
    return f'<script type="application/ld+json">{obj}</script>'


@pytest.mark.parametrize(
    "value, when, has_time, has_zone",
    [
        ("2024-05-14T11:00:00+00:00", dt.datetime(2024, 5, 14, 11, tzinfo=UTC), True, True),
        ("2024-05-14T13:00:00+02:00", dt.datetime(2024, 5, 14, 11, tzinfo=UTC), True, True),
        ("2024-05-14T11:00:00Z", dt.datetime(2024, 5, 14, 11, tzinfo=UTC), True, True),
        ("2024-05-14", dt.datetime(2024, 5, 14, tzinfo=UTC), False, False),
        ("2023-04-28 18:11:01.0", dt.datetime(2023, 4, 28, 18, 11, 1, tzinfo=UTC), True, False),
        ("Fri Apr 28 19:20:36 CEST 2023", dt.datetime(2023, 4, 28, 17, 20, 36, tzinfo=UTC), True, True),
        ("Tue, 14 May 2024 11:00:00 GMT", dt.datetime(2024, 5, 14, 11, tzinfo=UTC), True, True),
    ],
    ids=["utc", "offset", "zulu", "day-only", "naive-time", "zone-abbreviation", "rfc2822"],
)
def test_parse_stamp_keeps_time_and_zone(value, when, has_time, has_zone):
    stamp = sd.parse_stamp(value)
    assert stamp.utc() == when
    assert (stamp.has_time, stamp.has_zone) == (has_time, has_zone)


@pytest.mark.parametrize("value", ["", "yesterday", "12:30", "0000-00-00", "not a date 2024"], ids=str)
def test_parse_stamp_rejects_non_dates(value):
    assert sd.parse_stamp(value) is None


def test_json_ld_news_article_fields():
    tree = page(ld("""{"@context": "https://schema.org", "@graph": [
        {"@type": "WebSite", "name": "Site"},
        {"@type": ["NewsArticle"], "headline": "A &amp; B agree", "datePublished": "2024-05-14T13:00:00+02:00",
         "author": [{"@type": "Person", "name": "Mara Quill"}, {"@type": "Person", "name": "Tobias Reed"}],
         "publisher": {"@type": "Organization", "name": "The Courier"}, "articleBody": "Full text.",
         "url": "https://courier.example/a"}]}"""))
    st = sd.read_structured(tree)
    assert st.is_article
    assert st.title_candidates[0] == ("json_ld", "A & B agree")
    assert st.authors[0] == ("json_ld", ["Mara Quill", "Tobias Reed"])
    assert st.sites[0] == ("json_ld", "The Courier")
    assert st.body == "Full text."
    assert st.url == "https://courier.example/a"
    stamp, source = sd.pick_stamp(st.stamps)
    assert (stamp.utc(), source) == (dt.datetime(2024, 5, 14, 11, tzinfo=UTC), "json_ld")


def test_malformed_json_ld_is_skipped_and_the_next_script_read():
    tree = page(ld("{ not json") + ld('{"@type": "Article", "headline": "Kept"}'))
    assert sd.read_structured(tree).title_candidates == [("json_ld", "Kept")]


def test_opengraph_only_page():
    tree = page('<meta property="og:title" content="Headline"><meta property="og:site_name" content="Courier">'
                '<meta property="article:published_time" content="2025-03-02T08:15:00+01:00">'
                '<meta name="author" content="Jana Feldmann">')
    st = sd.read_structured(tree)
    assert not st.is_article
    assert sd.pick_title(st, ["Courier"]) == ("Headline", "og")
    assert sd.pick_authors(st) == ("Jana Feldmann", "meta")
    assert sd.pick_site(st) == ("Courier", "og")
    stamp, source = sd.pick_stamp(st.stamps)
    assert (stamp.utc(), source) == (dt.datetime(2025, 3, 2, 7, 15, tzinfo=UTC), "og")


@pytest.mark.parametrize(
    "ld_title, og_title, h1, html_title, sites, want",
    [
        ("Headline - Golem.de", "Headline - Golem.de", "Headline", None, ["Golem.de"], "Headline"),
        ("Headline | Sport", "Headline", "Headline", None, [], "Headline"),
        ("SEO headline", "Shown headline", "Shown headline", None, [], "Shown headline"),
        ("Only headline", None, None, None, [], "Only headline"),
        (None, "Headline | Courier", None, "Headline | Courier", ["Courier"], "Headline"),
        (None, "Headline", None, "Headline - Site Name", [], "Headline"),
    ],
    ids=["site-suffix", "section-suffix", "two-agree", "json-ld-alone", "og-site", "title-suffix"],
)
def test_pick_title(ld_title, og_title, h1, html_title, sites, want):
    st = sd.Structured(html_title=html_title)
    for source, value in (("json_ld", ld_title), ("og", og_title), ("h1", h1)):
        if value:
            st.title_candidates.append((source, value))
    assert sd.pick_title(st, sites)[0] == want


def test_pick_stamp_completes_a_day_with_the_time_of_another_source():
    day = sd.parse_stamp("2024-05-14")
    timed = sd.parse_stamp("2024-05-14T11:00:00+00:00")
    stamp, source = sd.pick_stamp([("json_ld", day), ("og", timed)])
    assert (stamp.utc(), source) == (dt.datetime(2024, 5, 14, 11, tzinfo=UTC), "og")


def test_pick_stamp_takes_the_zone_of_the_same_wall_clock_time():
    naive = sd.parse_stamp("2023-04-28 18:11:01")
    zoned = sd.parse_stamp("2023-04-28T18:11:01+02:00")
    stamp, _ = sd.pick_stamp([("json_ld", naive), ("meta", zoned)])
    assert stamp.utc() == dt.datetime(2023, 4, 28, 16, 11, 1, tzinfo=UTC)


def test_modified_date_is_never_the_publication_date():
    assert sd.pick_stamp([("json_ld_modified", sd.parse_stamp("2024-05-15T10:00:00Z"))]) == (None, None)


@pytest.mark.parametrize(
    "authors, want",
    [
        (["Elena Oberholzer (obe)", "Oliver Maksan (oma)"], "Elena Oberholzer, Oliver Maksan"),
        (["d.kuckelkorn@example.de"], None),
        (["https://example.org/author/jane"], None),
        (["Newsroom"], "Newsroom"),  # what the page credits, an organisation included
    ],
    ids=["staff-codes", "email", "url", "organisation"],
)
def test_pick_authors(authors, want):
    st = sd.Structured(authors=[("json_ld", authors)])
    assert sd.pick_authors(st)[0] == want


@pytest.mark.parametrize(
    "name, title, want",
    [
        ("The Courier", None, "The Courier"),
        ("@courier", None, "courier"),
        ("http://ibnlive.in.com/", None, None),
        ("Zillow Blog - Real Estate Market Stats, Celebrity Real Estate, and Zillow News", None, "Zillow Blog"),
        ("Harbour bridge reopens", "Harbour bridge reopens", None),
    ],
    ids=["name", "handle", "url", "slogan", "page-title"],
)
def test_clean_site_is_a_publication_name(name, title, want):
    assert sd.clean_site(name, title) == want


@pytest.mark.parametrize(
    "authors, want",
    [
        ([("json_ld", ["The Courier"]), ("meta", ["Jana Feldmann"])], "Jana Feldmann"),
        ([("json_ld", ["TC"]), ("meta", ["Jana Feldmann"])], "Jana Feldmann"),  # initials of "The Courier"
        ([("meta", ["courier.example"]), ("markup", ["Jana Feldmann"])], "Jana Feldmann"),
        ([("json_ld", ["Jana Feldmann", "The Courier"])], "Jana Feldmann, The Courier"),
        ([("json_ld", ["The Courier"])], "The Courier"),
        ([("meta", ["105092"]), ("markup", ["Jana Feldmann"])], "Jana Feldmann"),
        ([("json_ld", ["Jana Feldmann, professor of history at the University of Ostrava, Courier.example"])],
         "Jana Feldmann"),
        ([("json_ld", ["Mara Quill, Tobias Reed and Jana Feldmann"])], "Mara Quill, Tobias Reed and Jana Feldmann"),
        ([("markup", ["By Jana Feldmann", "(Image: Agency)"])], "Jana Feldmann"),
    ],
    ids=["site-name-loses-to-a-person", "site-initials", "host-name", "newsroom-beside-a-person",
         "newsroom-alone-kept", "cms-user-number", "affiliation-cut", "three-names-kept", "label-and-credit"],
)
def test_pick_authors_prefers_a_person_to_the_publication(authors, want):
    st = sd.Structured(authors=authors, sites=[("og", "The Courier")])
    assert sd.pick_authors(st)[0] == want


def test_json_ld_author_by_reference_and_by_name_parts():
    tree = page(ld("""{"@graph": [
        {"@type": "NewsArticle", "headline": "H", "author": [{"@id": "https://c.example/#/person/1"},
                                                             {"@type": "Person", "givenName": "Tobias", "familyName": "Reed"}]},
        {"@type": "Person", "@id": "https://c.example/#/person/1", "name": "Mara Quill"}]}"""))
    assert sd.read_structured(tree).authors[0] == ("json_ld", ["Mara Quill", "Tobias Reed"])


def test_any_meta_key_naming_an_author_is_read():
    tree = page('<meta name="author" content="https://facebook.com/courier">'
                '<meta name="dcsext.author" content="Jana Feldmann">')
    assert sd.pick_authors(sd.read_structured(tree)) == ("Jana Feldmann", "meta")


def test_markup_author_of_the_article_not_of_teasers():
    body = ('<article itemscope itemtype="https://schema.org/NewsArticle"><h1>H</h1>'
            '<span itemprop="author">Jana Feldmann</span><p>Text.</p></article>'
            '<ul><li itemscope itemtype="https://schema.org/Article"><span itemprop="author">Mara Quill</span></li></ul>'
            '<div><a rel="author" href="/a">Tobias Reed</a></div>')
    st = sd.read_structured(page("", body))
    assert sd.pick_authors(st) == ("Jana Feldmann", "markup")


def test_several_author_links_are_teasers_not_a_byline():
    body = "".join(f'<div><a rel="author" href="/{n}">{n} Roe</a></div>' for n in ("Ann", "Ben", "Cy"))
    assert sd.markup_authors(page("", body)) == []


def test_page_search_runs_only_without_structured_authors_and_keeps_names():
    body = '<div class="byline"><span class="author">Von Eva Kirchner-Rätsch</span></div><p>Text.</p>'
    assert sd.pick_authors(sd.read_structured(page("", body))) == ("Eva Kirchner-Rätsch", "page_search")
    with_meta = sd.read_structured(page('<meta name="author" content="The Courier">', body))
    assert sd.pick_authors(with_meta) == ("The Courier", "meta")


@pytest.mark.parametrize(
    "text, want",
    [("Jana Feldmann", True), ("Ana de la Cruz", True), ("Eva Kirchner-Rätsch", True), ("松岡大地", True),
     ("View Profile", False), ("Tim", False), ("posted by admin", False), ("Byron November 6", False)],
    ids=str,
)
def test_looks_like_name(text, want):
    assert sd.looks_like_name(text) is want


@pytest.mark.parametrize(
    "h1, html_title, want",
    [
        ('<a href="https://hypebot.example/hypebot/">hypebot</a>', "Troy Carter On Owning Fans - hypebot",
         "Troy Carter On Owning Fans"),  # the h1 links to a section: the site's name
        ("hypebot", "Troy Carter On Owning Fans - hypebot", "Troy Carter On Owning Fans"),  # a later part of <title>
        ('<a href="/">dy/dan</a>', "dy/dan » 1,400 Rectangles", "1,400 Rectangles"),  # a home link first
        ("OCT 24", "Synthetic Fuel Made From Air and Water", "Synthetic Fuel Made From Air and Water"),
        ("Forgiving your enemies", "Forgiving your enemies — A Writer's Blog", "Forgiving your enemies"),
        ('<a href="/2012/11/the-wrong-pickup/" rel="bookmark">The Wrong Pickup</a>', "Ranch Life | Ree Drummond",
         "The Wrong Pickup"),  # a permalink: the h1 is the headline
        ('<a href="/melaka-worth-a-visit/">Melaka Worth A Visit</a>', "Travel Blog", "Melaka Worth A Visit"),
        ("Time To Begin", "John Roe's Search Blog", "Time To Begin"),  # no shared word, but not three times as long
    ],
    ids=["section-link", "later-part", "home-link-first", "no-shared-word", "headline-first", "permalink", "slug",
         "short-title"],
)
def test_title_when_the_only_h1_is_the_site_name(h1, html_title, want):
    st = sd.read_structured(page(f"<title>{html_title}</title>", f"<h1>{h1}</h1><p>Text.</p>"))
    assert sd.pick_title(st, [])[0] == want


def test_structured_title_wins_over_the_html_title():
    st = sd.read_structured(page('<title>Other words - hypebot</title><meta property="og:title" content="Headline">',
                                 "<h1>hypebot</h1>"))
    assert sd.pick_title(st, []) == ("Headline", "og")


def test_markup_author_list_split_on_semicolons():
    assert sd.markup_authors(page("", '<span itemprop="author">srf/hosb;kesm</span>')) == ["srf/hosb", "kesm"]


def test_page_search_runs_when_only_the_publication_is_credited():
    head = ('<meta property="og:site_name" content="MDR"><meta name="author" content="mdr.example">')
    body = ('<p class="author">von <a href="mailto:x@mdr.example">Jana Feldmann, MDR THÜRINGEN</a></p>'
            '<div class="authors"><span>Capital</span> <span>Von</span> <span>Tobias Reed</span></div><p>Text.</p>')
    st = sd.read_structured(page(head, body))
    assert not sd.credits_person(sd.Structured(authors=st.authors[:1], sites=st.sites))
    author, source = sd.pick_authors(st)
    assert source == "page_search" and "MDR THÜRINGEN" not in author  # the site's desk is not a name


@pytest.mark.parametrize(
    "found, want",
    [("Capital Von Jemima Roe", "Jemima Roe"), ("Ursula von der Leyen", "Ursula von der Leyen"),
     ("Jana Feldmann", "Jana Feldmann")],
    ids=["brand-then-label", "particle-kept", "plain"],
)
def test_label_inside_a_page_byline(found, want):
    assert sd._after_label(found) == want


def test_editing_credit_is_not_an_author():
    body = '<p class="byline">Redaktion: Mara Quill</p><p>Text.</p>'
    assert sd.page_search_authors(page("", body)) == []


def test_admin_account_is_the_site_not_a_person():
    head = ld('{"@type": "NewsArticle", "headline": "H", "author": {"@id": "https://c.example/author/admin/",'
              ' "name": "Courier D"}}')
    body = '<span class="author"><a href="https://c.example/author/admin/" rel="author">Courier D</a></span>'
    st = sd.read_structured(page(head, body + "<p><strong>Jana Feldmann</strong></p><p>Text.</p>"))
    assert not sd.credits_person(st)
    assert sd.pick_authors(st) == ("Courier D", "json_ld")  # kept as the site's credit when nothing better exists
    assert st.bold_names == ["Jana Feldmann"]


@pytest.mark.parametrize(
    "lines, want",
    [
        (["Jana Feldmann", "The council voted on Tuesday."], "Jana Feldmann"),
        (["…as villages cry foul", "…accuse chiefs of taking bribes", "Jana Feldmann/Tobias Reed", "The council."],
         "Jana Feldmann, Tobias Reed"),  # after a short standfirst
        (["The council voted.", "Work starts next month.", "Jana Feldmann"], "Jana Feldmann"),  # the last line
        (["Design: a survey of twenty designers, type foundries, shops and publications of the past ten years "
          "in Tokyo and Osaka", "Jana Feldmann", "The council."], None),  # after the lead: a section heading
        (["Harbour", "Wall", "Storms", "Jana Feldmann", "Work starts next month."], None),  # past the head lines
    ],
    ids=["first", "after-standfirst", "last", "after-lead", "fourth-line"],
)
def test_byline_in_text(lines, want):
    assert sd.byline_in_text(["Jana Feldmann", "Jana Feldmann/Tobias Reed"], lines) == want


@pytest.mark.parametrize(
    "body, want",
    [("<p><strong>Jana Feldmann</strong></p>", ["Jana Feldmann"]),
     ("<p><b>MARA QUILL</b></p>", ["MARA QUILL"]),
     ("<p><strong>I. The Pancake</strong></p>", []),
     ("<p><strong>A</strong> council voted.</p>", []),
     ("<p><strong>Flood warning</strong></p>", [])],
    ids=["strong", "capitals", "heading-words", "drop-cap", "lower-case"],
)
def test_bold_name_paragraphs(body, want):
    assert sd.bold_name_paragraphs(page("", body)) == want


def test_page_search_after_a_publication_credit_stays_in_the_headline_article():
    head = '<meta property="og:site_name" content="The Courier"><meta name="author" content="The Courier">'
    body = ('<main><h1>Harbour wall</h1><p class="author">Jana Feldmann</p><p>Text.</p></main>'
            '<div class="author">Mara Quill</div>')
    assert sd.pick_authors(sd.read_structured(page(head, body))) == ("Jana Feldmann", "page_search")
    outside = body.replace('<p class="author">Jana Feldmann</p>', "")
    assert sd.pick_authors(sd.read_structured(page(head, outside))) == ("The Courier", "meta")
