"""A "who" question is answered by a name beside its verb or role word (qa/slots.py)."""

from __future__ import annotations

from qa.evidence import answers_kind, candidate_sentences, profile_question, rank_evidence
from qa.retrieval import Passage
from qa.slots import answers_beside_anchor, new_names, question_anchor


def _ranked(question: str, texts: list[str], assistant):
    """The question's profile, and the sentences of ``texts`` (one snippet each) ranked for it
    with equal term weights and the real embedding model."""
    profile = profile_question(question)
    passages = [Passage(f"snippet-{n}#0", f"snippet-{n}", "Snippet", None, text, 0, len(text), 1.0)
                for n, text in enumerate(texts)]
    return profile, rank_evidence(profile, candidate_sentences(passages), lambda term: 1.0,
                                  assistant.embed_model.embed)


def _beside(question: str, sentence: str) -> bool:
    return bool(answers_beside_anchor(question_anchor(question), sentence, question))


def test_the_subject_of_the_question_verb_is_the_answer_not_its_object():
    question = "Who hosted the foreign ministers in Washington?"
    assert _beside(question, "Antony Blinken hosted the foreign ministers.")
    assert _beside(question, "The talks were hosted by U.S. Secretary Antony Blinken.")
    # The object of the verb, and what a passive verb acted on, are not who did it.
    assert not _beside(question, 'Sullivan said it was "good to host" Azerbaijan\'s minister.')
    assert not _beside("Who used the church to unify the duchy?",
                       "It borrowed the Latin used by the church in its liturgy.")


def test_a_role_word_takes_a_name_on_either_side_and_irregular_verbs_match():
    assert _beside("Who is the director of Pretty Woman?",
                   "It is a 1990 film directed by Garry Marshall.")
    assert _beside("Who is the CEO of Google?", "Google CEO Sundar Pichai spoke on Tuesday.")
    assert _beside("Who won the Masters in 2021?", "Hideki Matsuyama wins the Masters!")
    assert _beside("Who won the final?", "The title was won by Ashleigh Barty.")
    # A verb's noun is another word: "ruler" does not say who ruled.
    assert not _beside("Who ruled the duchy?", "It was founded by the Viking ruler Rollo.")
    # Too far from the verb to be its subject.
    assert not _beside("Who won the election?",
                       "Votes between Trump and Biden in each state, and who is winning.")


def test_a_name_is_one_the_question_does_not_use():
    question = "Who won the Masters golf tournament in 2021?"
    assert question_anchor("Who is Hideki Matsuyama?") is None  # a name is the topic
    assert new_names("The Masters runs April 8-11 in 2021.", question) == []
    assert new_names("Practice rounds begin Monday.", question) == []
    found = new_names("On Sunday Hideki Matsuyama won.", question)
    assert [s for s in found] == [(10, 16), (17, 26)]
    # A name after "at" or "in" says where, which no "who" asks; nor is a capital that opens a
    # sentence inside a snippet a name, while one after an abbreviation still is.
    assert new_names("It runs at Augusta National Golf Club in Georgia.", question) == []
    assert new_names("Mar 30, 2021 ... The event ends. Practice begins.", question) == []
    sentence = "Sen. Menendez spoke."
    assert [sentence[a:b] for a, b in new_names(sentence, question)] == ["Sen.", "Menendez"]


def test_a_capital_after_a_name_the_question_uses_belongs_to_that_name():
    # RGB's "Who is the CEO of Lego in 2021?" took "Mar 1, 2022 ... CEO, the LEGO Group.":
    # "Group" read as a person beside "CEO".
    question = "Who is the CEO of Lego in 2021?"
    assert new_names("Mar 1, 2022 ... CEO, the LEGO Group.", question) == []
    assert not _beside(question, "Mar 1, 2022 ... CEO, the LEGO Group.")
    # After the anchor itself ("CEO"), a name is still new; and after a word the question
    # does not use.
    sentence = "Google Cloud CEO Thomas Kurian and Lego CEO Niels Christiansen spoke."
    assert [sentence[a:b] for a, b in new_names(sentence, "Who is the CEO of Google?")] == [
        "Thomas", "Kurian", "Lego", "Niels", "Christiansen"]


def test_a_place_that_restates_the_question_loses_to_the_winner(shared_assistant):
    """Two search snippets from RGB's news set (en_fact, id 96): the first restates the
    question and names only where the tournament is played."""
    texts = ["The 2021 Masters Tournament runs April 8-11 at Augusta National Golf Club. "
             "Practice rounds begin Monday, April 5, and continue through Wednesday ...",
             "Apr 11, 2021 ... Hideki Matsuyama Wins The Masters!"]
    profile, ranked = _ranked("Who won the Masters golf tournament in 2021?", texts,
                              shared_assistant)
    assert "Hideki Matsuyama" in ranked[0].text and ranked[0].slot
    restated = next(e for e in ranked if e.text.startswith("The 2021 Masters"))
    assert not restated.type_match and restated.coverage > ranked[0].coverage


def test_a_who_question_is_answered_by_a_name_beside_its_role_word(shared_assistant):
    """Two search snippets adapted from RGB's news set (en_fact, id 94). The first repeats the
    question's words and names only a product; the second names the CEO beside "CEO", and
    ranks first although it reads less like the question."""
    texts = ["May 18, 2021 ... A message from our CEO ... CEO of Google and Alphabet ... at "
             "Google I/O 2021, with a display behind him.",
             "Oct 6, 2021 ... An image of Google CEO Sundar Pichai wearing glasses and a jacket."]
    profile, ranked = _ranked("Who is the CEO of Google in 2021?", texts, shared_assistant)
    assert profile.answer_type == "name"
    assert "Sundar Pichai" in ranked[0].text and ranked[0].slot
    message = next(e for e in ranked if e.text.startswith("May 18"))
    assert message.type_match and not message.slot and message.similarity > ranked[0].similarity
    # A sentence naming no one the question does not is no answer to "who".
    assert not answers_kind(profile, "The CEO of Google spoke in 2021.", None)


def test_a_when_question_is_answered_by_a_date_beside_its_verb(shared_assistant):
    """Snippets adapted from RGB's news set (en_fact, id 44): each opens with the date it was
    written; the one stating the release date beside "release" answers."""
    texts = ["Sep 13, 2022 ... The sequel to The Legend of Zelda: Breath of the Wild has been "
             "revealed!",
             "Jan 12, 2017 ... Nintendo has revealed that Breath of the Wild will release on "
             "March 3, 2017, alongside the Switch."]
    profile, ranked = _ranked("When was The Legend of Zelda: Breath of the Wild released?", texts,
                              shared_assistant)
    assert profile.answer_type == "date" and profile.anchor.date
    assert "March 3, 2017" in ranked[0].text and ranked[0].slot
    sequel = next(e for e in ranked if e.text.startswith("Sep 13"))
    assert sequel.type_match and not sequel.slot and sequel.similarity > ranked[0].similarity
    # "premiered on NBC on September 23, 2013": a date one word farther still counts.
    anchor = question_anchor("When will the first season of The Blacklist premiere?")
    assert answers_beside_anchor(anchor, "The Blacklist premiered on NBC on September 23, 2013.",
                                "When will the first season of The Blacklist premiere?")
    assert question_anchor("What is the release date for Super Mario Odyssey?").word == "release"


def test_the_short_answer_is_the_date_beside_the_verb_not_the_snippets_own(tmp_path):
    """Asked through an Assistant over the two snippets: the answer leads with the release
    date, not with the date the snippet was written, and quotes the sentence stating it."""
    assistant = _assistant_over_snippets(tmp_path, [
        "Sep 13, 2022 ... The sequel to The Legend of Zelda: Breath of the Wild has been "
        "revealed!",
        "Jan 12, 2017 ... Nintendo has revealed that Breath of the Wild will release on "
        "March 3, 2017, alongside the Switch."])
    answer = assistant.ask("When was The Legend of Zelda: Breath of the Wild released?")
    assert answer.text.startswith("March 3, 2017 — ")
    assert "will release on March 3, 2017" in answer.citations[0].quote


def test_a_date_given_without_its_year_is_answered_with_the_year_of_the_report(tmp_path):
    """A snippet dated Nov 12, 2020 says the season "premieres Nov. 15": the short answer is
    November 15, 2020, and the quote stays as written."""
    assistant = _assistant_over_snippets(tmp_path, [
        "Nov 12, 2020 ... The fourth season of The Crown premieres Nov. 15 on Netflix.",
        "Jan 5, 2021 ... The Crown won the Golden Globe for best drama series."])
    answer = assistant.ask("When does season 4 of The Crown premiere?")
    assert answer.text.startswith("November 15, 2020 — ")
    assert "premieres Nov. 15 on Netflix" in answer.citations[0].quote


def test_a_generated_date_without_its_year_gets_the_year_of_the_report(tmp_path):
    """The model's "Nov. 15" (fixed output, through the real verifier) is written out with the
    year of the snippet it cites, as the extractive answer's lead is; the quote stays as written."""
    assistant = _assistant_over_snippets(tmp_path, [
        "Nov 12, 2020 ... The fourth season of The Crown premieres Nov. 15 on Netflix.",
        "Jan 5, 2021 ... The Crown won the Golden Globe for best drama series."])
    answerer = assistant._answerer
    context = answerer._context("When does season 4 of The Crown premiere?", [])
    n = next(n for n, p in enumerate(context.passages, start=1) if "premieres" in p.text)
    answer = answerer._verified(context, f"The fourth season premieres Nov. 15 on Netflix [{n}].")
    assert answer.text == "The fourth season premieres November 15, 2020 on Netflix. [1]"
    assert "premieres Nov. 15 on Netflix" in answer.citations[0].quote
    # Not for a question that asks no date: the sentence is kept as the model wrote it.
    context = answerer._context("Where does season 4 of The Crown premiere?", [])
    n = next(n for n, p in enumerate(context.passages, start=1) if "premieres" in p.text)
    answer = answerer._verified(context, f"The fourth season premieres Nov. 15 on Netflix [{n}].")
    assert "Nov. 15" in answer.text and "2020" not in answer.text


def test_capitals_of_a_headline_name_no_one():
    """A run of capitals holding a capitalised "From" or "To" is a headline: its words are no
    names ("Sees" beside "CEO"), while prose around it still names people."""
    question = "Who is the CEO of Google in 2021?"
    headline = "Nov 17, 2021 ... Google CEO Sees Company's Next Trillion in Value From Search."
    assert new_names(headline, question) == []
    assert not answers_beside_anchor(question_anchor(question), headline, question)
    prose = "An image of Google CEO Sundar Pichai wearing glasses."
    assert [prose[a:b] for a, b in new_names(prose, question)] == ["Sundar", "Pichai"]
    # Names with a lower-case "of" are not headlines.
    ministry = "He met officials of the Ministry of Foreign Affairs on Monday."
    assert [ministry[a:b] for a, b in new_names(ministry, question)] == [
        "Ministry", "Foreign", "Affairs"]


def test_a_former_holder_does_not_answer_who_holds_a_role_now():
    sentence = "Eric Schmidt, former CEO of Google and technical adviser at Alphabet."
    now = "Who is the CEO of Google?"
    then = "Who was the CEO of Google in 2005?"
    assert not answers_beside_anchor(question_anchor(now), sentence, now)
    assert [sentence[a:b] for a, b in answers_beside_anchor(question_anchor(then), sentence, then)] \
        == ["Eric", "Schmidt"]


def test_an_amount_asked_for_is_the_one_beside_the_word_asked_about(tmp_path):
    """"What was X's revenue in Q3 2019?": the snippet stating the sum beside "revenue" answers,
    led by that sum, not the one restating the question or giving another sum."""
    profile = profile_question("What was Harbour Motors' revenue in Q3 2019?")
    assert profile.answer_type == "amount" and profile.anchor.amount
    assistant = _assistant_over_snippets(tmp_path, [
        "Oct 20, 2019 ... What to expect from Harbour Motors' Q3 2019 revenue report on "
        "Wednesday: analysts watch revenue and margins.",
        "Oct 23, 2019 ... Harbour Motors reported third-quarter revenue of $6.3 billion in "
        "2019 and 12,000 deliveries.",
        "Jul 24, 2019 ... Harbour Motors spent $1.2 billion on a new plant in Q2 2019."])
    answer = assistant.ask("What was Harbour Motors' revenue in Q3 2019?")
    assert answer.text.startswith("$6.3 billion — ")
    assert "third-quarter revenue of $6.3 billion" in answer.citations[0].quote


def _assistant_over_snippets(tmp_path, texts: list[str]):
    """An extractive Assistant whose only articles are ``texts``, each a search snippet as an
    HTML page."""
    from qa import Assistant

    articles = tmp_path / "articles"
    articles.mkdir()
    for number, text in enumerate(texts):
        (articles / f"snippet-{number}.html").write_text(
            f"<html><head><title>Snippet {number}</title></head><body><p>{text}</p></body></html>",
            encoding="utf-8")
    return Assistant(backend="extractive", data_dir=tmp_path / "data", seeds_dir=articles)
