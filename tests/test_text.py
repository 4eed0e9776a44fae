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


def test_a_trade_mark_sign_is_no_part_of_the_word_it_follows():
    # RGB's "Xenoblade Chronicles™ 2 ... Release date. December 1, 2017" read as
    # "chroniclestm", so "When was Xenoblade Chronicles 2 released?" missed one of its words.
    assert content_terms("Xenoblade Chronicles™ 2, Service℠") == content_terms(
        "Xenoblade Chronicles 2, Service")


def test_an_ordinal_is_the_number_it_states():
    assert content_terms("The eleventh season, the 11th season") == content_terms("11 season, 11 season")
    assert content_terms("the 10th century") == ["10", "centuri"]
    # "first" and "second" also mean "at first", "a second time": they stay words.
    assert content_terms("first second") == ["first", "second"]
