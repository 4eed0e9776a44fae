"""The verifier benchmark: its planted-error rules on fixed sentences, and a few stored answers
through the real verifier (the extractive pipeline; no model, the answers are stored)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from evals.bench_verifier import (  # noqa: E402 - after the sys.path line above
    DEFAULT_ANSWERS,
    is_abstention,
    load_answers,
    markdown_report,
    score_answers,
)
from evals.support_judge import SupportJudge, parse_verdict, with_calendar_days  # noqa: E402
from evals.verifier_mutations import (  # noqa: E402
    contains_token,
    mutate_date,
    mutate_meeting,
    mutate_name,
    mutate_negation,
    mutate_number,
    mutations_of,
    proper_names,
)

BLAIR = ("Blinken met Armenian Foreign Minister Ararat Mirzoyan and Azerbaijani Foreign Minister "
         "Ceyhun Bayramov on November 7 at Blair House [1].")
BLAIR_PASSAGE = ("Blinken met with Armenian Foreign Minister Ararat Mirzoyan and Azerbaijani Foreign "
                 "Minister Ceyhun Bayramov on November 7 at Blair House, a state guest house across "
                 "from the White House.")
NORMANS = ("The Normans were descended from Norse raiders from Denmark, Iceland and Norway in the "
           "10th and 11th centuries [2].")


def _changed_only_at(mutation, answer: str) -> None:
    """The mutated text is the answer with ``original`` (at ``start``) replaced, nothing else."""
    start = mutation.start
    assert answer[start:start + len(mutation.original)] == mutation.original
    rest = answer[start + len(mutation.original):]
    assert mutation.text.startswith(answer[:start])
    assert mutation.text.endswith(rest)
    assert mutation.planted in mutation.text[start:len(mutation.text) - len(rest)]
    assert not contains_token(answer, mutation.planted)


def test_a_wrong_date_moves_the_day_only():
    mutation = mutate_date(BLAIR)
    assert mutation.text == BLAIR.replace("November 7", "November 8")
    assert (mutation.original, mutation.planted) == ("November 7", "November 8")
    _changed_only_at(mutation, BLAIR)
    # A month's last day goes back a day; the year stays, and is not part of the planted text.
    end_of_june = mutate_date("They met on June 30, 2023 [1].")
    assert end_of_june.text == "They met on June 29, 2023 [1]."
    assert end_of_june.planted == "June 29"
    assert mutate_date("They met on Sunday [1].") is None


def test_a_wrong_number_changes_one_number_outside_dates_and_markers():
    mutation = mutate_number(NORMANS)
    # "11th" is already in the answer, so "10th" becomes "9th".
    assert mutation.text == NORMANS.replace("10th", "9th")
    _changed_only_at(mutation, NORMANS)
    assert mutate_number("About 2,000 troops were deployed on June 4 [3].").text == \
        "About 2,001 troops were deployed on June 4 [3]."
    assert mutate_number("It had three castles [1].").text == "It had four castles [1]."
    assert mutate_number(BLAIR) is None  # the 7 is a date's, the 1 a marker's


def test_a_wrong_name_comes_from_the_corpus_and_not_from_the_passages():
    names = ["Blinken", "Jake Sullivan", "Ned Price", "Dmitry Peskov", "Blair House"]
    mutation = mutate_name(BLAIR, names, BLAIR_PASSAGE, "Where did Blinken meet them?",
                           random.Random("case"))
    assert mutation.original == "Blinken"
    assert mutation.planted in {"Jake Sullivan", "Ned Price", "Dmitry Peskov"}
    assert mutation.text == BLAIR.replace("Blinken", mutation.planted, 1)
    _changed_only_at(mutation, BLAIR)
    # A name the passages do not hold is already unsupported: nothing to plant.
    assert mutate_name("Rollo met them [1].", names, BLAIR_PASSAGE, "", random.Random(1)) is None


def test_proper_names_are_capitalised_in_mid_sentence():
    text = "Following the talks, Jake Sullivan met Ned Price. Following that, Ned Price left."
    assert proper_names(text) == ["Ned Price", "Jake Sullivan"]


def test_a_negation_is_inserted_once():
    assert mutate_negation(NORMANS).text == NORMANS.replace("were", "were not")
    met = mutate_negation(BLAIR)
    assert met.text == BLAIR.replace("met", "did not meet")
    assert met.planted == "did not meet"
    _changed_only_at(met, BLAIR)
    assert mutate_negation("The Normans conquered England [1].").text == \
        "The Normans did not conquer England [1]."
    assert mutate_negation("The talks did not end [1].") is None  # it already negates


def test_the_meeting_swap_moves_the_month_or_the_place():
    mutation = mutate_meeting(BLAIR)
    assert mutation.text == BLAIR.replace("November 7", "June 7")
    assert mutation.planted == "June 7"
    place = mutate_meeting("The talks were held in Arlington, Virginia [1].")
    assert place.text == "The talks were held in Blair House, Virginia [1]."


def test_rules_that_do_not_apply_are_skipped_and_meetings_are_for_the_seeds():
    made, skipped = mutations_of("Rollo [1].", corpus="squad", passages_text="Rollo was a leader.",
                                 question="Who?", names=["Rollo", "William"], seed="x")
    assert [m.kind for m in made] == ["name"]
    assert skipped == ["date", "number", "negation"]


def test_abstentions_are_recognised():
    assert is_abstention("The articles don't say.")
    assert not is_abstention("The Normans came from Normandy [1].")


def test_judge_verdicts_are_parsed_and_never_raise():
    assert parse_verdict("SUPPORTED") == "supported"
    assert parse_verdict("NOT SUPPORTED.") == "not supported"
    assert parse_verdict("Unsupported") == "not supported"
    assert parse_verdict("SUPPORTED or NOT SUPPORTED") == "unparsable"
    assert parse_verdict("Yes, it does.") == "unparsable"

    class Broken:
        def complete(self, messages):
            raise RuntimeError("server down")

    verdict = SupportJudge(Broken(), REPO / "prompts").verdict("It rained.", "It rained.", "?")
    assert verdict.label == "unparsable" and "server down" in verdict.reply


def test_the_judge_reads_each_weekday_with_the_day_it_means():
    """In a report of Thursday, May 4, 2023, "Monday" is May 1 and "Thursday" the day itself;
    with no publication date the quote is shown as it is."""
    from datetime import date

    quote = "Early Monday, Blinken met them; the talks end Thursday."
    assert with_calendar_days(quote, date(2023, 5, 4)) == (
        "Early Monday [May 1, 2023], Blinken met them; the talks end Thursday [May 4, 2023].")
    assert with_calendar_days(quote, None) == quote


@pytest.mark.skipif(not DEFAULT_ANSWERS.exists(), reason="no stored answers")
def test_stored_answers_run_through_the_real_verifier(tmp_path):
    stored = [a for a in load_answers() if a.usable and a.corpus == "seeds"][:3]
    assert stored, "verifier_answers.jsonl holds no usable seed answers"
    result = score_answers(stored, squad_path=None, workdir=tmp_path)
    assert [k.answer.id for k in result.keeps] == [a.id for a in stored]
    # Retrieval may have changed since the answers were written; the report names those
    # answers (regenerating takes the model an hour), so drift is not a failure here.
    assert result.rejects, "no planted errors were made"
    for outcome in result.rejects:
        reached = outcome.how == "reached the user"
        assert outcome.rejected != reached
        if reached:
            assert contains_token(outcome.final_text, outcome.mutation.planted)
    report = markdown_report(result, stored)
    assert "## Keep rate" in report and "## Planted errors that got through" in report
