"""Story terms in every language and the dense view: pure functions (folding, clitics, lemmas, headline language,
dense scores), then GroupStories on a dated headline stream, a German story and a German-English pair."""
import datetime as dt

import apache_beam as beam
import numpy as np
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import BeamAssertException, assert_that

from schemas.records import UTC, ArticleTerms, CleanArticle
from transforms.copies import FindCopies
from transforms.copies.transform import COPIES
from transforms.fingerprints import comparison_text, content_hash
from transforms.stories import GroupStories, StoryConfig
from transforms.stories.config import DENSE_ALL, DENSE_HEADLINES, DENSE_OFF
from transforms.stories.dense import (
    DENSE_DTYPE,
    DenseEncoder,
    DenseTerms,
    across_languages,
    dense_score,
    dense_text,
    dense_vector,
    mixed_similarity,
    time_closeness,
    wants_dense,
)
from transforms.stories.terms import fold, headline_language, lemmatiser, strip_clitic, term_counts, term_id
from transforms.stories.vectors import article_terms

CFG = StoryConfig()
T0 = dt.datetime(2024, 5, 6, 8, 0, tzinfo=UTC)


def _h(word):
    return term_id(word, CFG)


# ------------------------------------------------------------------------------------------
# Pure functions
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("a,b", [("Erdoğan", "Erdogan"), ("Beyoncé", "BEYONCE"), ("Straße", "strasse"), ("Işık", "isik")],
                         ids=["turkish-g", "acute", "sharp-s", "dotless-i"])
def test_fold_makes_one_name_of_its_spellings(a, b):
    assert fold(a) == fold(b)


@pytest.mark.parametrize("token,word", [("Erdoğan'ın", "Erdoğan"), ("l'Élysée", "Élysée"), ("d'Iran", "Iran"), ("Ankara", "Ankara")],
                         ids=["turkish-suffix", "french-article", "french-de", "none"])
def test_strip_clitic_keeps_the_word(token, word):
    assert strip_clitic(token) == word


def test_inflected_forms_meet_in_a_language_with_a_lemmatiser():
    full_a, _ = term_counts(None, "Die Wahlen in Polen wurden verschoben.", CFG, "de")
    full_b, _ = term_counts(None, "Die Wahl in Polen wird verschoben.", CFG, "de")
    assert _h("wahl") in full_a and _h("wahl") in full_b
    # English words stay as written (lemmas cost full-article precision on ECB+), and so do words of an
    # unknown language.
    assert lemmatiser("en") is None and lemmatiser(None) is None
    full_en, _ = term_counts(None, "The elections were delayed.", CFG, "en")
    assert _h("elections") in full_en


def test_names_are_one_term_across_languages():
    _, names_tr = term_counts(None, "Cumhurbaşkanı Erdoğan'ın açıklaması Ankara'da yapıldı.", CFG, "tr")
    _, names_en = term_counts(None, "President Erdogan spoke in Ankara on Monday.", CFG, "en")
    assert {_h("erdogan"), _h("ankara")} <= set(names_tr) & set(names_en)


def test_the_parts_of_a_hyphenated_compound_are_words_of_their_own():
    full, _ = term_counts(None, "Die Corona-Krise trifft Passau. Die Krise hält an.", CFG, "de")
    assert _h("corona") in full and full[_h("krise")] >= 2
    full_en, _ = term_counts("Monterrey-Saltillo road in the U.S.", "", CFG, "en")
    assert {_h("monterrey"), _h("saltillo"), _h("u.s")} <= set(full_en) and _h("monterrey-saltillo") not in full_en


def test_headline_language_needs_a_confident_identifier():
    assert headline_language("Bundesregierung beschließt neues Heizungsgesetz nach langem Streit") == "de"
    assert headline_language("Short one") is None
    assert headline_language(None) is None


def test_dense_text_is_the_title_and_the_lead():
    assert dense_text("Quake hits Kerman", "one two three four", 2) == "Quake hits Kerman. one two"
    assert dense_text("Quake hits Kerman", "", 100) == "Quake hits Kerman"
    assert dense_text(None, "one two", 100) == "one two"


@pytest.mark.parametrize("mode,headline,want", [(DENSE_OFF, True, False), (DENSE_HEADLINES, True, True), (DENSE_HEADLINES, False, False),
                                                (DENSE_ALL, False, True)], ids=["off", "headline", "full-article", "all"])
def test_wants_dense_follows_the_mode(mode, headline, want):
    a = CleanArticle(article_id="x", source_uri="mem://x", input_format="text", text="" if headline else "Some body.", title="A title",
                     content_hash="h")
    assert wants_dense(a, StoryConfig(dense=mode)) is want


def test_mixed_similarity_uses_the_dense_view_only_for_two_dated_articles_with_one():
    cfg = StoryConfig()
    u = np.zeros(4, dtype=np.float32)
    u[0] = 1.0
    t = T0.timestamp()
    assert mixed_similarity(0.3, u, None, cfg, t, t) == 0.3
    assert mixed_similarity(0.1, u, u, cfg, None, t) == 0.1  # undated: words alone
    assert dense_score(cfg.dense_floor, cfg) == 0.0 and dense_score(1.0, cfg) == 1.0
    assert mixed_similarity(0.1, u, u, cfg, t, t) == pytest.approx((1 - cfg.dense_weight) * 0.1 + cfg.dense_weight)
    # The dense share falls with the time gap (a Gaussian of it).
    later = mixed_similarity(0.1, u, u, cfg, t, t + cfg.dense_time_days * 86400.0)
    assert 0.1 < later < mixed_similarity(0.1, u, u, cfg, t, t)
    assert time_closeness(t, t + cfg.dense_time_days * 86400.0, cfg) == pytest.approx(np.exp(-0.5))


def test_undated_pairs_are_linked_on_the_dense_view_only_across_languages():
    cfg = StoryConfig()
    u = np.zeros(4, dtype=np.float32)
    u[0] = 1.0
    assert across_languages("de", "en") and not across_languages("en", "en") and not across_languages(None, "en")
    assert mixed_similarity(0.1, u, u, cfg, None, None, across=False) == 0.1
    assert mixed_similarity(0.1, u, u, cfg, None, None, across=True) == pytest.approx(
        (1 - cfg.dense_weight * cfg.dense_across) * 0.1 + cfg.dense_weight * cfg.dense_across)
    assert mixed_similarity(0.1, u, u, StoryConfig(dense_across=0.0), None, None, across=True) == 0.1
    # Within one language the dense view only checks an undated pair: it halves one it calls unrelated and
    # never raises one.
    v = np.zeros(4, dtype=np.float32)
    v[1] = 1.0
    assert mixed_similarity(0.3, u, v, cfg, None, None) == pytest.approx((1 - cfg.dense_check) * 0.3)
    assert mixed_similarity(0.3, u, v, StoryConfig(dense_check=0.0), None, None) == 0.3
    assert mixed_similarity(0.3, u, v, cfg, None, None, checked=False) == 0.3  # a headline's vector checks nothing
    assert mixed_similarity(0.3, u, v, cfg, None, None, across=True) < mixed_similarity(0.3, u, v, cfg, None, None)


def test_story_config_validates_the_dense_settings():
    with pytest.raises(ValueError):
        StoryConfig(dense="sometimes")
    with pytest.raises(ValueError):
        StoryConfig(dense_weight=1.5)
    with pytest.raises(ValueError):
        StoryConfig(headline_block_df=10)


def test_dense_encoder_gives_unit_vectors_that_rank_a_translation_above_another_story():
    enc = DenseEncoder()
    de = dense_vector(enc.encode("Erdbeben in Kerman: zwölf Tote nahe Zarand"))
    en = dense_vector(enc.encode("Kerman earthquake kills twelve near Zarand"))
    other = dense_vector(enc.encode("Central bank holds interest rates steady"))
    assert abs(float(np.linalg.norm(de)) - 1.0) < 1e-2 and de.dtype == np.float32
    assert float(de @ en) > float(de @ other)


def test_article_terms_carry_the_dense_vector_when_given():
    a = CleanArticle(article_id="x", source_uri="mem://x", input_format="text", text="", title="Quake hits Kerman", content_hash="h")
    raw = np.ones(4, dtype=DENSE_DTYPE).tobytes()
    t = article_terms(a, CFG, raw)
    assert isinstance(t, DenseTerms) and isinstance(t, ArticleTerms) and t.dense == raw and t.headline
    assert type(article_terms(a, CFG)) is ArticleTerms


# ------------------------------------------------------------------------------------------
# GroupStories
# ------------------------------------------------------------------------------------------


def article(aid, title, text, published=None, language=None):
    return CleanArticle(article_id=aid, source_uri=f"mem://{aid}", input_format="text", text=text, title=title, published_at=published,
                        language=language, content_hash=content_hash(comparison_text(text, title)))


def run_stories(arts, expected, cfg=CFG):
    expected = sorted(sorted(g) for g in expected)

    def check(rows):
        stories = {}
        for a, s in rows:
            stories.setdefault(s.story_id, set()).add(a.article_id)
        got = sorted(sorted(v) for v in stories.values())
        if got != expected:
            raise BeamAssertException(f"stories {got} != expected {expected}")

    with TestPipeline() as p:
        arts_p = p | beam.Create(arts)
        copies = arts_p | "FindCopies" >> FindCopies()
        out = {"articles": arts_p, "copies": copies[COPIES]} | "GroupStories" >> GroupStories(cfg)
        assert_that(out["articles"], check)


def test_a_dated_headline_stream_forms_stories_and_time_keeps_a_later_one_apart():
    # A headline feed: titles and times, no body; one story's name is in many of its headlines, worded apart.
    hours = lambda h: T0 + dt.timedelta(hours=h)  # noqa: E731
    titles = ["Snowden speaks at SXSW via video link", "Edward Snowden tells SXSW crowd to encrypt",
              "SXSW: Snowden says NSA surveillance is setting fire to the future", "Snowden at SXSW: no regrets over leaks",
              "Watch Snowden's SXSW talk", "Snowden urges tech firms at SXSW to protect users"]
    arts = [article(f"s{i}", t, "", hours(i)) for i, t in enumerate(titles)]
    arts += [article(f"g{i}", t, "", hours(i + 1)) for i, t in enumerate(
        ["GM recall probe: Congress to question company", "Justice Department opens GM recall probe",
         "GM faces criminal probe over ignition recall", "GM recall: regulators under scrutiny"])]
    arts.append(article("late", "Snowden to speak at SXSW again next year", "", T0 + dt.timedelta(days=20)))
    run_stories(arts, [[f"s{i}" for i in range(6)], [f"g{i}" for i in range(4)], ["late"]])


GERMAN = [
    ("Hochwasser in Passau: Altstadt überflutet",
     "Das Hochwasser der Donau hat am Montag die Altstadt von Passau überflutet. Die Feuerwehr brachte Bewohner in "
     "Sicherheit, Oberbürgermeister Jürgen Dupper rief den Katastrophenfall aus."),
    ("Passau kämpft gegen die Flut",
     "In Passau stieg der Pegel der Donau auf über zwölf Meter. Jürgen Dupper sagte, die Altstadt sei überflutet, "
     "Helfer der Feuerwehr evakuierten Häuser am Ufer."),
    ("Katastrophenfall in Passau ausgerufen",
     "Nach den Überflutungen der Passauer Altstadt hat Oberbürgermeister Dupper den Katastrophenfall ausgerufen. "
     "Die Feuerwehren arbeiteten die ganze Nacht an der Donau."),
]
GERMAN_OTHER = ("Bundesbank senkt Wachstumsprognose",
                "Die Bundesbank hat ihre Prognose für das Wirtschaftswachstum gesenkt. Präsident Joachim Nagel verwies auf "
                "schwache Exporte und hohe Energiepreise.")


def test_a_german_story_forms_and_an_unrelated_german_article_stays_apart():
    arts = [article(f"d{i}", t, x, T0 + dt.timedelta(hours=i), "de") for i, (t, x) in enumerate(GERMAN)]
    arts.append(article("other", *GERMAN_OTHER, T0, "de"))
    run_stories(arts, [["d0", "d1", "d2"], ["other"]])


def test_a_german_english_pair_of_one_event_shares_a_story_with_the_dense_view():
    en = ("Floods swamp Passau old town",
          "The Danube flooded the old town of Passau on Monday. Mayor Jürgen Dupper declared a state of disaster as "
          "firefighters evacuated residents from houses on the river bank.")
    # Dated: the dense view judges articles close in time (dense.mixed_similarity).
    arts = [article("de", *GERMAN[0], T0, "de"), article("en", *en, T0 + dt.timedelta(hours=2), "en"),
            article("other", *GERMAN_OTHER, T0, "de")]
    run_stories(arts, [["de", "en"], ["other"]], StoryConfig(dense=DENSE_ALL))


def test_an_undated_german_english_pair_of_one_event_shares_a_story_across_languages():
    en = ("Floods swamp Passau old town",
          "The Danube flooded the old town of Passau on Monday. Mayor Jürgen Dupper declared a state of disaster as "
          "firefighters evacuated residents from houses on the river bank.")
    # Undated, in two languages: the dense view judges the pair too (dense_across), and the German story of
    # another event stays apart.
    arts = [article("de", *GERMAN[0], None, "de"), article("en", *en, None, "en"), article("other", *GERMAN_OTHER, None, "de")]
    run_stories(arts, [["de", "en"], ["other"]], StoryConfig(dense=DENSE_ALL))
