"""bench.quality_events scoring of rated pairs and trimmed copies, and bench.variants' trims (pure functions)."""
from bench.quality_events import near_dup_scores, pair_articles, pair_scores, shingle_containment
from bench.variants import make_trim, sentences


def test_pair_articles_writes_each_article_once_and_scores_only_clear_ratings():
    recs = [
        {"pair_id": "1_2", "lang1": "de", "lang2": "en", "text1": "A text.", "text2": "B text.", "overall": 1.0},
        {"pair_id": "1_3", "lang1": "de", "lang2": "de", "text1": "A text.", "text2": "C text.", "overall": 4.0},
        {"pair_id": "2_3", "lang1": "en", "lang2": "de", "text1": "B text.", "text2": "C text.", "overall": 2.5},
        {"pair_id": "1_4", "lang1": "de", "lang2": "de", "text1": "A other text.", "text2": "D text.", "overall": 1.5},
    ]
    rows, pairs = pair_articles(recs)
    assert [r["id"] for r in rows] == ["a1", "a2", "a3", "a1~1", "a4"]
    assert pairs == [("de-en", "a1", "a2", True), ("de", "a1", "a3", False), ("de", "a1~1", "a4", True)]


def test_pair_scores_count_same_story_precision_and_recall_per_language_pair():
    pairs = [("de", "a", "b", True), ("de", "a", "c", False), ("de", "d", "e", True), ("de-en", "f", "g", True)]
    story = {"a": "s1", "b": "s1", "c": "s1", "d": "s2", "e": "s3", "f": "s4"}  # g was rejected: its own story
    got = pair_scores(pairs, story)
    assert (got["de"]["tp"], got["de"]["fp"], got["de"]["fn"]) == (1, 1, 1)
    assert got["de"]["precision"] == 0.5 and got["de"]["recall"] == 0.5
    assert got["de-en"]["recall"] == 0.0 and got["de-en"]["precision"] == 1.0
    assert got["all"]["pairs"] == 4 and got["all"]["same"] == 3


def test_a_dev_article_contained_in_its_target_is_a_copy_already_in_the_data():
    long = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
    short = "three four five six seven eight nine ten eleven"
    assert shingle_containment(short, long) == 1.0
    texts = {"long": long, "short": short, "v": long + " more", "other": "a b c d e f g h i j k"}
    got = near_dup_scores({"short": ("near", "long"), "v": ("near", "long"), "other": ("near", "long"), "long": (None, None)},
                          {"v": "long"}, texts)
    assert got["dev_copies"] == ["short"] and got["unrelated"] == ["other"] and got["recall"] == 1.0


def test_trims_cut_a_sentence_or_reword_two_and_are_deterministic():
    text = ("Firefighters fought a blaze in Rotterdam on Sunday. Nobody was hurt, police said. The A15 was closed for "
            "three hours after the fire began. Many people watched from the bridge over the river. An investigation "
            "was opened by the city, which said the cause of the fire was not yet known.")
    seen = set()
    for i in range(60):
        rec = {"id": f"r{i}", "title": "Fire", "text": text}
        got = make_trim(rec)
        assert got == make_trim(rec)
        if got is None:
            continue
        var, (kind,) = got
        seen.add(kind)
        if kind == "lead_sentence_cut":
            assert sentences(var["text"]) == sentences(text)[1:]
        elif kind == "last_sentence_cut":
            assert sentences(var["text"]) == sentences(text)[:-1]
        elif kind == "whitespace_only":
            assert var["text"].split() == text.split() and var["text"] != text
        else:
            assert var["text"] != text and abs(len(var["text"].split()) - len(text.split())) <= 8
    assert seen == {"lead_sentence_cut", "last_sentence_cut", "two_sentences_reworded", "whitespace_only"}


def test_story_replica_halves_alternate_odd_topics_and_cover_every_key():
    from bench.story_replica import hash_half

    assert [hash_half(str(t)) for t in (1, 3, 5, 7)] == [0, 1, 0, 1]  # ECB+'s odd topics split evenly
    halves = {hash_half(f"story-{i}") for i in range(20)}
    assert halves == {0, 1}
