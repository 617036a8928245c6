"""Same-event clustering in one process on a kept run's cleaned articles, for error analysis and variants.

    python -m bench.story_replica --kept DIR --eval-dir ../shared/eval [--set ecbplus-odd-topics]
        [--cfg name=value ...] [--split]

DIR is a `bench.quality events --keep DIR` output. Each set's cleaned, non-copy articles are read back from
its `articles` table and clustered with the stories stage's own functions (term_counts, DocFreq, tfidf_vector,
shard_pairs, average_linkage) in one process, as ClusterEvents does across workers; copies take their kept
article's cluster. Scores as bench.quality events does (B-cubed for clustering sets, same-story P/R per
language for rated pairs). `--split` also scores each half (ECB+ and NewsWCL50 by topic or event, UCI by
story, pairs by pair id: hash_half), so a variant chosen on the whole can be checked on both halves. `--cfg`
sets StoryConfig fields (e.g. attach_neighbours=0). A variant costs seconds here instead of a pipeline run;
the figures equal the pipeline's (ECB+ 0.936, SemEval per language as bench.quality events at main 230e001).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter

from bench.quality_events import DIFFERENT_MIN, SAME_MAX, bcubed, load_gold, pair_articles, pair_scores

SETS = {"ecbplus-odd-topics": "events-ecbplus-odd-topics", "newswcl50": "events-newswcl50",
        "uci-headlines-half": "events-uci-headlines-half", "semeval2022-pairs-dev": "pairs-semeval2022-pairs-dev"}


def kept_articles(kept: str, run_id: str) -> list[dict]:
    """The articles table of one kept run as dicts."""
    import duckdb

    path = os.path.join(kept, run_id, "articles", run_id, "*.parquet")
    con = duckdb.connect()
    cur = con.execute(f"SELECT article_id, input_id, title, text, published_at, language, duplicate_of, duplicate_kind, word_count FROM read_parquet('{path}')")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


_DENSE_CACHE: dict = {}


def cluster(rows: list[dict], cfg, dense_cache_key: str = "") -> dict[str, str]:
    """{input_id: cluster label} for every article of `rows` (copies share their kept article's label)."""
    import datetime as dt

    from schemas.records import CleanArticle
    from transforms.stories.blocking import shard_pairs, vector_shards
    from transforms.stories.dense import DenseEncoder, dense_text, dense_vector, wants_dense
    from transforms.stories.linkage import average_linkage
    from transforms.stories.vectors import DocFreqFn, article_terms, tfidf_vector

    uniques = [r for r in rows if r["duplicate_kind"] is None]
    terms = []
    encoder = None
    for r in uniques:
        pub = r["published_at"]
        if pub is not None and pub.tzinfo is None:
            pub = pub.replace(tzinfo=dt.UTC)
        a = CleanArticle(article_id=r["article_id"], source_uri="", input_format="jsonl", text=r["text"], input_id=r["input_id"],
                         title=r["title"], published_at=pub, language=r["language"], content_hash="x")
        dense = None
        if wants_dense(a, cfg):
            key = (dense_cache_key, r["article_id"], cfg.dense_words)
            if key not in _DENSE_CACHE:
                encoder = encoder or DenseEncoder()
                _DENSE_CACHE[key] = encoder.encode(dense_text(a.title, a.text, cfg.dense_words))
            dense = _DENSE_CACHE[key]
        terms.append(article_terms(a, cfg, dense))
    fn = DocFreqFn()
    acc = fn.create_accumulator()
    for t in terms:
        acc = fn.add_input(acc, (list(t.counts[0].keys()), t.ts is not None))
    dfs = fn.extract_output(acc)
    undated = dfs.undated
    shards: dict = {}
    from transforms.stories.blocking import block_keys, packed_vector

    undated_keys: Counter = Counter()
    for t in terms:
        v = tfidf_vector(t.article_id, t.rank, t.ts, t.counts, dfs, cfg, t.headline, dense_vector(getattr(t, "dense", None)), getattr(t, "language", None))
        p = packed_vector(v)
        for s in vector_shards(v, undated > 0, cfg):
            shards.setdefault(s, []).append(p)
        for k in block_keys(v, undated > 0, cfg):
            if k[1] is None:
                undated_keys[k] += 1
    oversized = {k for k, n in undated_keys.items() if n > cfg.max_block}
    edges = [e for s in sorted(shards, key=repr) for e in shard_pairs(s, shards[s], oversized, cfg)]
    labels = average_linkage(edges, cfg)
    by_id = {r["article_id"]: r for r in rows}
    out = {}
    for r in rows:
        kept = r["duplicate_of"] if r["duplicate_kind"] is not None else r["article_id"]
        out[r["input_id"]] = labels.get(kept, kept)
    cluster.edges = {(a[0], b[0]): s for a, b, s in edges}  # the scored pairs and rows, for error analysis
    cluster.by_id = by_id
    return out


def make_cfg(pairs: list[str]):
    import dataclasses

    from transforms.stories.config import StoryConfig

    fields = {f.name for f in dataclasses.fields(StoryConfig)}
    kw = {}
    for p in pairs:
        k, v = p.split("=", 1)
        if k not in fields:
            raise SystemExit(f"no StoryConfig field {k!r}")
        cur = getattr(StoryConfig(), k)
        kw[k] = v.lower() in ("1", "true") if isinstance(cur, bool) else type(cur)(v)
    return StoryConfig(**kw)


def score_set(name: str, kept: str, eval_dir: str, cfg, split: bool) -> dict:
    rows = kept_articles(kept, SETS[name])
    pred = cluster(rows, cfg, name)
    folder = os.path.join(eval_dir, "events-dev")
    if name.startswith("semeval"):
        with open(os.path.join(folder, name + ".jsonl"), encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
        _, pairs = pair_articles(records)
        out = {"all": pair_scores(pairs, pred)}
        if split:
            ids = [str(r["pair_id"]) for r in records if r["overall"] <= SAME_MAX or r["overall"] >= DIFFERENT_MIN]
            for half in (0, 1):
                sel = [p for p, pid in zip(pairs, ids) if hash_half(pid) == half]
                out[f"half{half}"] = pair_scores(sel, pred)
        out["pred"], out["pairs"] = pred, pairs
        return out
    gold = load_gold(os.path.join(folder, name + ".jsonl"))
    for i in set(gold) - set(pred):
        pred[i] = "rejected:" + i
    out = {"all": bcubed({i: pred[i] for i in gold}, gold)}
    if split:
        with open(os.path.join(folder, name + ".jsonl"), encoding="utf-8") as f:
            topic = {str(r["id"]): r.get("topic", r["event"]) for r in map(json.loads, filter(str.strip, f))}
        for half in (0, 1):
            sel = {i: g for i, g in gold.items() if hash_half(str(topic[i])) == half}
            out[f"half{half}"] = bcubed({i: pred[i] for i in sel}, sel)
    out["pred"], out["gold"] = pred, gold
    return out


def hash_half(key: str) -> int:
    """A fixed half (0 or 1) of a key: by its integer's parity when it is one (ECB+ topics 1, 3, 5 ... alternate
    by their index among odd numbers), by a stable hash otherwise."""
    import zlib

    if key.isdigit():
        return (int(key) // 2) % 2
    return zlib.crc32(key.encode()) % 2


def fmt(name: str, res: dict) -> str:
    if name.startswith("semeval"):
        parts = []
        for h in [k for k in ("all", "half0", "half1") if k in res]:
            s = res[h]
            cells = " ".join(f"{k} {s[k]['precision']:.3f}/{s[k]['recall']:.3f}" for k in ("de", "en", "es", "tr", "pl", "ar", "de-en", "all") if k in s)
            parts.append(f"  [{h}] {cells}")
        return "\n".join(parts)
    return "  " + "  ".join(f"[{h}] P {res[h][0]:.3f} R {res[h][1]:.3f} F1 {res[h][2]:.3f}" for h in ("all", "half0", "half1") if h in res)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.story_replica", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kept", required=True)
    parser.add_argument("--eval-dir", required=True)
    parser.add_argument("--set", action="append", default=None)
    parser.add_argument("--cfg", nargs="*", default=[])
    parser.add_argument("--split", action="store_true")
    args = parser.parse_args(argv)
    cfg = make_cfg(args.cfg)
    for name in args.set or list(SETS):
        res = score_set(name, args.kept, args.eval_dir, cfg, args.split)
        print(name)
        print(fmt(name, res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
