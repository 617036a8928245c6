"""Train the raw-text line model (transforms/clean/line_model.json) and print its held-out scores.

    python -m bench.train_lines --eval-dir ../shared/eval [--folds 5] [--seed 0] [--no-write]

Trains ONLY on the Fundus pages (MIT licence; the other extraction sets are not permissive): each page's whole
visible text (bench.pagetext, the raw-text input of bench.quality extraction) goes through the rules' pass
(transforms.clean.lines.rule_verdicts); a line is labelled body when most of its 4-token shingles (its tokens, for a
line under four) occur in the page's gold. Boosted trees (scikit-learn, bench-only) learn the label from
line_features, each line weighted by its shingles over the page's body shingles so each page weighs about the same,
as in the score. Printed:
  * Fundus, cross-validated by publisher group (no publisher in both the training and the held-out part);
  * dragnet and cleanportaleval, never trained on, with the model trained on all of Fundus;
each beside the rules alone, scored like bench.quality extraction (4-token shingle P/R/F1, macro over pages) on the
cleaner's text without the pipeline's learned-template pass; and the cost of the model per page. The seed fixes
the folds and the trees, so a run regenerates the same weights.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

from bench.pagetext import page_text
from bench.quality_extraction import load_set, score, shingles
from transforms.clean.config import CleanConfig
from transforms.clean.line_model import MODEL_PATH, LineModel, feature_names, line_features
from transforms.clean.lines import FIXED_VERDICTS, rule_verdicts
from transforms.clean.rules import split_lines, words

TRAIN_SET = "fundus"
EVAL_SETS = ("dragnet", "cleanportaleval")
# A line is body when at least this share of its shingles is in the gold.
LABEL_SHARE = 0.5
# Trees: small, so the weights stay a small JSON file and inference a few numpy steps.
TREES = dict(max_iter=200, learning_rate=0.08, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0)
# How the model's probabilities override the rules (LineModel.keep). Chosen on the Fundus cross-validation among
# settings that lose nothing on dragnet and cleanportaleval against the rules (docs/benchmarks.md): on those older
# pages the gold keeps what Fundus's parsers leave out (captions, lists, one-paragraph posts), so the model may
# override the rules only where it is sure.
DECODING = {"drop_below": 0.25, "keep_from": 0.95, "guard_share": 0.6}
_TOKEN = re.compile(r"\w+")
_DATED = re.compile(r"_\d{4}_\d\d_\d\d$")


def publisher(page_id: str) -> str:
    """Fundus page names are COUNTRY_PUBLISHER, with the crawl date where a publisher has several pages."""
    return _DATED.sub("", page_id)


def _gold_grams(gold: str) -> tuple[set, set]:
    tokens = _TOKEN.findall(gold)
    short = {tuple(tokens[i: i + n]) for n in (1, 2, 3) for i in range(len(tokens) - n + 1)}
    return set(shingles(gold)), short


def label_lines(lines: list[str], gold: str) -> tuple[np.ndarray, np.ndarray]:
    """(label, shingle count) per line: body when LABEL_SHARE of its shingles are in the gold."""
    long, short = _gold_grams(gold)
    labels, sizes = [], []
    for line in lines:
        bag = shingles(line)
        n = sum(bag.values())
        if not n:
            labels.append(0)
        elif len(_TOKEN.findall(line)) < 4:
            labels.append(int(next(iter(bag)) in short))
        else:
            labels.append(int(sum(c for s, c in bag.items() if s in long) >= LABEL_SHARE * n))
        sizes.append(n)
    return np.asarray(labels), np.asarray(sizes, dtype=np.float64)


class Page:
    """One page's dump after the rules' pass, its features and labels."""

    def __init__(self, pid: str, html: bytes, gold: str, cfg: CleanConfig):
        self.pid, self.gold = pid, gold
        dump = page_text(html)
        self.lines, self.verdict, start, end, _ = rule_verdicts(split_lines(dump), cfg)
        self.region = (start, end)
        self.x = line_features(self.lines, self.verdict, start, end, cfg)
        self.y, self.size = label_lines(self.lines, gold)
        body = float((self.size * self.y).sum())
        self.w = (self.size + 1.0) / (max(body, float(self.size.sum()) * 0.05) + len(self.lines))

    def keep(self, model: LineModel, x: np.ndarray | None = None) -> np.ndarray:
        return model.keep(self.x if x is None else x, [v is None for v in self.verdict], [words(l) for l in self.lines])

    def rules_text(self) -> str:
        return "\n".join(l for l, v in zip(self.lines, self.verdict) if v is None)

    def model_text(self, keep: np.ndarray) -> str:
        return "\n".join(l for l, v, k in zip(self.lines, self.verdict, keep) if k and v not in FIXED_VERDICTS)


def load_pages(eval_dir: Path, set_name: str, cfg: CleanConfig, limit: int | None) -> list[Page]:
    return [Page(pid, html, gold, cfg) for pid, html, gold in load_set(eval_dir, set_name, limit, 1)]


def fit(pages: list[Page], seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.vstack([p.x for p in pages])
    y = np.concatenate([p.y for p in pages])
    w = np.concatenate([p.w for p in pages])
    clf = HistGradientBoostingClassifier(random_state=seed, early_stopping=False, **TREES)
    clf.fit(x, y, sample_weight=w)
    return clf


def export(clf, decoding: dict) -> dict:
    """The fitted trees as flat arrays (transforms.clean.line_model.LineModel reads them)."""
    feature, split, left, right, value, roots = [], [], [], [], [], []
    depth = 0
    for (tree,) in clf._predictors:
        nodes = tree.nodes
        base = len(feature)
        roots.append(base)
        depth = max(depth, int(nodes["depth"].max()))
        for nd in nodes:
            leaf = bool(nd["is_leaf"])
            feature.append(-1 if leaf else int(nd["feature_idx"]))
            split.append(0.0 if leaf else float(nd["num_threshold"]))
            left.append(-1 if leaf else base + int(nd["left"]))
            right.append(-1 if leaf else base + int(nd["right"]))
            value.append(float(nd["value"]) if leaf else 0.0)
    return {"features": feature_names(), **decoding, "baseline": float(np.ravel(clf._baseline_prediction)[0]),
            "depth": depth, "feature": feature, "split": split, "left": left, "right": right, "value": value,
            "roots": roots, "trained_on": "fundus (MIT), all publishers", "trees": TREES}


def _f1(pairs) -> str:
    p, r, f = score(pairs)
    return f"{p:.3f} / {r:.3f} / {f:.3f}"


def report(name: str, pages: list[Page], keeps: list[np.ndarray]) -> None:
    rules = _f1([(p.gold, p.rules_text()) for p in pages])
    model = _f1([(p.gold, p.model_text(k)) for p, k in zip(pages, keeps)])
    print(f"  {name:<40} rules {rules}   model {model}   (P / R / F1, {len(pages)} pages)", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.train_lines", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-dir", required=True, help="path to shared/eval")
    ap.add_argument("--folds", type=int, default=5, help="publisher-grouped folds of the Fundus cross-validation")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--drop-below", type=float, default=DECODING["drop_below"],
                    help="a line the rules kept goes when the model's probability of body is under this")
    ap.add_argument("--keep-from", type=float, default=DECODING["keep_from"],
                    help="a line the rules removed comes back from this probability")
    ap.add_argument("--guard-share", type=float, default=DECODING["guard_share"],
                    help="only additions count when the model would remove more than this share of the kept words")
    ap.add_argument("--limit", type=int, default=None, help="a seeded sample of this many pages per evaluation set")
    ap.add_argument("--no-write", action="store_true", help=f"do not write {MODEL_PATH.name}")
    args = ap.parse_args(argv)
    decoding = {"drop_below": args.drop_below, "keep_from": args.keep_from, "guard_share": args.guard_share}
    from sklearn.model_selection import GroupKFold

    cfg = CleanConfig()
    eval_dir = Path(args.eval_dir)
    train = load_pages(eval_dir, TRAIN_SET, cfg, None)
    groups = [publisher(p.pid) for p in train]
    print(f"{TRAIN_SET}: {len(train)} pages, {len(set(groups))} publishers, "
          f"{sum(len(p.lines) for p in train)} lines, {len(feature_names())} features", flush=True)

    # Held-out by publisher: each page is scored by a model that saw no page of its publisher.
    keeps: list[np.ndarray | None] = [None] * len(train)
    folds = GroupKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    for fit_idx, held_idx in folds.split(np.zeros(len(train)), groups=groups):
        model = LineModel(export(fit([train[i] for i in fit_idx], args.seed), decoding))
        for i in held_idx:
            keeps[i] = train[i].keep(model)
    report(f"{TRAIN_SET} held out by publisher ({args.folds} folds)", train, keeps)

    clf = fit(train, args.seed)
    spec = export(clf, decoding)
    model = LineModel(spec)
    x = np.vstack([p.x for p in train])
    gap = float(np.abs(model.proba(x) - clf.predict_proba(x)[:, 1]).max())
    if gap > 1e-9:
        raise SystemExit(f"numpy inference differs from scikit-learn's by {gap}")
    for name in EVAL_SETS:
        pages = load_pages(eval_dir, name, cfg, args.limit)
        t0 = time.process_time()
        keeps = [p.keep(model, line_features(p.lines, p.verdict, *p.region, cfg)) for p in pages]
        cost = (time.process_time() - t0) / max(1, len(pages)) * 1000
        report(f"{name} (never trained on)", pages, keeps)
        print(f"  {'':<40} features + model: {cost:.2f} ms CPU per page", flush=True)
    if not args.no_write:
        MODEL_PATH.write_text(json.dumps(spec, separators=(",", ":")), encoding="utf-8")
        print(f"wrote {MODEL_PATH} ({MODEL_PATH.stat().st_size // 1024} KiB, {len(spec['roots'])} trees)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
