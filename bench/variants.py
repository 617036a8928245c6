"""Deterministic syndicated variants of the dev articles, for measuring near-copy detection.

    write_variants(events_dev_dir, out_path) -> ({variant id: original id}, {variant id: [edits]})

Every dev article with a text is written untouched (published at a fixed time); about one in three
articles of 80+ words also gets one or two variants published a few hours later, each carrying one
to three of these edits, as a syndicating outlet would make them: headline rewritten, a paragraph
added, a paragraph cut, a sentence reworded, boilerplate lines added, whitespace and punctuation
changed. Choices come from a hash of the article id, so the same input always gives the same file.

Short stories get trims too (choices drawn apart from the edits above, so those variants are unchanged):
about one in two articles of SHORT_WORDS words also gets a variant that cuts its first sentence
(`lead_sentence_cut`) or its last (`last_sentence_cut`), and about one in two briefs of BRIEF_WORDS words one
that rewords two of its sentences (`two_sentences_reworded`); one in four articles gets an exact copy whose only
change is its whitespace (`whitespace_only`: doubled spaces, tabs, no-break spaces, CRLF line ends, blank lines), which must come out `exact`.
"""
from __future__ import annotations

import json
import os
import random
import re

import xxhash

EDITS = ("headline", "paragraph_added", "paragraph_cut", "sentence_reworded", "boilerplate", "whitespace_punct")

_ADDED = (
    "The company did not immediately respond to a request for comment on Tuesday evening.",
    "Officials said more details would be released once the investigation was complete.",
    "This story has been updated with additional reporting from our correspondents in the region.",
    "Local media had reported similar claims earlier in the week, citing people familiar with the matter.",
    "Analysts said the decision could have wider consequences in the months ahead.",
)
_BOILERPLATE = (
    "Advertisement",
    "Share this article",
    "Follow us on Twitter and Facebook",
    "Sign up for our daily newsletter",
    "Copyright 2024 The Associated Press. All rights reserved.",
    "Related: more stories from this section",
)
_REWORD = {
    "said": "stated",
    "says": "states",
    "told": "informed",
    "after": "following",
    "before": "ahead of",
    "because": "since",
    "about": "roughly",
    "also": "additionally",
    "but": "however",
    "big": "large",
    "help": "assist",
    "show": "demonstrate",
    "start": "begin",
    "began": "started",
    "many": "numerous",
    "people": "individuals",
    "police": "officers",
}
_TITLE_PREFIX = ("UPDATE: ", "Breaking: ", "WATCH: ", "", "Report: ")
_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“])")

ORIGINAL_TIME = "2024-03-01T06:00:00Z"


def rng_for(key: str) -> random.Random:
    return random.Random(xxhash.xxh64_intdigest(key.encode("utf-8")))


def paragraphs(text: str) -> list[str]:
    """The text's paragraphs; a single-paragraph text is cut into groups of three sentences."""
    paras = [p.strip() for p in re.split(r"\n\s*\n|\n", text) if p.strip()]
    if len(paras) >= 3:
        return paras
    sents = [s for p in paras for s in _SENT.split(p) if s.strip()]
    return [" ".join(sents[i : i + 3]) for i in range(0, len(sents), 3)]


def rewrite_headline(title: str | None, text: str, rng: random.Random) -> str:
    base = title or text.split(".")[0][:120]
    words = base.rstrip(".").split()
    if len(words) > 6 and rng.random() < 0.5:
        words = words[: max(5, len(words) * 2 // 3)]
    return rng.choice(_TITLE_PREFIX) + " ".join(words)


def add_paragraph(paras: list[str], rng: random.Random) -> list[str]:
    at = rng.randrange(1, len(paras) + 1)
    return paras[:at] + [rng.choice(_ADDED)] + paras[at:]


def cut_paragraph(paras: list[str], rng: random.Random) -> list[str]:
    """Drop the last paragraph (syndicators trim from the end) unless it holds more than a fifth of the words."""
    total = sum(len(p.split()) for p in paras)
    if len(paras) < 3 or len(paras[-1].split()) > total / 5:
        return paras[:-1] if len(paras) > 1 and len(paras[-1].split()) <= total / 5 else paras
    return paras[:-1]


def reword_sentence(paras: list[str], rng: random.Random) -> list[str]:
    """Swap up to three words of one sentence for synonyms (or append a clause when none applies)."""
    i = rng.randrange(len(paras))
    sents = _SENT.split(paras[i])
    j = rng.randrange(len(sents))
    words = sents[j].split()
    hits = [k for k, w in enumerate(words) if w.lower().strip(",.") in _REWORD][:3]
    for k in hits:
        w = words[k]
        core = w.lower().strip(",.")
        words[k] = w.lower().replace(core, _REWORD[core])
    if not hits:
        words = words[:-1] + [words[-1].rstrip(".") + ", officials noted."] if words else words
    sents[j] = " ".join(words)
    return paras[:i] + [" ".join(sents)] + paras[i + 1 :]


def add_boilerplate(paras: list[str], rng: random.Random) -> list[str]:
    top, bottom = rng.sample(_BOILERPLATE, 2)
    return [top] + paras + [bottom]


def whitespace_punct(text: str, rng: random.Random) -> str:
    text = text.replace('"', "“" if rng.random() < 0.5 else "''").replace("'", "’")
    text = re.sub(r" ", lambda m: "  " if rng.random() < 0.05 else " ", text)
    text = re.sub(r",", lambda m: "" if rng.random() < 0.3 else ",", text)
    return text.replace("\n", "\n\n")


SHORT_WORDS = (40, 250)  # a short (wire) story: trimming one sentence takes a large share of its shingles
BRIEF_WORDS = (40, 150)  # a brief: rewording two sentences changes most of its shingles
TRIMS = ("lead_sentence_cut", "last_sentence_cut", "two_sentences_reworded", "whitespace_only")


def sentences(text: str) -> list[str]:
    """The text's sentences, in order (paragraph breaks are sentence breaks)."""
    return [s.strip() for p in text.split("\n") for s in _SENT.split(p) if s.strip()]


def reword_sentences(sents: list[str], count: int, rng: random.Random) -> list[str]:
    """Reword `count` different sentences (synonym swaps, or a clause appended where no word applies)."""
    out = list(sents)
    for j in rng.sample(range(len(out)), min(count, len(out))):
        out[j] = reword_sentence([out[j]], rng)[0]
    return out


def whitespace_only(text: str, rng: random.Random) -> str:
    """The same words and punctuation, laid out with other whitespace."""
    text = re.sub(r" ", lambda m: rng.choice(("  ", "\t", "\u00a0", " ", " ", " ")), text)
    return "  \r\n" + "\r\n\r\n".join(line.rstrip() + rng.choice(("", " ", "\t")) for line in text.split("\n")) + "\r\n\r\n"


def make_trim(rec: dict) -> tuple[dict, list[str]] | None:
    """The trim variant of a short story or brief (see the module docstring), or None for this record."""
    rng = rng_for(f"{rec['id']}#trim")
    words = len(rec["text"].split())
    sents = sentences(rec["text"])
    kinds = []
    if SHORT_WORDS[0] <= words <= SHORT_WORDS[1] and len(sents) >= 3:
        kinds += ["lead_sentence_cut", "last_sentence_cut"]
    if BRIEF_WORDS[0] <= words <= BRIEF_WORDS[1] and len(sents) >= 3:
        kinds += ["two_sentences_reworded"]
    if rng.random() < 0.25:
        kind = "whitespace_only"
    elif kinds and rng.random() < 0.5:
        kind = rng.choice(kinds)
    else:
        return None
    if kind == "lead_sentence_cut":
        text = " ".join(sents[1:])
    elif kind == "last_sentence_cut":
        text = " ".join(sents[:-1])
    elif kind == "two_sentences_reworded":
        text = " ".join(reword_sentences(sents, 2, rng))
    else:
        text = whitespace_only(rec["text"], rng)
    return {"id": f"{rec['id']}~t", "title": rec.get("title"), "text": text, "published": "2024-03-01T18:00:00Z"}, [kind]


def make_variant(rec: dict, k: int) -> tuple[dict, list[str]]:
    """Variant number k of one record: 1 to 3 edits chosen from the record id."""
    rng = rng_for(f"{rec['id']}#{k}")
    edits = sorted(rng.sample(EDITS, rng.randint(1, 3)), key=EDITS.index)
    title, paras = rec.get("title"), paragraphs(rec["text"])
    if "headline" in edits:
        title = rewrite_headline(title, rec["text"], rng)
    if "paragraph_cut" in edits:
        paras = cut_paragraph(paras, rng)
    if "paragraph_added" in edits:
        paras = add_paragraph(paras, rng)
    if "sentence_reworded" in edits:
        paras = reword_sentence(paras, rng)
    if "boilerplate" in edits:
        paras = add_boilerplate(paras, rng)
    text = "\n".join(paras)
    if "whitespace_punct" in edits:
        text = whitespace_punct(text, rng)
    out = {"id": f"{rec['id']}~v{k}", "title": title, "text": text, "published": f"2024-03-01T{8 + k * 3:02d}:00:00Z"}
    return out, edits


def write_variants(events_dev_dir: str, out_path: str, trims: bool = True) -> tuple[dict, dict]:
    """Write the dev articles and their variants to out_path; ({variant id: original id}, {variant id: edits}).
    Without `trims` only the edit variants (the set measured before the short-story trims existed)."""
    records = []
    for name in sorted(os.listdir(events_dev_dir)):
        if name.endswith(".jsonl"):
            with open(os.path.join(events_dev_dir, name), encoding="utf-8") as f:
                records.extend(json.loads(line) for line in f if line.strip())
    expected, kinds = {}, {}
    with open(out_path, "w", encoding="utf-8") as out:
        for rec in records:
            if not (rec.get("text") or "").strip():
                continue
            orig = {"id": rec["id"], "title": rec.get("title"), "text": rec["text"], "published": ORIGINAL_TIME}
            out.write(json.dumps(orig) + "\n")
            rng = rng_for(rec["id"])
            trim = make_trim(rec) if trims else None
            if trim is not None:
                var, edits = trim
                expected[var["id"]], kinds[var["id"]] = rec["id"], edits
                out.write(json.dumps(var) + "\n")
            if len(rec["text"].split()) < 80 or rng.random() >= 1 / 3:
                continue
            for k in range(1, rng.randint(1, 2) + 1):
                var, edits = make_variant(rec, k)
                expected[var["id"]], kinds[var["id"]] = rec["id"], edits
                out.write(json.dumps(var) + "\n")
    return expected, kinds
