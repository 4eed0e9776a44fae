"""What a question states (a year, a decade, a century, a quarter, a name) and whether a
passage meets it."""

from __future__ import annotations

from datetime import date

from qa.constraints import question_constraints, unmet_constraints


def _kinds(question: str) -> list[tuple[str, str]]:
    return [(c.kind, c.value) for c in question_constraints(question)]


def test_years_quarters_centuries_decades_and_names_are_read_from_the_question():
    assert _kinds("Who won the 2019 Wimbledon final?") == [("year", "2019"), ("name", "Wimbledon")]
    assert ("quarter", "3") in _kinds("What was Apple's revenue in the third quarter of 2021?")
    assert ("quarter", "4") in _kinds("How did sales do in Q4?")
    assert _kinds("What treaty was signed in the 9th century?") == [("century", "9")]
    assert ("decade", "1990") in _kinds("Which bands formed in the 1990s?")


def test_question_words_months_and_weekdays_are_not_names_and_a_day_is_a_day():
    assert _kinds("When did the talks that began on Sunday, April 30 end?") == [("day", "04-30")]
    assert _kinds("What did the White House say on Monday?") == [("name", "White House")]


def test_a_passage_about_another_year_does_not_meet_the_year():
    asked = question_constraints("Who won the 2019 final?")
    assert unmet_constraints(asked, "Nadal won the 2019 final in four sets.") == []
    assert unmet_constraints(asked, "Nadal won the 2018 final in four sets.") == asked
    # the article's publication year or title meets it too
    assert unmet_constraints(asked, "Nadal won the final.", published=date(2019, 6, 9)) == []
    assert unmet_constraints(asked, "Nadal won the final.", title="2019 French Open") == []
    assert unmet_constraints(asked, "Nadal won the final.", published=date(2018, 6, 10)) == asked
    # an undated passage that states no year is not known to be about another one
    assert unmet_constraints(asked, "Nadal won the final in four sets.") == []


def test_quarters_centuries_and_decades_are_met_by_what_states_them():
    q3 = question_constraints("What was revenue in the third quarter?")
    assert unmet_constraints(q3, "Third-quarter revenue rose 8%.") == []
    assert unmet_constraints(q3, "Revenue in Q3 rose 8%.") == []
    assert unmet_constraints(q3, "Second-quarter revenue rose 8%.") == q3
    tenth = question_constraints("What happened in the 10th century?")
    assert unmet_constraints(tenth, "The duchy began in 911 as a fiefdom.") == []
    assert unmet_constraints(tenth, "In the course of the 10th century, raids grew.") == []
    assert unmet_constraints(tenth, "In 1066 William conquered England.") == tenth
    eighties = question_constraints("What happened in the 880s?")
    assert unmet_constraints(eighties, "Settlers had begun arriving in the 880s.") == []
    assert unmet_constraints(eighties, "Settlers arrived in 885.") == []


def test_a_stated_day_is_met_by_the_same_day_and_does_not_filter_like_a_period():
    asked = question_constraints("Who hosted the November 7 talks?")
    assert not asked[0].temporal
    assert unmet_constraints(asked, "They met on Nov. 7 at Blair House.") == []
    assert unmet_constraints(asked, "They met on June 27 in Arlington.") == asked
    # a weekday resolved against the article's date counts
    assert unmet_constraints(asked, "They met on Monday.", published=date(2022, 11, 8)) == []
    # and so does the article's own date ("the report of November 7")
    assert unmet_constraints(asked, "They met.", published=date(2022, 11, 7)) == []


def test_names_match_word_forms_and_a_surname():
    asked = question_constraints("What did Serena Williams say about Azerbaijan?")
    assert unmet_constraints(asked, "Williams said the Azerbaijani side was ready.") == []
    assert [c.value for c in unmet_constraints(asked, "She said nothing.")] == [
        "Serena Williams", "Azerbaijan"]
