"""Same-event stories and near copies, measured through the real pipeline.

    python -m bench.quality events --eval-dir ../shared/eval [-- extra `newsbeam run` options]

For each JSONL set in <eval-dir>/events-dev/ the pipeline runs (pipeline.main.run, the code behind
`newsbeam run`), `story_id` is read back from the `articles` Parquet table with DuckDB and matched to
the gold `event` by input_id (the JSONL `id`). Prints B-cubed and pairwise precision/recall/F1, the
number of stories and the run time. Headline-only proxies follow (the unseen sets include headline
feeds: a title and a publish time, no body): each set with titles is rewritten with its `title` only
(`<set>~titles`), and again with synthetic publish times (`<set>~titles+time`: each event gets a
random day in a 30-day span, its articles are spread over +-36 h around it; sibling events draw
their days independently, so some overlap). The proxies are written to a fixed folder under the
temporary directory, so their article ids (derived from the input path) and figures repeat. Then bench.variants writes syndicated variants of the dev
articles next to the untouched ones; near-copy precision and recall count an article as found when
`duplicate_kind` is exact or near AND `duplicate_of` points to its original.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict

# ------------------------------------------------------------------------------------------
# Scores (pure functions)
# ------------------------------------------------------------------------------------------

def prf(p: float, r: float) -> tuple[float, float, float]:
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def bcubed(pred: dict, gold: dict) -> tuple[float, float, float]:
    """B-cubed precision, recall, F1 of a clustering {item: cluster} against {item: label} (same items)."""
    items = sorted(gold)
    by_pred, by_gold, both = Counter(), Counter(), Counter()
    for i in items:
        by_pred[pred[i]] += 1
        by_gold[gold[i]] += 1
        both[(pred[i], gold[i])] += 1
    p = sum(both[(pred[i], gold[i])] / by_pred[pred[i]] for i in items) / len(items)
    r = sum(both[(pred[i], gold[i])] / by_gold[gold[i]] for i in items) / len(items)
    return prf(p, r)


def pairwise(pred: dict, gold: dict) -> tuple[float, float, float]:
    """Pairwise precision, recall, F1 over all item pairs (same cluster vs same label)."""
    pairs = lambda c: sum(n * (n - 1) // 2 for n in c.values())  # noqa: E731
    items = sorted(gold)
    tp = pairs(Counter((pred[i], gold[i]) for i in items))
    n_pred = pairs(Counter(pred[i] for i in items))
    n_gold = pairs(Counter(gold[i] for i in items))
    return prf(tp / n_pred if n_pred else 1.0, tp / n_gold if n_gold else 1.0)


def _grams(t: str, k: int) -> set:
    import re

    toks = re.findall(r"\w+", t.lower())
    return {" ".join(toks[i : i + k]) for i in range(max(len(toks) - k + 1, 1))}


def shingle_jaccard(a: str, b: str, k: int = 5) -> float:
    """Exact Jaccard similarity of the lower-cased word k-shingle sets of two texts (independent of the pipeline)."""
    ga, gb = _grams(a, k), _grams(b, k)
    return len(ga & gb) / len(ga | gb) if ga | gb else 1.0


def shingle_containment(a: str, b: str, k: int = 5) -> float:
    """Share of the shorter text's word k-shingles found in the longer one (exact; a trimmed copy scores 1)."""
    ga, gb = _grams(a, k), _grams(b, k)
    return len(ga & gb) / min(len(ga), len(gb)) if ga and gb else 1.0


SAME_TEXT = 0.9  # a dev article this similar to a variant's original (Jaccard, or containment of the original in it) stands for it
RELATED = 0.5  # a flagged dev article sharing less than this shingle Jaccard with its target ...
CONTAINED = 0.6  # ... and less than this share of the shorter text's shingles in the longer is an unrelated flag


def near_dup_scores(rows: dict, expected: dict, texts: dict) -> dict:
    """Near-copy precision/recall.

    rows: {input_id: (duplicate_kind, duplicate_of input_id)} for every article;
    expected: {variant input_id: original input_id}; texts: {input_id: text} as written.
    A variant's flag is right when it points to its original, or to a dev article that is itself a
    copy of that original (exact shingle Jaccard >= SAME_TEXT, the dev sets hold a few such copies).
    A flag on a dev article that is not a variant is a copy already in the dev data (wire stories
    reprinted with a lead added, or cut) when the two texts share at least RELATED exact shingle Jaccard
    or the shorter has CONTAINED of its shingles in the longer; below both it is an `unrelated` flag.
    A variant pointing to a dev article that holds SAME_TEXT of its original's shingles points right. Precision is reported over all flags and over variants only.
    """
    flagged = {i: of for i, (kind, of) in rows.items() if kind in ("exact", "near")}

    def right_target(i, of):
        if i not in expected:
            return shingle_jaccard(texts[i], texts[of]) >= RELATED or shingle_containment(texts[i], texts[of]) >= CONTAINED
        orig = expected[i]
        if of == orig or shingle_jaccard(texts[of], texts[orig]) >= SAME_TEXT:
            return True
        # `of` holds the original's text (a longer dev copy of it kept as the story's copy source)
        g_orig, g_of = _grams(texts[orig], 5), _grams(texts[of], 5)
        return bool(g_orig) and len(g_orig & g_of) / len(g_orig) >= SAME_TEXT

    right = {i for i, of in flagged.items() if right_target(i, of)}
    found = sum(1 for i in expected if i in right)
    dev_copies = sorted(i for i in right if i not in expected)
    on_variants = [i for i in flagged if i in expected]
    return {
        "flagged": len(flagged),
        "variants": len(expected),
        "dev_copies": dev_copies,
        "dev_copy_jaccard": sorted(round(shingle_jaccard(texts[i], texts[flagged[i]]), 2) for i in dev_copies),
        "dev_copy_containment": sorted(round(shingle_containment(texts[i], texts[flagged[i]]), 2) for i in dev_copies),
        "precision": len(right) / len(flagged) if flagged else 1.0,
        "precision_variants": sum(i in right for i in on_variants) / len(on_variants) if on_variants else 1.0,
        "recall": found / len(expected) if expected else 1.0,
        "unrelated": sorted(i for i in flagged if i not in expected and i not in right),
        "wrong_target": sorted(i for i in flagged if i in expected and i not in right),
        "missed": sorted(i for i in expected if i not in flagged),
    }


# ------------------------------------------------------------------------------------------
# Running the pipeline
# ------------------------------------------------------------------------------------------

def run_pipeline(path: str, out_dir: str, run_id: str, extra: list[str]) -> tuple[list[tuple], float]:
    """Run the pipeline on one JSONL file into an output folder of its own (<out_dir>/<run_id>: runs are
    incremental, and a set run into one output with another would meet that one's articles as earlier copies
    and stories: the headline proxies share their titles); returns its article rows (input_id, story_id, kind,
    dup_of input_id)."""
    import duckdb

    from pipeline.main import run

    out_dir = os.path.join(out_dir, run_id)
    t0 = time.monotonic()
    run(["--input", path, "--output", out_dir, "--run_id", run_id, *extra], out=io.StringIO())
    seconds = time.monotonic() - t0
    con = duckdb.connect()
    rows = con.execute(
        f"""
        SELECT a.input_id, a.story_id, a.duplicate_kind, o.input_id
        FROM read_parquet('{out_dir}/articles/{run_id}/*.parquet') a
        LEFT JOIN read_parquet('{out_dir}/articles/{run_id}/*.parquet') o ON a.duplicate_of = o.article_id
        """
    ).fetchall()
    return rows, seconds


def load_gold(path: str) -> dict:
    import json

    gold = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                gold[str(rec["id"])] = rec["event"]
    return gold


SPAN_DAYS = 30.0  # synthetic publish times: events fall on random days in this span ...
JITTER_HOURS = 36.0  # ... and their articles within this many hours of the event's time


def synthetic_times(records: list[dict], seed: int = 7) -> dict:
    """{id: epoch seconds}: a random time per event in SPAN_DAYS, each article within JITTER_HOURS of it."""
    import random

    rng = random.Random(seed)
    events = sorted({str(r["event"]) for r in records})
    centre = {e: 1.7e9 + rng.uniform(0, SPAN_DAYS) * 86400.0 for e in events}
    return {str(r["id"]): centre[str(r["event"])] + rng.uniform(-JITTER_HOURS, JITTER_HOURS) * 3600.0 for r in records}


def _first_record(path: str) -> dict:
    import json

    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                return json.loads(line)
    return {}


def event_sets(folder: str) -> list[str]:
    """The JSONL files of `folder` that label articles with an `event` (clustering sets), sorted by name."""
    return [name for name in sorted(os.listdir(folder)) if name.endswith(".jsonl") and "event" in _first_record(os.path.join(folder, name))]


def pair_sets(folder: str) -> list[str]:
    """The JSONL files of `folder` that hold rated article pairs (`pair_id`, `text1`, `text2`, `overall`)."""
    return [name for name in sorted(os.listdir(folder)) if name.endswith(".jsonl") and "pair_id" in _first_record(os.path.join(folder, name))]


def text_sets(folder: str) -> list[str]:
    """The clustering sets whose articles have a body (headline-only feeds are sets of their own, not proxies)."""
    return [name for name in event_sets(folder) if (_first_record(os.path.join(folder, name)).get("text") or "").strip()]


def headline_proxies(folder: str, out_dir: str) -> list[tuple[str, str]]:
    """Headline-only copies of the full-text sets with titles: (set name, path) for `~titles` and `~titles+time`."""
    import datetime as dt
    import json

    out = []
    os.makedirs(out_dir, exist_ok=True)
    for name in text_sets(folder):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            records = [r for r in map(json.loads, filter(str.strip, f)) if r.get("title")]
        if not records:
            continue
        times = synthetic_times(records)
        for suffix, dated in (("~titles", False), ("~titles+time", True)):
            path = os.path.join(out_dir, name[:-6] + suffix + ".jsonl")
            with open(path, "w", encoding="utf-8") as f:
                for r in records:
                    row = {"id": r["id"], "event": r["event"], "title": r["title"]}
                    if dated:
                        row["published"] = dt.datetime.fromtimestamp(times[str(r["id"])], dt.UTC).isoformat()
                    f.write(json.dumps(row) + "\n")
            out.append((name[:-6] + suffix, path))
    return out


def events_table(eval_dir: str, out_dir: str, extra: list[str], headlines: bool = True, only: str | None = None) -> list[dict]:
    folder = os.path.join(eval_dir, "events-dev")
    sets = [(name[:-6], os.path.join(folder, name)) for name in event_sets(folder)]
    if headlines:
        # A fixed folder: article ids derive from the input path, and ids break ties between copies.
        sets += headline_proxies(folder, os.path.join(tempfile.gettempdir(), "newsbeam-headline-proxies"))
    if only is not None:
        sets = [(name, path) for name, path in sets if only in name]
    results = []
    for name, path in sets:
        gold = load_gold(path)
        rows, seconds = run_pipeline(path, out_dir, "events-" + name.replace("~", "-").replace("+", "-"), extra)
        pred = {r[0]: r[1] for r in rows}
        # An article the pipeline rejected (e.g. a headline without text) is scored as a story of its own.
        missing = sorted(set(gold) - set(pred))
        for i in missing:
            pred[i] = "rejected:" + i
        results.append(
            {
                "set": name,
                "articles": len(gold),
                "events": len(set(gold.values())),
                "stories": len({pred[i] for i in gold}),
                "bcubed": bcubed(pred, gold),
                "pairwise": pairwise(pred, gold),
                "seconds": seconds,
                "rejected": len(missing),
            }
        )
    return results


SAME_MAX = 1.5  # a pair rated `overall` at most this is about the same story ...
DIFFERENT_MIN = 3.5  # ... and at least this about different stories; pairs between are not scored


def pair_articles(records: list[dict]) -> tuple[list[dict], list[tuple[str, str, str, bool]]]:
    """The distinct articles of rated pairs as JSONL rows ({id, text}) and the scored pairs
    (language pair, id 1, id 2, same story?). An article of several pairs is written once; the few
    ids that come with two different texts get one row per text."""
    ids: dict[tuple[str, str], str] = {}
    rows: list[dict] = []

    def article(aid: str, text: str) -> str:
        key = (aid, text)
        if key not in ids:
            ids[key] = f"a{aid}" + (f"~{sum(1 for k in ids if k[0] == aid)}" if any(k[0] == aid for k in ids) else "")
            rows.append({"id": ids[key], "text": text})
        return ids[key]

    pairs = []
    for r in records:
        a, b = str(r["pair_id"]).split("_", 1)
        ia, ib = article(a, r["text1"]), article(b, r["text2"])
        if r["overall"] <= SAME_MAX or r["overall"] >= DIFFERENT_MIN:
            langs = "-".join(sorted((r["lang1"], r["lang2"]))) if r["lang1"] != r["lang2"] else r["lang1"]
            pairs.append((langs, ia, ib, r["overall"] <= SAME_MAX))
    return rows, pairs


def pair_scores(pairs: list[tuple[str, str, str, bool]], story: dict) -> dict:
    """{language pair (and 'all'): counts and precision/recall of "same story"}: a pair is predicted the
    same story when both articles got one story_id (an article missing from `story` is a story of its own)."""
    out: dict[str, dict] = {}
    for langs, a, b, same in pairs:
        pred = a in story and b in story and story[a] == story[b]
        for key in (langs, "all"):
            c = out.setdefault(key, {"pairs": 0, "same": 0, "tp": 0, "fp": 0, "fn": 0})
            c["pairs"] += 1
            c["same"] += same
            c["tp"] += same and pred
            c["fp"] += pred and not same
            c["fn"] += same and not pred
    for c in out.values():
        c["precision"] = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        c["recall"] = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
    return out


def pairs_table(eval_dir: str, out_dir: str, extra: list[str]) -> list[tuple[str, dict, float]]:
    """Same-story precision/recall on rated pairs. All distinct articles of a set's pairs go into ONE run
    (no publication times: the pairs come without them), and each pair is read off that run's stories.
    One run rather than one run per pair: two articles alone give no document frequencies to tell a rare
    name from a common word, a run per pair would cost 750 pipeline start-ups, and a pair must hold as
    the pipeline is used, among many other articles (a wrong join through a third article counts)."""
    import json

    folder = os.path.join(eval_dir, "events-dev")
    results = []
    for name in pair_sets(folder):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
        rows, pairs = pair_articles(records)
        path = os.path.join(out_dir, name[:-6] + "-articles.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        got, seconds = run_pipeline(path, out_dir, "pairs-" + name[:-6], extra)
        results.append((name[:-6], pair_scores(pairs, {r[0]: r[1] for r in got}), seconds, len(rows), len(got)))
    return results


RUNS_ACROSS = 3  # the dated sets are split by publish time into this many consecutive runs


def _story_ids(out_dir: str) -> dict:
    """{input_id: story_id} over every run in an output folder."""
    import duckdb

    return dict(duckdb.connect().execute(f"SELECT input_id, story_id FROM read_parquet('{out_dir}/articles/*/*.parquet')").fetchall())


def across_runs_table(eval_dir: str, out_dir: str, extra: list[str]) -> list[dict]:
    """Stories over consecutive scheduled runs: each full-text set with synthetic publish times (as for
    `~titles+time`) is cut by time into RUNS_ACROSS parts. Scored three ways on the same articles: one run
    over all of it; one run per part, each alone (no earlier state); one run per part with --only_new into
    one output, so later runs continue earlier runs' stories."""
    import datetime as dt
    import json

    from pipeline.main import run

    folder = os.path.join(eval_dir, "events-dev")
    results = []
    for name in text_sets(folder):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            records = [r for r in map(json.loads, filter(str.strip, f)) if r.get("text")]
        times = synthetic_times(records)
        records.sort(key=lambda r: times[str(r["id"])])
        for r in records:
            r["published"] = dt.datetime.fromtimestamp(times[str(r["id"])], dt.UTC).isoformat()
        gold = {str(r["id"]): r["event"] for r in records}
        work = os.path.join(out_dir, "across-" + name[:-6])
        parts = []
        for k in range(RUNS_ACROSS):
            d = os.path.join(work, f"part{k}")
            os.makedirs(d)
            chunk = records[k * len(records) // RUNS_ACROSS:(k + 1) * len(records) // RUNS_ACROSS]
            with open(os.path.join(d, "part.jsonl"), "w", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for r in chunk)
            parts.append(d)
        row = {"set": name[:-6] + "+time", "articles": len(gold), "events": len(set(gold.values()))}
        t0 = time.monotonic()
        run(["--input", *sum((["--input", d] for d in parts[1:]), [parts[0]]), "--output", os.path.join(work, "one"), *extra], out=io.StringIO())
        row["one run"] = (bcubed(_story_ids(os.path.join(work, "one")), gold), time.monotonic() - t0)
        for mode in ("alone", "only_new"):
            out = os.path.join(work, mode)
            inbox = os.path.join(work, "inbox-" + mode)
            os.makedirs(inbox)
            t0 = time.monotonic()
            for k, d in enumerate(parts):
                if mode == "alone":
                    run(["--input", d, "--output", out, *extra], out=io.StringIO())
                else:
                    os.symlink(os.path.join(d, "part.jsonl"), os.path.join(inbox, f"part{k}.jsonl"))
                    run(["--input", inbox, "--output", out, "--only_new", *extra], out=io.StringIO())
            row[mode] = (bcubed(_story_ids(out), gold), time.monotonic() - t0)
        results.append(row)
    return results


def near_dup_table(eval_dir: str, out_dir: str, extra: list[str]) -> dict:
    from bench.variants import write_variants

    path = os.path.join(out_dir, "variants.jsonl")
    expected, kinds = write_variants(os.path.join(eval_dir, "events-dev"), path)
    rows, seconds = run_pipeline(path, out_dir, "variants", extra)
    import json

    with open(path, encoding="utf-8") as f:
        texts = {rec["id"]: rec["text"] for rec in map(json.loads, f)}
    got = {r[0]: (r[2], r[3]) for r in rows}
    scores = near_dup_scores(got, expected, texts)
    scores["seconds"] = seconds
    scores["articles"] = len(rows)
    # Recall per kind of edit (a variant may carry several edits).
    per_kind = defaultdict(lambda: [0, 0])
    for vid, ks in kinds.items():
        for k in ks:
            per_kind[k][1] += 1
            per_kind[k][0] += vid not in scores["missed"] and vid not in scores["wrong_target"]
    scores["per_kind"] = dict(sorted(per_kind.items()))
    return scores


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality events", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval-dir", required=True)
    parser.add_argument("--keep", default=None, help="write the pipeline output here instead of a temporary folder")
    parser.add_argument("--skip-variants", action="store_true", help="only the same-event sets")
    parser.add_argument("--skip-headlines", action="store_true", help="no headline-only proxies")
    parser.add_argument("--skip-pairs", action="store_true", help="no rated-pairs sets (same story per language pair)")
    parser.add_argument("--only", default=None, help="run only the clustering sets whose name contains this (e.g. uci, ecbplus~titles)")
    parser.add_argument("--skip-across", action="store_true", help="no scheduled-runs comparison (stories across --only_new runs)")
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    with tempfile.TemporaryDirectory(prefix="newsbeam-events-") as tmp:
        out_dir = os.path.abspath(args.keep or tmp)
        results = events_table(args.eval_dir, out_dir, extra, headlines=not args.skip_headlines, only=args.only)
        print(f"\nSame-event stories (real pipeline, default settings{' + ' + ' '.join(extra) if extra else ''})\n")
        print(f"{'set':<30}{'articles':>9}{'events':>7}{'stories':>8}   {'B3 P':>6}{'B3 R':>6}{'B3 F1':>7}   {'pw P':>6}{'pw R':>6}{'pw F1':>7}{'time s':>8}{'rejected':>9}")
        for r in results:
            (bp, br, bf), (pp, pr, pf) = r["bcubed"], r["pairwise"]
            print(
                f"{r['set']:<30}{r['articles']:>9}{r['events']:>7}{r['stories']:>8}   {bp:>6.3f}{br:>6.3f}{bf:>7.3f}   "
                f"{pp:>6.3f}{pr:>6.3f}{pf:>7.3f}{r['seconds']:>8.1f}{r['rejected']:>9}"
            )
        if any(r["rejected"] for r in results):
            print("(rejected articles, e.g. records with a title but no text, count as one-article stories)")
        if not args.skip_pairs:
            for name, scores, seconds, n_articles, n_out in pairs_table(args.eval_dir, out_dir, extra):
                print(f"\nSame story on rated pairs: {name} ({n_articles} articles in one run, {n_articles - n_out} rejected, {seconds:.1f}s; "
                      f"same: overall <= {SAME_MAX}, different: >= {DIFFERENT_MIN})\n")
                print(f"{'languages':<12}{'pairs':>7}{'same':>6}{'found':>7}{'false':>7}{'missed':>8}   {'P':>6}{'R':>6}")
                for key in sorted(scores, key=lambda k: (k == "all", "-" in k, k)):
                    c = scores[key]
                    print(f"{key:<12}{c['pairs']:>7}{c['same']:>6}{c['tp']:>7}{c['fp']:>7}{c['fn']:>8}   {c['precision']:>6.3f}{c['recall']:>6.3f}")
        if not args.skip_across:
            print(f"\nStories across scheduled runs: each set with synthetic publish times, cut by time into {RUNS_ACROSS} runs\n")
            print(f"{'set':<30}{'articles':>9}{'events':>7}   {'one run: B3 P/R/F1':>22}   {'runs alone':>22}   {'runs --only_new':>22}")
            for r in across_runs_table(args.eval_dir, out_dir, extra):
                cells = ["{:.3f} {:.3f} {:.3f}".format(*r[k][0]) for k in ("one run", "alone", "only_new")]
                print(f"{r['set']:<30}{r['articles']:>9}{r['events']:>7}   {cells[0]:>22}   {cells[1]:>22}   {cells[2]:>22}")
        if not args.skip_variants:
            nd = near_dup_table(args.eval_dir, out_dir, extra)
            print(f"\nNear copies: {nd['variants']} generated variants among {nd['articles']} articles ({nd['seconds']:.1f}s)\n")
            print(f"  precision {nd['precision']:.4f}  ({nd['flagged']} flagged exact/near; {len(nd['dev_copies'])} of them are copies already in the dev data, "
                  f"shingle Jaccard {nd['dev_copy_jaccard'][0] if nd['dev_copies'] else '-'}..{nd['dev_copy_jaccard'][-1] if nd['dev_copies'] else '-'}, "
                  f"containment {nd['dev_copy_containment'][0] if nd['dev_copies'] else '-'}..{nd['dev_copy_containment'][-1] if nd['dev_copies'] else '-'})")
            print(f"  precision on variants only {nd['precision_variants']:.4f}")
            print(f"  recall    {nd['recall']:.4f}")
            print(f"  unrelated flags {len(nd['unrelated'])}  wrong original {len(nd['wrong_target'])}  missed {len(nd['missed'])}")
            print("  recall by edit: " + ", ".join(f"{k} {f}/{n}" for k, (f, n) in nd["per_kind"].items()))
            for label in ("unrelated", "wrong_target", "missed"):
                if nd[label]:
                    print(f"  {label}: {', '.join(nd[label][:10])}{' ...' if len(nd[label]) > 10 else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
