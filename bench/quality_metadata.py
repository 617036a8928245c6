"""Metadata scoring for the extraction benchmark: title, publication day and time of day, authors.

Gold is fundus's `meta/NAME.json` (title, authors list, publishing_date with the page's own offset).
  * title: equal after Unicode NFKC and whitespace normalisation (case kept);
  * day: the predicted instant, seen in the gold's UTC offset, falls on the gold's day; a prediction that
    carries no time of day (midnight UTC, what a date-only source gives) counts on its own calendar day;
  * time: only pages whose gold has a time of day (not local midnight): the prediction is within 60 s (a gold
    without an offset, 18 fundus pages, is compared with the prediction's own wall-clock time);
  * authors: the set of predicted names equals the gold's (NFKC, case-folded, whitespace collapsed; the predicted
    string and each gold name are split alike on `,` `;` `|` `/` `&` ` and ` ` und `...); pages whose gold lists
    none are left out.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from pathlib import Path

UTC = dt.UTC
_SPACE = re.compile(r"\s+")
_NAME_SPLIT = re.compile(r"\s*(?:[,;|/&]|\s(?:and|und|og|och|et|y|e|i|en|ve|и)\s)\s*", re.I)


def norm_text(text: str | None) -> str:
    """NFKC, invisible format characters (soft hyphen, zero-width space) dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return _SPACE.sub(" ", text).strip()


def norm_name(name: str) -> str:
    name = norm_text(name).casefold()
    return re.sub(r"^(by|von|par|por|di|door|av|af)\s+", "", name).strip(" .")


def author_set(value) -> frozenset[str]:
    """Names of a predicted author string or a gold list, both split the same way (a gold name that holds a
    separator, "Le Figaro et AFP", matches the same string predicted)."""
    parts = value if isinstance(value, (list, tuple)) else [value or ""]
    return frozenset(n for part in parts for n in map(norm_name, _NAME_SPLIT.split(part or "")) if n)


def load_meta(eval_dir: Path, set_name: str, ids) -> dict[str, dict]:
    base = eval_dir / "extraction-dev" / set_name / "meta"
    return {pid: json.loads((base / f"{pid}.json").read_text("utf-8")) for pid in ids if (base / f"{pid}.json").exists()}


def to_datetime(value) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        when = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when


def has_time(gold: dt.datetime) -> bool:
    return (gold.hour, gold.minute, gold.second) != (0, 0, 0)


def day_ok(gold: dt.datetime, pred: dt.datetime | None) -> bool:
    if pred is None:
        return False
    if pred.tzinfo is None or gold.tzinfo is None:  # a naive value is a local date/time as the page wrote it
        return pred.date() == gold.date()
    if pred.astimezone(UTC).time() == dt.time(0, 0) and pred.astimezone(UTC).date() == gold.date():
        return True  # date-only prediction
    return pred.astimezone(gold.tzinfo).date() == gold.date()


def time_ok(gold: dt.datetime, pred: dt.datetime | None) -> bool:
    if pred is None:
        return False
    if gold.tzinfo is None:  # gold without an offset: compare the wall-clock time the page shows
        return abs((pred.replace(tzinfo=None) - gold).total_seconds()) <= 60
    if pred.tzinfo is None:
        return False
    return abs((pred - gold).total_seconds()) <= 60


def score_meta(gold: dict[str, dict], preds: dict[str, dict]) -> dict[str, tuple[int, int]]:
    """{field: (correct, scored pages)} for title, day, time, authors; preds[pid] has title/author/published."""
    out = {"title": [0, 0], "day": [0, 0], "time": [0, 0], "authors": [0, 0]}
    for pid, g in gold.items():
        p = preds.get(pid) or {}
        out["title"][1] += 1
        out["title"][0] += norm_text(p.get("title")) == norm_text(g.get("title"))
        gd = to_datetime(g.get("publishing_date"))
        if gd is not None:
            pd = to_datetime(p.get("published"))
            out["day"][1] += 1
            out["day"][0] += day_ok(gd, pd)
            if has_time(gd):
                out["time"][1] += 1
                out["time"][0] += time_ok(gd, pd)
        if g.get("authors"):
            out["authors"][1] += 1
            out["authors"][0] += author_set(p.get("author")) == author_set(list(g["authors"]))
    return {k: (v[0], v[1]) for k, v in out.items()}


def meta_cells(scores: dict[str, tuple[int, int]]) -> str:
    return "  ".join(f"{scores[k][0] / max(1, scores[k][1]):6.3f}" for k in ("title", "day", "time", "authors"))


def meta_header() -> str:
    return "  ".join(f"{k:>6}" for k in ("title", "day", "time", "author"))


# ----------------------------------------------------------------------------------------------
# Reference metadata extractors on the same pages.
# ----------------------------------------------------------------------------------------------


def trafilatura_meta(pages) -> dict[str, dict]:
    """trafilatura's own metadata (bare_extraction, default settings)."""
    import trafilatura

    out = {}
    for pid, data, _ in pages:
        doc = trafilatura.bare_extraction(data, with_metadata=True, deduplicate=False)
        if doc is None:
            out[pid] = {}
            continue
        out[pid] = {"title": doc.title, "author": (doc.author or "").replace(";", ","), "published": doc.date,
                    "site": doc.sitename}
    return out


def htmldate_meta(pages) -> dict[str, dict]:
    """htmldate's find_date with its extensive search, asked for the time of day too."""
    import warnings

    from htmldate import find_date

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for pid, data, _ in pages:
            try:
                d = find_date(data, original_date=True, extensive_search=True, outputformat="%Y-%m-%dT%H:%M:%S%z")
            except Exception:  # noqa: BLE001 - a library failing on a page scores as no date
                d = None
            when = to_datetime(d)
            if when is not None and when.tzinfo is None and when.time() == dt.time(0, 0):
                when = when.replace(tzinfo=UTC)
            out[pid] = {"published": when}
    return out
