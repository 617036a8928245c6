"""Pure-function tests of the cleaning stage: every named line rule, the raw-text layout rules, learned templates."""
from __future__ import annotations

import datetime as dt
import pathlib

import pytest

from schemas.records import UTC, CleanArticle, RawArticle
from schemas.rejects import Reason, RejectError
from transforms.clean import CleanConfig
from transforms.clean.article import clean_article
from transforms.clean.extract import extract_html
from transforms.clean.headings import credit_date, parse_date_line
from transforms.clean.layout import is_wall, link_lists
from transforms.clean.lines import clean_lines
from transforms.clean.rules import LINE_RULES, RULE_NAMES, ends_like_sentence, match_line_rule, normalise_line, words
from transforms.clean.templates import is_template, remove_learned_template, template_candidates
from transforms.fingerprints import content_hash

SEEDS = pathlib.Path(__file__).resolve().parent.parent / "seeds"

# Each named line rule: a line it must remove and a similar-looking content line it must keep.
RULE_CASES = [
    ("ad_marker", "ADVERTISEMENT", "The advertisement ran in three newspapers on Sunday."),
    ("ad_marker", "Story continues below advertisement", "The story continues below the surface, divers said."),
    ("share_widget", "Share | Tweet | Email | Print", "He shared the email with the printer in Ohio."),
    ("share_widget", "12 Comments", "Twelve comments were filed by the deadline."),
    ("donation_banner", "UNITED24 - Make a charitable donation in support of Ukraine!",
     "Most of the donations come from everyday tragedies that receive no attention."),
    ("newsletter_prompt", "Sign up for our daily newsletter", "The newsletter was first printed in 1902 by the society."),
    ("cookie_notice", "We use cookies to improve your experience on our site.", "The cookies were baked by volunteers for the fair."),
    ("paywall_notice", "Subscribe now to continue reading", "She said subscribers had complained about the change."),
    ("related_links", "Related stories", "Related talks are expected to resume in Geneva next week."),
    ("site_footer", "© 2024 Example Media Group. All rights reserved.", "The rights group said the law was a step backwards."),
    ("tag_list", "Tags: Syria, Russia, ceasefire", "Tags on the cattle showed where they had been raised."),
    ("navigation", "Home | World | Politics | Business", "| Chicago | 9.6% | 12.1% |"),
    ("photo_caption", "Photo: Getty Images", "The photographs were taken by a passer-by on Tuesday."),
    ("photo_caption", "A damaged vehicle in Aleppo, Syria / Aleppo 24 news via AP",
     "The vehicle was damaged in Aleppo, the AP reported on Tuesday."),
    ("archive_list", "February 2012 (60)", "In February 2012, sixty people were arrested."),
    ("comment_meta", "Posted by: Mario | Mar 21, 2007 2:51:31 AM", "Mario posted the letter on March 21, 2007."),
]


@pytest.mark.parametrize("rule,junk,content", RULE_CASES, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(RULE_CASES)])
def test_line_rule_removes_junk_keeps_content(rule, junk, content):
    assert match_line_rule(junk) == rule
    assert match_line_rule(content) is None


def test_every_rule_is_named_and_pinned():
    pinned = {r for r, _, _ in RULE_CASES}
    assert pinned == {name for name, _ in LINE_RULES}
    assert len(set(RULE_NAMES)) == len(RULE_NAMES)


BODY = [
    "Officials in the northern province confirmed on Tuesday that the river had burst its banks after three days of rain.",
    "Rescue teams moved hundreds of families to schools on higher ground, the regional governor told reporters.",
    "Water levels in the city centre",
    "Forecasters expect more rain before the weekend, and farmers fear that the harvest will be lost.",
    "“We have never seen anything like it,” one farmer said.",
    "The national weather agency said the flooding was the worst in the region for more than forty years.",
]


@pytest.mark.parametrize("structural", [True, False], ids=["raw_text", "html_text"])
def test_clean_article_keeps_every_word(structural):
    """Over-cleaning guard: an article without boilerplate (subheading and short quote included) is untouched."""
    res = clean_lines(BODY, structural=structural, known_title="Floods force thousands from their homes")
    assert res.text.split() == " ".join(BODY).split()
    assert res.removed == []


def page_dump() -> list[str]:
    return [
        "Home", "World", "Politics", "Sport", "Sign in",
        "Floods force thousands from their homes",
        "By Jane Smith",
        "October 3, 2016",
        *BODY,
        "More on this story", "River levels: live map", "How to prepare for a flood",
        "Comments",
        "This is a long reader comment saying that the council should have built the flood walls years ago.",
        "About us", "Contact", "© 2016 Example News",
    ]


def test_raw_text_dump_keeps_body_and_moves_metadata():
    res = clean_lines(page_dump())
    assert res.text.split("\n") == BODY
    assert res.title == "Floods force thousands from their homes"
    assert res.published_at == dt.datetime(2016, 10, 3, tzinfo=UTC)
    assert res.author == "Jane Smith"
    rules = dict((line, rule) for rule, line in res.removed)
    assert rules["Home"] == "page_header"
    assert rules["Comments"] == "comment_section"
    assert rules["About us"] == "page_footer"


def test_title_is_the_headline_about_the_lead_not_the_nearest_heading():
    dump = ["Home", "World", "River bursts its banks after three days of rain", "Weather alerts for your region",
            "Posted by Jane Smith on Tuesday", *BODY, "About us"]
    res = clean_lines(dump)
    assert res.title == "River bursts its banks after three days of rain"
    assert res.text.split("\n") == BODY


def test_title_falls_back_to_the_nearest_heading_and_never_takes_a_credit():
    res = clean_lines(["Home", "Latest from our newsroom", "Weather alerts for your region", "@janesmith on Twitter", *BODY])
    assert res.title == "Weather alerts for your region"  # no heading shares words with the lead: the nearest one
    res = clean_lines(["Home", "Posted by Jane Smith on Tuesday", *BODY])
    assert res.title is None


def test_published_at_is_the_date_next_to_the_body_not_a_sidebar_or_archive_date():
    sidebar = ["Home", "Recent posts", "Budget vote delayed again", "March 2, 2015", "August 2012", "July 2012"]
    spacer = [f"Section {n}" for n in range(20)]
    res = clean_lines([*sidebar, *spacer, "River bursts its banks after three days of rain", "October 3, 2016", *BODY])
    assert res.published_at == dt.datetime(2016, 10, 3, tzinfo=UTC)
    # Far from the body, only a sidebar date and archive months: no published_at rather than a wrong one.
    res = clean_lines([*sidebar, *spacer, "River bursts its banks after three days of rain", *BODY])
    assert res.published_at is None
    # A month without a day is an archive link, never a date.
    res = clean_lines(["River bursts its banks after three days of rain", "August 2012", *BODY])
    assert res.published_at is None


def test_published_at_from_a_dated_credit_line():
    res = clean_lines(["River bursts its banks after three days of rain",
                          "Posted by Jane Smith on July 24, 2012 at 7:29 am", *BODY])
    assert res.published_at == dt.datetime(2012, 7, 24, 7, 29, tzinfo=UTC)
    assert credit_date("Posted by Jane Smith on July 24, 2012 at 7:29 am") is not None
    assert credit_date("The vote was held on July 24, 2012, after a long debate in the chamber.") is None


@pytest.mark.parametrize(
    "line,wall",
    [("Jane Doe says:", True), ("Reply", True), ("July 5, 2012 at 9:42 am", True), ("Share | Tweet | Email", True),
     ("Leave a comment", True), ("He says the river rose at 9:42 am on July 5, before the evacuation.", False),
     ("Reply to the minister's letter was sent in July.", False), ("Water levels in the city centre", False)],
)
def test_walls_between_article_and_comments(line, wall):
    assert is_wall(line, match_line_rule(line)) is wall


def test_comments_after_the_article_are_cut_at_their_furniture():
    """A thread without a heading: the first commenter's "says:" line ends the article, however long the thread."""
    comment = "I think the council should have built the flood walls years ago, when everyone could see this coming."
    lines = ["Floods force thousands from their homes", *BODY]
    for name in ("Mike", "Anna", "Tom", "Lisa"):
        lines += [f"{name} says:", "July 5, 2016 at 9:42 am", comment * 3, "Reply"]
    assert clean_lines(lines).text.split("\n") == BODY


def test_share_link_between_paragraphs_does_not_end_the_body():
    """A share/comments link with paragraphs right above and below it sits inside the article."""
    long_lead = BODY[0] + " " + BODY[1] + " " + BODY[5]
    lines = ["Floods force thousands from their homes", long_lead, "Comments", *BODY, "Share | Tweet | Email",
             "12 Comments", "This is a long reader comment saying that the council should have built the walls years ago."]
    assert clean_lines(lines).text.split("\n") == [long_lead, *BODY]


def test_short_sentences_at_the_ends_of_the_body_are_kept():
    """A short closing (or opening) sentence next to the body run belongs to it, removed lines in between aside."""
    lines = ["Home", "World", "Floods force thousands from their homes", "The river rose overnight.", *BODY,
             "ADVERTISEMENT", "Schools will stay closed.", "About us", "Contact"]
    res = clean_lines(lines)
    assert res.text.split("\n") == ["The river rose overnight.", *BODY, "Schools will stay closed."]


def test_short_sentences_beyond_a_wall_or_a_menu_line_are_not_the_body():
    """The widening stops at a wall (a comment heading) and at a kept line that is not a sentence (a menu item)."""
    lines = ["Home", "Thanks for visiting today.", "World", "Floods force thousands from their homes", *BODY,
             "Comments", "Great article, thanks.", "About us"]
    res = clean_lines(lines)
    assert res.text.split("\n") == BODY
    removed = dict((line, rule) for rule, line in res.removed)
    assert removed["Thanks for visiting today."] == "page_header"
    assert removed["Great article, thanks."] == "page_footer"


def test_site_blurb_above_a_share_bar_is_not_the_article():
    """A site blurb of some length above a share bar loses to an article five times its size below it."""
    blurb = ("Example Blog is written by a group of retired engineers who care about rivers, dams and the towns "
             "that grow up along them, and who have spent forty years measuring water in places most people never see. ") * 2
    article = [line for line in BODY if len(line.split()) > 6] * 5
    lines = ["Example Blog", blurb.strip(), "Share this:", "Facebook", "Twitter", *article, "Leave a comment", blurb.strip()]
    assert clean_lines(lines).text.split("\n") == article


def test_comment_tab_above_the_article_does_not_end_the_body():
    """A "Comments" tab under a short site tagline is not the comment thread: the article below it is kept."""
    lines = ["Example Blog", "A blog about rivers, rain and the people who live with them.", "Article", "Comments",
             "Floods force thousands from their homes", *BODY, "12 Comments",
             "This is a long reader comment saying that the council should have built the flood walls years ago.",
             "Another reader wrote that the river has flooded every decade since the dam was built upstream."]
    res = clean_lines(lines)
    assert res.text.split("\n") == BODY
    assert ("comment_section", "12 Comments") in res.removed


COMMENT = "I think the council should have built the flood walls years ago, when everyone could see this coming."


def _thread(n: int, long: bool = False) -> list[str]:
    """A comment thread without a heading: name, date-time stamp, a comment (long: three times the post)."""
    out = []
    for d in range(1, n + 1):
        out += [f"Reader{d}", f"July {d}, 2016 at 9:4{d} am", " ".join([COMMENT] * (8 if long else 3))]
    return out


@pytest.mark.parametrize(
    "line,sentence",
    [("“We have never seen anything like it,” one farmer said.", True),
     ("“We have never seen anything like it,“ one farmer said.“", True),
     ("He said it was the worst flood in forty years.''", True),
     ("Arsenio Hall’s Late-Night Talk Show Now A Firm Go For …", False),
     ("Ten things you never knew about the river that runs through the town...", False),
     ("Water levels in the city centre", False)],
    ids=["curly_quotes", "retyped_open_quote", "two_apostrophes", "ellipsis_teaser", "dots_teaser", "no_punctuation"],
)
def test_ends_like_sentence(line, sentence):
    assert ends_like_sentence(line) is sentence


def test_retyped_quotes_and_doubled_blank_lines_keep_every_word():
    """Over-cleaning guard for a syndicated copy whose quotes, commas and spacing were retyped: nothing is lost."""
    quoted = ["The mayor said the town would “rebuild every house that the river took from us this week.”",
              "“We will not leave,” said one resident, “because this valley is our home and always will be.”"]
    variant = [line.replace("”", "“").replace(",", "") for line in BODY + quoted]
    spaced = [x for line in variant for x in (line, "")]
    for structural in (True, False):
        assert clean_lines(spaced, structural=structural).text.split() == " ".join(variant).split()


def test_link_lists_are_runs_of_short_lines_inside_the_body():
    """Two or more short unpunctuated kept lines in a row are a link list (removed lines do not break the run);
    a single one is a subheading and stays."""
    lines = [BODY[0], "River levels: live map", "ADVERTISEMENT", "How to prepare for a flood", BODY[1],
             "Water levels in the city centre", BODY[3]]
    verdict = [match_line_rule(line) for line in lines]
    assert link_lists(lines, verdict, 0, len(lines), CleanConfig()) == [1, 3]
    assert link_lists(lines, verdict, 4, len(lines), CleanConfig()) == []


def test_teasers_ending_in_ellipsis_are_not_the_article():
    """A list of truncated headlines above a share bar loses to the article below it, though it comes first."""
    teasers = [f"Story number {n} about the council and the storm that is still to come and what it means for …"
               for n in range(6)]
    lines = ["Example News", *teasers, "Share | Tweet | Email", "Floods force thousands from their homes", *BODY]
    assert clean_lines(lines).text.split("\n") == BODY


@pytest.mark.parametrize(
    "line,wall",
    [("Phil White responded to Davey on November 13th, 2012 at 8:19 am Link To Comment | Reply To Comment", True),
     ("The flood reached the town hall on November 13th, 2012 at 8:19 am and the mayor left by boat, officials said.", False)],
    ids=["long_comment_stamp", "sentence_with_time"],
)
def test_comment_stamp_with_author_and_links_is_a_wall(line, wall):
    assert is_wall(line, match_line_rule(line)) is wall


def test_lone_dateline_stamp_does_not_split_the_article():
    """A post's own date-time stamp inside it is not comment furniture; the same stamps recurring are."""
    lead = BODY[:2]
    rest = BODY[3:]
    lines = ["Floods force thousands from their homes", *lead, "Updated 7/23/2016 8:26:15 PM ET", *rest]
    assert clean_lines(lines).text.split("\n") == lead + rest
    threaded = ["Floods force thousands from their homes", *BODY, *_thread(3)]
    assert clean_lines(threaded).text.split("\n") == BODY


def test_short_article_above_a_long_thread_is_kept():
    """A short post above a thread many times its length: the thread's recurring stamps put the article above it."""
    post = [BODY[0], BODY[1], BODY[3]]
    lines = ["Floods force thousands from their homes", *post, *_thread(8, long=True)]
    res = clean_lines(lines)
    assert res.text.split("\n") == post
    # Share bars recurring are not a thread: a site blurb above them does not become the article.
    blurb = ("Example Blog is written by a group of retired engineers who care about rivers, dams and the towns "
             "that grow up along them, and who have spent forty years measuring water in places most people never see. ") * 2
    bars = ["Share | Tweet | Email", "Example Blog", "Facebook", "Example Blog", "Share this:", "Example Blog", "Twitter"]
    article = [line for line in BODY if len(line.split()) > 6] * 3
    assert clean_lines([blurb.strip(), *bars, *article]).text.split("\n") == article


@pytest.mark.parametrize(
    "heading", ["{ 131 comments }", "8 appreciated comments on “Floods force thousands”", "Public discussion (4)", "Comments»"],
)
def test_comment_heading_puts_a_substantial_article_above_a_much_longer_thread(heading):
    """Below a comment heading is the thread, even when it is more than five times the article's length."""
    article = [line for line in BODY if len(line.split()) > 6] * 2
    thread = [x for d in range(12) for x in (f"Reader{d}", " ".join([COMMENT] * 3))]
    lines = ["Floods force thousands from their homes", *article, heading, *thread]
    assert clean_lines(lines).text.split("\n") == article


def test_comment_count_in_a_post_header_is_not_the_thread():
    """A "0 Comments" link under the headline, with only a short menu above it, does not cut the article off."""
    menu = "News Sport Weather Business Culture Travel Opinion Video Podcasts Newsletters Puzzles Archive Events Jobs"
    lines = [menu + " " + menu, "Floods force thousands from their homes", "0 Comments", *BODY]
    assert clean_lines(lines).text.split("\n") == BODY


@pytest.mark.parametrize(
    "lines,kept",
    [
        (BODY[:2] + ["Watch: the flood from the air", "Gallery: rescue in pictures"] + BODY[3:4], BODY[:2] + BODY[3:4]),
        (BODY[:2] + ["Water levels in the city centre"] + BODY[3:4], BODY[:2] + ["Water levels in the city centre"] + BODY[3:4]),
        (BODY[:2] + ["Sandbags and drinking water for every household in the lower town (two per adult)",
                  "Buses to the schools on higher ground every twenty minutes until midnight"] + BODY[3:4],
         BODY[:2] + ["Sandbags and drinking water for every household in the lower town (two per adult)",
                  "Buses to the schools on higher ground every twenty minutes until midnight"] + BODY[3:4]),
    ],
    ids=["link_list_removed", "single_subheading_kept", "article_list_items_kept"],
)
def test_link_lists_inside_body(lines, kept):
    assert clean_lines(lines).text.split("\n") == kept


@pytest.mark.parametrize(
    "line,expected",
    [("October 3, 2016", dt.datetime(2016, 10, 3, tzinfo=UTC)), ("Published: Mon Oct 3, 2016 6:13PM", dt.datetime(2016, 10, 3, 18, 13, tzinfo=UTC)),
     ("The talks resumed in October 2016 after a pause.", None), ("Chapter 3, verse 12", None)],
    ids=["date", "prefixed_date", "sentence_with_date", "no_date"],
)
def test_parse_date_line(line, expected):
    assert parse_date_line(line) == expected


def test_html_text_keeps_dates_and_bylines():
    """In extracted HTML text, date and byline lines are article text (metadata comes from the page)."""
    lines = ["By Jane Smith", "October 3, 2016", *BODY]
    assert clean_lines(lines, structural=False).text.split("\n") == lines


def test_repeated_credit_removed_once_is_kept():
    lines = ["Iran Press TV", *BODY[:2], "Iran Press TV", BODY[3]]
    res = clean_lines(lines, structural=False)
    assert [r for r, _ in res.removed] == ["repeated_credit", "repeated_credit"]
    single = clean_lines(["Iran Press TV", *BODY[:2]], structural=False)
    assert "Iran Press TV" in single.text


def _article(aid: str, text: str, rules=(), removed=()) -> CleanArticle:
    return CleanArticle(article_id=aid, source_uri=aid, input_format="text", text=text, source_key="site:x",
                        content_hash=content_hash(text), boilerplate_rules=tuple(rules), boilerplate_removed=tuple(removed))


def test_learned_template_needs_distinct_articles():
    """A line shared by copies of one story (same fingerprint) is never learned; across distinct articles it is."""
    cfg = CleanConfig(learn_min_articles=3)
    quote = "“This is not a decision that was taken lightly,” Kirby said."
    copies = [_article(f"c{i}", BODY[0] + "\n" + quote) for i in range(4)]
    fps = {fp for a in copies for (key, fp) in template_candidates(a, cfg) if key[1] == normalise_line(quote)}
    assert not is_template(("site:x", normalise_line(quote)), fps, cfg)
    distinct = [_article(f"d{i}", BODY[i] + "\nRead our live blog") for i in (0, 1, 3)]
    fps = {fp for a in distinct for (key, fp) in template_candidates(a, cfg) if key[1] == "read our live blog"}
    assert is_template(("site:x", "read our live blog"), fps, cfg)


def test_remove_learned_template_removes_and_renames_positional():
    a = _article("a", BODY[0] + "\nRead our live blog", rules=["page_footer", "ad_marker"], removed=["About us", "ADVERTISEMENT"])
    out = remove_learned_template(a, frozenset({"read our live blog", "about us", "advertisement"}))
    assert out.text == BODY[0]
    assert list(zip(out.boilerplate_rules, out.boilerplate_removed)) == [
        ("learned_template", "About us"), ("ad_marker", "ADVERTISEMENT"), ("learned_template", "Read our live blog")]


def test_remove_learned_template_never_empties_an_article():
    """A stub whose only lines are ones its site repeats keeps them instead of becoming an empty reject."""
    a = _article("stub", "Photo gallery: the week in pictures\nRead our live blog")
    out = remove_learned_template(a, frozenset({"photo gallery: the week in pictures", "read our live blog"}))
    assert out.text == a.text and out.boilerplate_removed == a.boilerplate_removed
    partly = remove_learned_template(a, frozenset({"read our live blog"}))
    assert partly.text == "Photo gallery: the week in pictures"


def _raw(path: pathlib.Path) -> RawArticle:
    text = path.read_text(encoding="utf-8")
    return RawArticle(article_id=path.stem, source_uri=str(path), input_format="text", content=text, is_html=False,
                      source_key="dir:seeds")


SEED_JUNK = ["ADVERTISEMENT", "UNITED24 - Make a charitable donation in support of Ukraine!",
             "Weapons of Mass Destruction (WMD)", "Join the GlobalSecurity.org mailing list", "Comments"]


def test_seeds_acceptance():
    """On the seeds: every body sentence kept, every boilerplate line gone, titles and dates found."""
    articles = [clean_article(_raw(p)) for p in sorted(SEEDS.glob("*.txt"))]
    assert len(articles) == 3
    for a, path in zip(articles, sorted(SEEDS.glob("*.txt"))):
        kept = set(a.text.split("\n"))
        for line in path.read_text(encoding="utf-8").splitlines():
            line = " ".join(line.split())
            if words(line) >= 10 and line.endswith((".", '"', "”")):
                assert line in kept, line[:60]
        for junk in SEED_JUNK:
            assert junk not in kept
        assert "This is not a decision that was taken lightly" in a.text
    assert sum(a.title is not None for a in articles) == 2
    assert sum(a.published_at is not None and a.published_at.date() == dt.date(2016, 10, 3) for a in articles) == 2


def test_extract_html_text_and_metadata():
    body = "".join(f"<p>{s}</p>" for s in BODY)
    html = (
        "<html lang='en'><head><title>Floods force thousands from their homes | Example News</title>"
        "<meta property='og:title' content='Floods force thousands from their homes'>"
        "<meta name='author' content='Jane Smith'>"
        "<meta property='article:published_time' content='2016-10-03T08:00:00Z'></head>"
        f"<body><nav><a href='/'>Home</a> <a href='/w'>World</a></nav><article><h1>Floods</h1>{body}</article>"
        "<footer>© 2016 Example News</footer></body></html>"
    )
    ex = extract_html(html, "https://example.com/floods")
    assert "river had burst its banks" in ex.text and "Example News" not in ex.text
    assert ex.title == "Floods force thousands from their homes"
    assert ex.author == "Jane Smith"
    assert ex.published_at is not None and ex.published_at.date() == dt.date(2016, 10, 3)
    assert ex.language == "en"
    with pytest.raises(RejectError) as err:
        extract_html("just words, no markup", None)
    assert err.value.reason is Reason.EXTRACTION_FAILED


def test_author_from_byline_when_page_has_no_author_meta():
    body = "".join(f"<p>{s}</p>" for s in BODY)
    html = f"<html><body><article><p>By Jane Smith, Reuters</p>{body}</article></body></html>"
    assert extract_html(html, None).author == "Jane Smith"


def _page(head: str = "") -> str:
    body = "".join(f"<p>{s}</p>" for s in BODY)
    return f"<html><head><title>Floods force thousands from their homes</title>{head}</head><body><article>{body}</article></body></html>"


@pytest.mark.parametrize(
    "record_site,head,fallback,site,key",
    [(None, "", None, None, "site:example.com"),
     (None, "", "Example Feed", "Example Feed", "site:example feed"),
     (None, "<meta property='og:site_name' content='Example News'>", "Example Feed", "Example News", "site:example news"),
     ("Record Site", "<meta property='og:site_name' content='Example News'>", "Example Feed", "Record Site", "host:example.com")],
    ids=["host", "feed_name", "page_name", "record_site"],
)
def test_site_is_the_record_then_the_page_then_the_feed_never_the_host(record_site, head, fallback, site, key):
    """A feed's or news sitemap's publication name (`fallback_site`) names the site when the record and the page
    give none; without a name `site` is NULL (the host has its own column) and templates are learned by host."""
    url = "https://www.example.com/floods"
    raw = RawArticle(article_id="a", source_uri=url, input_format="http", content=_page(head), is_html=True, url=url,
                     site=record_site, source_key="host:example.com", fallback_site=fallback)
    article = clean_article(raw)
    assert article.site == site
    assert article.host == "example.com"
    assert article.source_key == key
