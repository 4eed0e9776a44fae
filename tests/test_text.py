"""The terms retrieval and evidence ranking count: accents, possessives, stopwords."""

from __future__ import annotations

from qa.text import content_terms


def test_a_word_matches_with_or_without_its_accents():
    # "Who was Richard's fiancee?" abstained on SQuAD's passage, which writes "fiancée": the
    # accented letter split the word in two.
    assert content_terms("Richard's fiancée, Berengaria") == content_terms("Richard's fiancee, Berengaria")
    assert content_terms("Recep Tayyip Erdoğan in São Paulo") == [
        "recep", "tayyip", "erdogan", "sao", "paulo"]
    # Letters Unicode does not decompose: Azerbaijani ı and ə, Danish ø, Polish ł.
    assert content_terms("Laçın, Xankəndi, Øresund, Łódź") == ["lacin", "xankendi", "oresund", "lodz"]


def test_words_of_other_scripts_are_terms_too():
    assert content_terms("Переговоры в Москве") == ["переговоры", "в", "москве"]
