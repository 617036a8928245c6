"""Page-dump layout analysis: walls and comment threads, the body region (a maximum-sum run of lines widened
over short paragraphs), link lists inside it, and menu blocks of text without a layout."""
from __future__ import annotations

from transforms.clean.config import CleanConfig
from transforms.clean.rules import COMMENT_HEAD, MONTH, YEAR, ends_like_sentence, is_body_line, pattern, words

# Lines of a comment thread's furniture: "Jane says:", "July 5, 2012 at 9:42 am", "Reply", "Report abuse".
_COMMENT_MARK = pattern(
    r"^(.{1,60}\s(says|said|wrote|writes)\s*:?|(reply|report( abuse| comment)?|(log|sign) in to reply|flag( as inappropriate)?)"
    r"( ↓| »)?)$"
)
_TIME = pattern(r"\b\d{1,2}:\d\d\s*([ap]\.?m\.?)?\b")
_REPLY = pattern(r"^(reply|report( abuse| comment)?|(log|sign) in to reply|flag( as inappropriate)?)( ↓| »)?$")
_BARE_COMMENTS = pattern(r"^(comments?|discussion)$")


def menu_blocks(lines: list[str], verdict: list[str | None]) -> set[int]:
    """Indexes of runs of 3+ consecutive very short unpunctuated kept lines: menus and link lists."""
    out: set[int] = set()
    run: list[int] = []
    for i, line in enumerate(lines + [""]):
        if i < len(lines) and verdict[i] is not None:
            continue
        if line and words(line) <= 3 and not ends_like_sentence(line) and not YEAR.search(line):
            run.append(i)
            continue
        if len(run) >= 3:
            out.update(run)
        run = []
    return out


def link_lists(lines: list[str], verdict: list[str | None], start: int, end: int, cfg: CleanConfig) -> list[int]:
    """Indexes of the link lists inside the body [start, end): runs of `link_run` or more short unpunctuated kept
    lines (removed lines in between do not break a run). A single such line is a subheading and stays."""
    out: list[int] = []
    run: list[int] = []
    for i in list(range(start, end)) + [end]:
        line = lines[i] if i < end else ""
        listy = not is_body_line(line, cfg) and not ends_like_sentence(line) and words(line) <= cfg.link_max_words
        if i < end and verdict[i] is None and listy:
            run.append(i)
            continue
        if i < end and verdict[i] is not None:
            continue
        if len(run) >= cfg.link_run:
            out.extend(run)
        run = []
    return out


def is_wall(line: str, verdict: str | None) -> bool:
    """Where the article ends on a page dump: a comment-thread heading, a comment's furniture ("Jane says:",
    "Reply", a date-and-time stamp) or a share widget. A body run never spans one."""
    if verdict in (None, "share_widget") and COMMENT_HEAD.match(line):
        return True
    if verdict in ("comment_meta", "share_widget"):
        return True
    short = words(line) <= 12
    if short and _COMMENT_MARK.match(line):
        return True
    # A comment's date-time stamp, with its author and links ("Jo responded to Ann on May 2, 2012 at 8:19 am
    # Link To Comment | Reply") up to 20 words.
    return words(line) <= 20 and not ends_like_sentence(line) and bool(_TIME.search(line)) and bool(MONTH.search(line))


def _is_weak_wall(line: str, verdict: str | None) -> bool:
    """A wall only by a date-time stamp or an "X said:" mark: on its own it is the article's dateline or a quote."""
    return verdict not in ("comment_meta", "share_widget") and not COMMENT_HEAD.match(line) and not _REPLY.match(line)


def _is_comment_wall(line: str, verdict: str | None) -> bool:
    """A wall that belongs to a comment thread (not a share bar, unless the bar is a comment heading)."""
    if verdict == "share_widget":
        return bool(COMMENT_HEAD.match(line))
    return is_wall(line, verdict)


def _drop_lone_stamps(lines, verdict, walls: list[int], cfg: CleanConfig) -> list[int]:
    """Walls minus weak ones (stamps, "X said:") with no other wall within `thread_gap` lines: a thread's
    stamps recur, a post's own dateline ("Posted at 10:00 AM ET, 11/29/2011") or a quoted "X said:" does not.
    A stamp right next to another weak wall (a two-line dateline) does not count as recurring."""
    weak = {i for i in walls if _is_weak_wall(lines[i], verdict[i])}
    kept = []
    for n, i in enumerate(walls):
        if i in weak:
            near = [j for j in walls[max(0, n - cfg.thread_gap): n + cfg.thread_gap + 1]
                    if j != i and abs(i - j) <= cfg.thread_gap and not (j in weak and abs(i - j) <= 1)]
            if not near:
                continue
        kept.append(i)
    return kept


def _thread_start(lines, verdict, sections, cfg: CleanConfig) -> tuple[int | None, float]:
    """(index of the section a comment thread follows, body words the sections above need to hold the article).

    The thread starts at the first comment wall followed by `thread_follow` more, each within `thread_gap`
    lines of the one before (`thread_article_min` above it), or at a comment heading such as "{ 131 comments }"
    (a full `body_min_region` above it, since a bare count also sits under headlines); (None, 0) without one."""
    ks = [k for k, (_, b) in enumerate(sections) if b < len(lines) and _is_comment_wall(lines[b], verdict[b])]
    at = [sections[k][1] for k in ks]
    for n, k in enumerate(ks):
        if n + cfg.thread_follow < len(ks) and all(
            at[n + m + 1] - at[n + m] <= cfg.thread_gap for m in range(cfg.thread_follow)
        ):
            return k, cfg.thread_article_min
        if COMMENT_HEAD.match(lines[at[n]]) and not _BARE_COMMENTS.match(lines[at[n]]):
            return k, cfg.body_min_region
    return None, 0.0


def _best_segment(lines, verdict, cfg, lo, hi) -> tuple[float, int, int]:
    """(score, start, end) of the maximum-sum run of lines in [lo, hi) (see body_region)."""
    best, best_span = 0.0, (lo, lo)
    acc, start = 0.0, lo
    for i in range(lo, hi):
        line = lines[i]
        if verdict[i] is not None:
            w = 0.0
        elif is_body_line(line, cfg):
            w = float(words(line))
        elif ends_like_sentence(line) and words(line) >= 3:
            w = 0.0
        else:
            w = -cfg.gap_cost
        if acc <= 0:
            acc, start = 0.0, i
        acc += w
        if acc > best:
            best, best_span = acc, (start, i + 1)
    return best, best_span[0], best_span[1]


def _between_paragraphs(lines: list[str], verdict: list[str | None], i: int, cfg: CleanConfig) -> bool:
    """A share widget or a bare "Comments" link with article paragraphs right above and below it
    (removed lines aside) sits inside the article, not at its end."""
    if verdict[i] != "share_widget" or (COMMENT_HEAD.match(lines[i]) and not _BARE_COMMENTS.match(lines[i])):
        return False

    def nearest(step):
        j = i + step
        while 0 <= j < len(lines) and verdict[j] is not None and not is_wall(lines[j], verdict[j]):
            j += step
        return j if 0 <= j < len(lines) else None

    before, after = nearest(-1), nearest(1)
    return (before is not None and after is not None and verdict[before] is None and verdict[after] is None
            and is_body_line(lines[before], cfg) and is_body_line(lines[after], cfg))


def body_region(lines: list[str], verdict: list[str | None], cfg: CleanConfig) -> tuple[int, int]:
    """[start, end) of the main body of a page dump: the run of lines with the most body words net of gaps.

    Body lines weigh their word count, other kept lines cost `gap_cost`, short sentences and removed
    lines are neutral (maximum-sum segment). Walls (`is_wall`: comment headings and furniture, share
    widgets) split the page into sections a run cannot cross; the article is the first section holding
    a substantial run (`body_min_region` words or half the best section's, and at least `body_min_share`
    of it), since comments and share bars follow the article and a "Comments" tab may sit above it.
    A lone date-time stamp is the post's dateline, not a wall; above a comment thread (furniture that
    recurs, or a comment heading) only the sections before it compete when they hold an article's run.

    Marks the wall that ends the article's section `comment_section` in `verdict` when no rule removed it
    (or it is a comment heading).
    """
    walls = [i for i, line in enumerate(lines) if is_wall(line, verdict[i]) and not _between_paragraphs(lines, verdict, i, cfg)]
    walls = _drop_lone_stamps(lines, verdict, walls, cfg)
    bounds = [-1, *walls, len(lines)]
    sections = [(_best_segment(lines, verdict, cfg, a + 1, b), b) for a, b in zip(bounds, bounds[1:])]
    opens = dict(zip(bounds[1:], (a + 1 for a in bounds)))  # a section's first line, by the wall that ends it
    # Above a comment thread, a run of a few body lines is the article, however long the thread below it.
    thread, need_above = _thread_start(lines, verdict, sections, cfg)
    if thread is not None and max(score for (score, _, _), _ in sections[: thread + 1]) >= need_above:
        sections = sections[: thread + 1]
    top = max(score for (score, _, _), _ in sections)
    need = max(min(cfg.body_min_region, 0.5 * top), cfg.body_min_share * top)
    for (score, start, end), wall in sections:
        if score > 0 and score >= need:
            start, end = _extend_run(lines, verdict, start, end, opens[wall], wall)
            if wall < len(lines) and (verdict[wall] is None or COMMENT_HEAD.match(lines[wall])):
                verdict[wall] = "comment_section"
            return start, end
    return 0, 0


def _is_sentence_like(line: str) -> bool:
    """A short paragraph of the article: a sentence of a few words, not a body line on its own."""
    return ends_like_sentence(line) and words(line) >= 3


def _extend_run(lines, verdict, start: int, end: int, lo: int, hi: int) -> tuple[int, int]:
    """The body run [start, end) widened over the short sentences right next to it (removed lines in between are
    neutral): a short paragraph at either end of the article weighs nothing in the maximum-sum run, yet belongs
    to it. It stops at any other kept line, at a wall and at the bounds [lo, hi) of its section."""
    def reach(i, step):
        edge, j = i, i + step
        while lo <= j < hi and not is_wall(lines[j], verdict[j]):
            if verdict[j] is None:
                if not _is_sentence_like(lines[j]):
                    break
                edge = j
            j += step
        return edge
    if start >= end:
        return start, end
    return reach(start, -1), reach(end - 1, 1) + 1
