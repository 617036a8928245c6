"""The hashed terms of an article in its language: tokens, clitics, lemmas, diacritics folded, names."""
from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter

import xxhash

from transforms.stories.config import StoryConfig

# English function words and reporting verbs: common everywhere in news, and in English-language names of
# foreign stories. (Per-language lists, stopwordsiso's, were measured and not kept: document frequencies
# already weigh a language's function words down, and the lists also hold content words; SemEval pairs
# same-story P/R over all languages 0.84/0.72 without them, 0.83/0.70 with them.)
STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves said says say
    told according one two new would could also like last first year years day days week weeks time since still
    may might must many much even well back made make get got us mr mrs ms per via around across""".split()
)
# A word runs through apostrophes (clitics, cut later) and dots (U.S.), not hyphens: the parts of a compound
# written with one (Corona-Krise, Monterrey-Saltillo, zero-day) are words of their own, so they meet the
# same words written alone or in another compound (SemEval pairs, German same-story recall 0.67 -> 0.76).
_TOKEN = re.compile(r"[^\W_][\w'’.]*[^\W_]|[^\W_]", re.UNICODE)
_APOSTROPHE = re.compile(r"['’]")
# Languages whose words are compared as they are: English lemmas cost full-article precision (a light stemmer
# on ECB+: B3 F1 0.938 -> 0.927), and an undetected language has no lemmatiser to choose.
AS_WRITTEN = frozenset({"en"})
HEADLINE_LANGUAGE_CONFIDENCE = 0.5  # a headline's detected language is used from this probability on


def fold(word: str) -> str:
    """Lower case without diacritics, so a name matches across languages and spellings (Erdoğan, Erdogan)."""
    word = word.casefold().replace("ı", "i")
    if word.isascii():
        return word
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def strip_clitic(token: str) -> str:
    """The word of a token with an apostrophe: the stem before a suffix (Erdoğan'ın, Ankara'da) or the word
    after an elided article (l'Élysée, d'Iran)."""
    parts = _APOSTROPHE.split(token)
    if len(parts) == 1:
        return token
    if len(parts[0]) <= 2 and parts[-1]:
        return parts[-1]
    return parts[0]


@functools.lru_cache(maxsize=64)
def lemmatiser(language: str | None):
    """simplemma's lemmatiser for the language (ISO 639-1), or None when it has none or words stay as written."""
    if language is None or language in AS_WRITTEN:
        return None
    import simplemma

    try:
        simplemma.lemmatize("test", lang=language)
    except (ValueError, KeyError):
        return None
    return functools.partial(simplemma.lemmatize, lang=language)


def term_id(term: str, cfg: StoryConfig = StoryConfig()) -> int:
    """The hashed vocabulary index of a normalised term (what term_counts counts it under)."""
    return xxhash.xxh32_intdigest(term.encode("utf-8")) & ((1 << cfg.vocab_bits) - 1)


def term_counts(title: str | None, text: str, cfg: StoryConfig = StoryConfig(), language: str | None = None) -> tuple[Counter, Counter]:
    """Hashed term frequencies of an article, two views: all words (titles and names weigh more) and names only.

    Words are lower-cased with their diacritics folded, stopwords and one-character words dropped; numbers of
    two digits or more are kept, written alike in every language (a count of dead, an amount, a date: SemEval
    German-English same-story recall 0.33 -> 0.40 in-process, ECB+ B3 F1 0.929 -> 0.934); in a language
    other than English, a clitic is cut off at its apostrophe and each word is reduced to its lemma (simplemma),
    so inflected forms meet. A name is a capitalised word that does not start a sentence (in a title-case
    headline every word counts as a name); names are folded, not lemmatised differently per language, so
    the same name is one term in every language.
    """
    counts: Counter = Counter()
    names: Counter = Counter()
    lemma = lemmatiser(language)
    clitics = language is not None and language not in AS_WRITTEN
    seen: dict[str, str] = {}

    def term_of(token: str) -> str:
        word = seen.get(token)
        if word is None:
            word = strip_clitic(token) if clitics else token
            if lemma is not None and not word.isdigit():
                word = lemma(word)
            word = seen[token] = fold(word)
        return word

    def add(body: str, weight: int):
        sentence_start = True
        for m in _TOKEN.finditer(body):
            tok = m.group(0).strip(".'’")
            low = term_of(tok) if tok else ""
            if len(low) < 2 or low in STOPWORDS:
                sentence_start = m.group(0).endswith(".")
                continue
            w = weight
            term = term_id(low, cfg)
            if tok[:1].isupper() and not sentence_start:
                w *= cfg.entity_weight
                names[term] += weight
            counts[term] += w
            sentence_start = m.group(0).endswith(".")

    if title:
        add(title, cfg.title_weight)
    if text != title:
        add(text, 1)
    return counts, names


def headline_language(title: str | None) -> str | None:
    """The language of a headline without body (the cleaning stage detects none under 20 characters of text),
    when py3langid gives it at least HEADLINE_LANGUAGE_CONFIDENCE; else None."""
    if not title or len(title) < 20:
        return None
    lang, p = _identifier().classify(title)
    return lang if p >= HEADLINE_LANGUAGE_CONFIDENCE else None


@functools.lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
