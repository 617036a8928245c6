"""Same-event clustering of the candidate graph: group similarity and average linkage with a time-span limit.

Average linkage counts a missing edge as zero similarity, so one article bridging two events cannot
merge them. Groups of headline-only articles are compared by their centroids instead (group_similarity).
Then the small groups linkage left apart join the story of their nearest neighbours (attach_leftovers).
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Iterable

from transforms.stories.config import StoryConfig


def group_similarity(cross: float, a: tuple[int, float, bool], b: tuple[int, float, bool]) -> float:
    """Similarity of two groups from the sum of their cross similarities; a, b = (size, sum of the
    similarities inside the group, all members headline-only).

    Average linkage (cross / (size_a * size_b)) in general. Two groups of headlines are compared by
    their centroids, as streaming news clustering compares an article to story centroids: a headline
    carries only a few of its event's words, so headlines of one event are each weakly similar to
    one another and strongly to their sum. The centroid cosine follows from the same sums (the squared
    norm of a sum of unit vectors is size + 2 * inner sum; pairs that are no candidates count as 0, as
    in average linkage), so no vector is needed here. Centroids chain more easily than averages: a
    headline strongly similar to two small headline groups can join them (tests show where it does not).
    """
    (na, ia, ha), (nb, ib, hb) = a, b
    if ha and hb:
        return cross / math.sqrt((na + 2.0 * ia) * (nb + 2.0 * ib))
    return cross / (na * nb)


def attach_leftovers(members: dict[str, list], span: dict[str, tuple], pair_sum: dict[tuple[str, str], float], cfg: StoryConfig) -> None:
    """Small groups that average linkage left apart join the story of their nearest neighbours (in place).

    Average linkage counts the missing edges of a large group as zeros, so an article strongly similar to a
    part of a big story stays out of it (ECB+: an article with four edges of 0.20-0.27 into a story of 13).
    A group of at most k = cfg.attach_neighbours articles joins the larger group where the mean, over its
    members, of each member's k strongest edges into that group (missing ones counting 0) is highest, when
    that mean reaches the threshold and the joined time span stays within the window: the k-nearest-neighbour
    rule, applied to the groups linkage formed. Larger groups never merge here (sibling events, each a large
    group, stay as linkage left them). Decided on the groups as linkage left them, then applied largest group
    first, strongest first, each against the time span its destination has by then: a small group whose target
    itself joined a larger one goes where its target went, and one whose joining would stretch that story
    beyond the window stays out (two leftovers, one before and one after a story, never both join it).
    """
    k = cfg.attach_neighbours
    window_s = cfg.window_days * 86400.0
    group_of = {aid: label for label, ms in members.items() for aid in ms}
    nbrs: dict[str, list[tuple[str, float]]] = {}
    for (a, b), s in pair_sum.items():
        nbrs.setdefault(a, []).append((b, s))
        nbrs.setdefault(b, []).append((a, s))
    target: dict[str, tuple[str, float]] = {}
    for label in sorted(label for label, ms in members.items() if len(ms) <= k):
        size = len(members[label])
        into: dict[str, dict[str, list[float]]] = {}
        for m in members[label]:
            for other, s in nbrs.get(m, ()):
                g = group_of[other]
                if len(members[g]) > size:
                    into.setdefault(g, {}).setdefault(m, []).append(s)
        best, best_score = None, cfg.threshold
        for g, per in sorted(into.items()):
            score = sum(sum(sorted(sims, reverse=True)[:k]) for sims in per.values()) / (k * size)
            if score >= best_score and _span_within(span[label], span[g], window_s):
                best, best_score = g, score
        if best is not None:
            target[label] = (best, best_score)
    moved: dict[str, str] = {}  # a group that joined -> where it went (targets are strictly larger: decided first)
    for label in sorted(target, key=lambda x: (-len(members[x]), -target[x][1], x)):
        g = target[label][0]
        g = moved.get(g, g)
        if not _span_within(span[label], span[g], window_s):
            continue
        span[g] = _joined_span(span[label], span[g])
        members[g].extend(members.pop(label))
        moved[label] = g


def _joined_span(a: tuple, b: tuple) -> tuple:
    lo = [t for t in (a[0], b[0]) if t is not None]
    hi = [t for t in (a[1], b[1]) if t is not None]
    return (min(lo) if lo else None, max(hi) if hi else None)


def _span_within(a: tuple, b: tuple, window_s: float) -> bool:
    lo, hi = _joined_span(a, b)
    return lo is None or hi - lo <= window_s


def average_linkage(edges: Iterable[tuple[tuple, tuple, float]], cfg: StoryConfig) -> dict[str, str]:
    """Agglomerative average-linkage clustering over a sparse similarity graph, with a time-span limit.

    Edges are ((id, rank, ts, headline), (id, rank, ts, headline), similarity). Returns
    {article_id: id of the best-ranked member of its cluster} for clusters of 2+ articles.
    Missing edges count as similarity 0, so weakly connected groups stay apart (no chaining).
    Groups made only of headlines are compared by their centroids (group_similarity). Groups of at most
    cfg.attach_neighbours articles then join their nearest neighbours' group (attach_leftovers).
    """
    info: dict[str, tuple] = {}
    pair_sum: dict[tuple[str, str], float] = {}
    for a, b, s in sorted(edges, key=lambda e: (e[0][0], e[1][0])):
        info[a[0]], info[b[0]] = a, b
        key = (a[0], b[0]) if a[0] < b[0] else (b[0], a[0])
        pair_sum[key] = max(pair_sum.get(key, 0.0), s)
    window_s = cfg.window_days * 86400.0
    # Cluster state, keyed by a cluster label (the id of its first member).
    members = {aid: [aid] for aid in info}
    span = {aid: (info[aid][2], info[aid][2]) for aid in info}
    version = {aid: 0 for aid in info}
    inner = {aid: 0.0 for aid in info}  # sum of the similarities inside the cluster
    heads = {aid: bool(info[aid][3]) for aid in info}  # all members headline-only
    nbrs: dict[str, dict[str, float]] = {aid: {} for aid in info}
    for (a, b), s in pair_sum.items():
        nbrs[a][b] = s
        nbrs[b][a] = s
    heap = [(-s, a, b, 0, 0) for (a, b), s in pair_sum.items() if s >= cfg.threshold]
    heapq.heapify(heap)

    while heap:
        neg, a, b, va, vb = heapq.heappop(heap)
        if a not in members or b not in members or version[a] != va or version[b] != vb:
            continue
        lo, hi = _joined_span(span[a], span[b])
        if lo is not None and hi - lo > window_s:
            continue
        # Merge b into a.
        inner[a] += inner.pop(b) + nbrs[a].get(b, 0.0)
        heads[a] = heads[a] and heads.pop(b)
        members[a].extend(members.pop(b))
        span[a] = (lo, hi)
        version[a] += 1
        del version[b]
        nb = nbrs.pop(b)
        nbrs[a].pop(b, None)
        for k, s in nb.items():
            if k == a:
                continue
            nbrs[k].pop(b, None)
            nbrs[a][k] = nbrs[a].get(k, 0.0) + s
            nbrs[k][a] = nbrs[a][k]
        group_a = (len(members[a]), inner[a], heads[a])
        for k, s in nbrs[a].items():
            avg = group_similarity(s, group_a, (len(members[k]), inner[k], heads[k]))
            if avg >= cfg.threshold:
                x, y = (a, k) if a < k else (k, a)
                heapq.heappush(heap, (-avg, x, y, version[x], version[y]))
    if cfg.attach_neighbours:
        attach_leftovers(members, span, pair_sum, cfg)
    out: dict[str, str] = {}
    for group in members.values():
        if len(group) < 2:
            continue
        best = min(group, key=lambda aid: info[aid][1])
        for aid in group:
            out[aid] = best
    return out
