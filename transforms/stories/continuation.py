"""Stories across runs (incremental runs): earlier articles' term counts within this run's time windows, continued labels.

Every run keeps the term counts of the articles it clustered in `<output>/_state/story_terms/`; a later
incremental run clusters its new articles together with the earlier ones published within a time window of
them, and a cluster that holds earlier articles continues their story.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

import numpy as np
import pyarrow as pa

from schemas.records import ArticleTerms
from transforms.stories.config import StoryConfig
from transforms.stories.dense import DenseTerms

# Earlier articles' ids inside this run's clustering: the prefix keeps them apart from this run's ids (a
# changed file keeps its id). The id is part of the rank key, so its form decides ties.
EARLIER_ID_PREFIX = "earlier:"
# First item of the story label of clusters that continue an earlier story: (CONTINUED_LABEL, story_id).
CONTINUED_LABEL = "continued"


def earlier_article_id(run_id: str, article_id: str) -> str:
    """The id an earlier run's article has inside this run's clustering."""
    return f"{EARLIER_ID_PREFIX}{run_id}/{article_id}"


def continued_label(story_id: str) -> tuple[str, str]:
    """The story label of this run's articles that join the earlier story `story_id`."""
    return (CONTINUED_LABEL, story_id)


def continued_story(label) -> str | None:
    """The earlier story a story label continues, or None for a label of this run's own cluster (an article id)."""
    return label[1] if isinstance(label, tuple) and label[0] == CONTINUED_LABEL else None


def story_label(label, continued: dict):
    """A cluster's story label: continued_label of its earlier story when `continued` ({cluster label:
    story_id}) names one, else the cluster label itself. Clusters holding articles of one earlier story then
    make one story together (this run's clustering may split an earlier story's articles)."""
    return continued_label(continued[label]) if label in continued else label


def merged_windows(times: Iterable[float], window_s: float) -> list[tuple[float, float]]:
    """The union of [t - window, t + window] over the times, as sorted disjoint intervals: the stretches of
    time in which an earlier article can share a story with one of this run's articles. One old article
    adds its own stretch, not everything between it and the rest."""
    out: list[list[float]] = []
    for t in sorted(times):
        lo, hi = t - window_s, t + window_s
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def _in_windows(ts: np.ndarray, windows: list[tuple[float, float]]) -> np.ndarray:
    """Mask of the times (NaN: undated) that fall in one of the sorted disjoint windows."""
    lows = np.array([lo for lo, _ in windows])
    highs = np.array([hi for _, hi in windows])
    i = np.searchsorted(lows, ts, side="right") - 1
    ok = (i >= 0) & ~np.isnan(ts)
    return ok & (ts <= highs[np.clip(i, 0, len(highs) - 1)])


def earlier_terms(readable_file, windows: list | None, cfg: StoryConfig) -> Iterator[tuple[ArticleTerms, str]]:
    """(ArticleTerms, story_id) for each row of one earlier story_terms file published within `windows` (see
    merged_windows over this run's publication times); nothing when this run has no dated article. Only the
    rows in a window are decoded, and only the row groups holding one are read.
    Earlier ids are renamed (earlier_article_id) so they never meet this run's ids. An article stored with a
    dense vector comes back as a DenseTerms, so pairs with earlier articles are scored on both views."""
    import pyarrow.parquet as pq

    if not windows:
        return
    with readable_file.open() as f:
        parquet = pq.ParquetFile(f)
        # The times first: a file with no row in a window (most of a long history) is not decoded further.
        ts = parquet.read(columns=["ts"], use_threads=False).column("ts").to_numpy(zero_copy_only=False).astype(np.float64)  # NULL -> NaN
        keep = _in_windows(ts, windows)
        if not keep.any():
            return
        groups, start = [], 0
        for g in range(parquet.num_row_groups):  # only the row groups that hold a row in a window
            n = parquet.metadata.row_group(g).num_rows
            if keep[start:start + n].any():
                groups.append((g, start, n))
            start += n
        table = parquet.read_row_groups([g for g, _, _ in groups], use_threads=False)
        mask = np.concatenate([keep[s:s + n] for _, s, n in groups])
    table = table.filter(pa.array(mask))
    for row in table.to_pylist():
        if row["vocab_bits"] != cfg.vocab_bits:
            continue
        aid = earlier_article_id(row["run_id"], row["article_id"])
        counts = (Counter(dict(zip(row["terms"], row["counts"]))), Counter(dict(zip(row["name_terms"], row["name_counts"]))))
        rank = (row["ts"], -row["word_count"], aid)
        if row.get("dense") is not None:  # files written before the dense columns have none
            yield DenseTerms(aid, rank, row["ts"], counts, row["headline"], row["dense"], row.get("language")), row["story_id"]
        else:
            yield ArticleTerms(aid, rank, row["ts"], counts, row["headline"]), row["story_id"]


def earlier_in_cluster(kv) -> Iterator[tuple[object, tuple]]:
    """(id, {label: [label], earlier: [(rank, story_id)]}) -> (label, (rank, story_id)) for a clustered earlier article."""
    _, grouped = kv
    for label in grouped["label"]:
        for rank_story in grouped["earlier"]:
            yield label, rank_story
