"""The cleaner's constants: one frozen, validated CleanConfig."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class CleanConfig:
    """Constants of the cleaner, validated at construction. The defaults are what the pipeline runs with."""

    # Body line: at least this many words and ending like a sentence (>= 1).
    body_min_words: int = 10
    # Body line whatever its punctuation: at least this many words (>= body_min_words).
    body_any_words: int = 25
    # Short unpunctuated lines (at most this many words) repeated inside one article are source credits (>= 1).
    credit_max_words: int = 6
    # Raw text: what a kept line that is not body costs, in words of body, inside the body region, so a region
    # bridges a gap of short lines only when there is more body on both sides (> 0).
    gap_cost: float = 4.0
    # Raw text: the article is the first comment-free section holding a run of this many body words (>= 1) ...
    body_min_region: int = 80
    # ... and at least this share of the best section's body words, so a short blurb above it is not it (0-1).
    body_min_share: float = 0.2
    # Raw text: comment furniture (stamps, "Reply", headings) recurring within this many lines is a thread (>= 1) ...
    thread_gap: int = 12
    # ... when a wall is followed by this many more, each within thread_gap lines of the one before (>= 1) ...
    thread_follow: int = 2
    # ... and the article is above the thread when a run there weighs this many body words, however long the
    # thread (>= 0); below a comment heading alone, body_min_region words are needed.
    thread_article_min: float = 40.0
    # Raw text: runs of at least this many short unpunctuated lines inside the body are link lists (>= 2) ...
    link_run: int = 2
    # ... of lines up to this many words; a longer unpunctuated line is a list item of the article (>= 1).
    link_max_words: int = 10
    # Raw text: the title is a headline-like line at most this many lines above the body (>= 0) ...
    title_window: int = 8
    # ... preferring the one whose words (4+ letters) recur in the body's first title_lead_words words (>= 1),
    # when at least the share title_min_overlap of them do (0-1).
    title_lead_words: int = 150
    title_min_overlap: float = 0.3
    # Raw text: published_at is the date line nearest the body's start, at most date_window lines above it or
    # date_body_lines into it (else a date in a credit line there); a date further away is not taken (>= 0).
    date_window: int = 15
    date_body_lines: int = 3
    # Learned template: a line is template when it recurs in this many distinct articles of one source (>= 2) ...
    learn_min_articles: int = 3
    # ... and lines of more than learn_short_words words need learn_min_articles_long (>= learn_min_articles).
    learn_short_words: int = 12
    learn_min_articles_long: int = 6
    # Lines of more than this many words are never learned as template (>= 1).
    learn_max_words: int = 80
    # trafilatura's settings for HTML: favor_precision trades recall for precision, fast skips its fallback
    # extractors, include_tables keeps the text of tables.
    favor_precision: bool = False
    fast: bool = True
    include_tables: bool = True
    # With fast=True: a page whose fast text is shorter than this share of the text in its <p> elements (of all of
    # them on a page declaring a schema.org article, else of those in <article>/<main>) or of its JSON-LD
    # articleBody is extracted again with trafilatura's fallback extractors, the longer text kept (0 = never, 0-1).
    second_opinion_ratio: float = 0.5
    # ... or whose fast text holds less than this share of those paragraphs' 4-token shingles (0-1). The page's
    # paragraphs are those outside any <article> plus the <article> the text agrees with most, so a page that
    # appends the next story or lists teasers as <article>s is judged against its own article. The second text
    # is kept only when it is longer and agrees with those paragraphs at least as well (shingle F1).
    second_opinion_min_coverage: float = 0.2
    # With fast=True: the page's JSON-LD articleBody replaces the extracted text when the text holds less than this
    # share of the body's shingles, the body at least this share of the text's, and the page's paragraphs at least
    # this share of the body's; only the body's lines shown on the page are kept (0 = never, 0-1).
    json_ld_min_share: float = 0.8
    # HTML: list the page's blocks the extraction left out in boilerplate_removed, named for the part of the page
    # they sat in (html_navigation, html_related, ...; transforms/clean/html_audit.py).
    audit_html: bool = True
    # Seconds one HTML page may take to clean before it becomes an `extraction_timeout` reject; it is cleaned in
    # a child process that is killed then (0 = no limit, cleaned in the worker itself; >= 0).
    extraction_timeout_s: float = 30.0
    # With a time limit: HTML is cleaned in this many child processes (>= 1) ...
    clean_processes: int = 1
    # ... with at most this many pages in flight per cleaning step (>= 1): 1 cleans one page at a time while the
    # step waits; more let the step read the next pages and pass earlier articles on while children clean.
    clean_in_flight: int = 1

    def __post_init__(self):
        if self.learn_min_articles < 2 or self.learn_min_articles_long < self.learn_min_articles:
            raise ValueError("learn_min_articles must be >= 2 and <= learn_min_articles_long")
        if self.gap_cost <= 0 or self.link_run < 2:
            raise ValueError("gap_cost must be > 0 and link_run >= 2")
        if self.thread_gap < 1 or self.thread_follow < 1:
            raise ValueError("thread_gap and thread_follow must be >= 1")
        if not 0.0 <= self.title_min_overlap <= 1.0:
            raise ValueError("title_min_overlap must be between 0 and 1")
        if not 0.0 <= self.second_opinion_ratio <= 1.0:
            raise ValueError("second_opinion_ratio must be between 0 and 1")
        if not 0.0 <= self.json_ld_min_share <= 1.0:
            raise ValueError("json_ld_min_share must be between 0 and 1")
        if not 0.0 <= self.second_opinion_min_coverage <= 1.0:
            raise ValueError("second_opinion_min_coverage must be between 0 and 1")
        if self.extraction_timeout_s < 0:
            raise ValueError("extraction_timeout_s must be >= 0")
        if self.clean_processes < 1 or self.clean_in_flight < 1:
            raise ValueError("clean_processes and clean_in_flight must be >= 1")
