"""The eval suite: its metrics on small examples, its dataset loader on bad input, the frozen
dev/test split, the SQuAD adapter on a small hand-made file, and the gate — the test split and
the SQuAD slice on the extractive backend must meet evals/thresholds.json."""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from evals.citation_support import (  # noqa: E402 - after the sys.path line above
    Quote,
    citation_scores,
    split_statements,
    supports,
)
from evals.dataset import (  # noqa: E402
    Case,
    EvaluationReport,
    Outcome,
    ReportCase,
    Score,
    load_cases,
    percentile,
)
from evals.metrics import (  # noqa: E402
    contains_answer,
    date_match,
    exact_match,
    find_dates,
    locate_support,
    normalize_answer,
    retrieval_scores,
    token_f1,
)
from qa.answer import Answer, Citation  # noqa: E402
from qa.retrieval import Passage  # noqa: E402

DATASET = REPO / "evals" / "questions.jsonl"
MAY_4_2023 = date(2023, 5, 4)  # a Thursday


# --- answer matching ------------------------------------------------------------------------
def test_normalization_follows_squad():
    assert normalize_answer("The  Blair House!") == "blair house"
    assert normalize_answer("“Courageous steps” [1]") == "courageous steps"
    assert normalize_answer("30,000") == "30000"


def test_exact_match_takes_the_best_accepted_answer():
    assert exact_match("Antony Blinken. [1]", ["Anthony Blinken", "Antony Blinken"]).value == 1.0
    assert exact_match("Blinken met them", ["Blinken"]).value == 0.0


def test_token_f1():
    assert token_f1("Ned Price", ["Price", "Ned Price"]).value == pytest.approx(1.0)
    assert token_f1("Price said it", ["Ned Price"]).value == pytest.approx(0.4)
    assert token_f1("nothing here", ["Ned Price"]).value == 0.0


def test_contains_answer_matches_whole_words_only():
    assert contains_answer("Blinken met them at Blair House. [1]", ["Blair House"]).value == 1.0
    assert contains_answer("on November 17", ["November 1", "7"]).value == 0.0
    assert contains_answer("an Iranian plane", ["Iran"]).value == 0.0
    assert contains_answer("It says so. [1]", ["1"]).value == 0.0  # markers are not answer text
    assert contains_answer("Mirzoyan’s working visit", ["Mirzoyan"]).value == 1.0  # a possessive


# --- dates ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "answer", ["Nov. 7", "7 November", "November 7th", "on November 7 [1]", "November 7, 2022"]
)
def test_date_forms_match_as_calendar_days(answer):
    assert date_match(answer, ["November 7"]).value == 1.0


def test_a_different_day_does_not_match():
    score = date_match("November 8 — Price said", ["November 7"])
    assert score.value == 0.0 and "November 8" in score.reason


def test_no_year_is_invented():
    (mention,) = find_dates("They met on November 7.")
    assert mention.year is None
    assert date_match("November 7, 2021", ["November 7, 2022"]).value == 0.0


def test_weekdays_resolve_against_the_cited_articles_date_only():
    assert date_match("The talks began on Sunday. [1]", ["April 30, 2023"], MAY_4_2023).value == 1.0
    # A weekday named on the publication day is that day ("expected to conclude Thursday").
    assert date_match("Thursday", ["May 4, 2023"], MAY_4_2023).value == 1.0
    assert date_match("The talks began on Sunday.", ["April 30, 2023"]).value == 0.0


def test_the_first_date_is_the_answer():
    assert (
        date_match("May 1, 2023 — after the call on April 30, 2023", ["April 30, 2023"]).value
        == 0.0
    )


def test_month_answers_and_non_date_golds():
    assert date_match("in April", ["April 2023", "April"]).value == 1.0
    assert date_match("in 2020", ["fall of 2020", "2020"]).value is None


# --- citations --------------------------------------------------------------------------------
def test_statements_end_at_marker_runs():
    statements = split_statements("Blinken met them [1]. Sullivan hosted them [2][3] and more text")
    assert [s.markers for s in statements] == [(1,), (2, 3), ()]
    assert statements[0].text == "Blinken met them"


def test_support_needs_the_dates_names_and_words_of_the_statement():
    quote = [Quote("Blinken met Mirzoyan and Bayramov on November 7 at Blair House.")]
    assert supports("Blinken met Mirzoyan on November 7 at Blair House", quote).value == 1.0
    assert supports("Blinken met Mirzoyan on November 8", quote).value == 0.0
    assert supports("Sullivan met Mirzoyan at Blair House", quote).value == 0.0
    assert supports("Blinken met 12 ministers at Blair House", quote).value == 0.0
    assert (
        supports("Blinken met Mirzoyan on November 7, 2022", quote).value == 0.0
    )  # year not quoted


def test_numbers_are_compared_whole():
    quote = [Quote("Moscow deployed about 2,000 troops to the region.")]
    assert supports("Moscow deployed 2,000 troops", quote).value == 1.0
    assert supports("Moscow deployed 2 troops", quote).value == 0.0


def test_a_bare_answer_must_cite_a_quote_about_the_question():
    quote = [Quote("Price said at the November 8 briefing that it was a very positive sign.")]
    assert (
        supports("November 8.", quote, "On what date did Peskov call for restraint?").value == 0.0
    )
    assert supports("November 8.", quote, "On what date did Price hold his briefing?").value == 1.0


def test_the_hand_checked_pairs_still_agree_with_the_test():
    from evals.run import support_check_agreement

    check = support_check_agreement()
    assert check["pairs"] == 30 and check["agreement"] >= 0.8, check


def test_a_weekday_in_the_quote_supports_its_resolved_date():
    quote = [Quote("Blinken called Aliyev on Sunday.", MAY_4_2023)]
    assert supports("Blinken called Aliyev on April 30, 2023", quote).value == 1.0


def _citation(marker: int, quote: str, published: date | None = None) -> Citation:
    return Citation(marker, "a1", "title", published, quote, 0, len(quote))


def test_alce_precision_drops_a_redundant_citation():
    answer = Answer(
        "q",
        "Blinken met Mirzoyan at Blair House. [1][2]",
        [
            _citation(1, "Blinken met Mirzoyan at Blair House."),
            _citation(2, "The weather was fine."),
        ],
    )
    scores = citation_scores(answer)
    assert scores["citation_recall"].value == 1.0
    assert scores["citation_precision"].value == 0.5
    assert "redundant" in scores["citation_precision"].reason


def test_alce_recall_counts_uncited_statements():
    answer = Answer(
        "q",
        "Blinken met Mirzoyan. [1] He also met Sullivan in Paris.",
        [_citation(1, "Blinken met Mirzoyan.")],
    )
    assert citation_scores(answer)["citation_recall"].value == 0.5


def test_abstentions_have_no_citation_scores():
    scores = citation_scores(Answer("q", "The articles don't say.", [], abstained=True))
    assert scores["citation_recall"].value is None and scores["citation_precision"].value is None


# --- retrieval --------------------------------------------------------------------------------
def _passage(article_id: str, start: int, end: int) -> Passage:
    return Passage(
        f"{article_id}#{start}", article_id, "t", None, "x" * (end - start), start, end, 0.0
    )


def test_hit_at_k_and_mrr_use_the_gold_sentence():
    body = "First sentence here. The gold sentence is this one. Last one."
    spans, missing = locate_support(["The gold sentence is this one."], ["a1"], {"a1": body})
    assert not missing
    passages = [_passage("a2", 0, 40), _passage("a1", 0, 20), _passage("a1", 21, 62)]
    scores = retrieval_scores(passages, spans, ["a1"])
    assert (scores["hit@1"].value, scores["hit@3"].value, scores["mrr"].value) == (
        0.0,
        1.0,
        pytest.approx(1 / 3),
    )
    assert scores["article_mrr"].value == 0.5


def test_every_gold_support_sentence_is_in_its_articles():
    from qa.corpus import load_articles

    articles, _ = load_articles([REPO / "seeds"])
    bodies = {a.article_id: a.body for a in articles}
    cases, problems = load_cases(DATASET)
    assert not problems
    for case in cases:
        _, missing = locate_support(case.support, case.article_ids, bodies)
        assert not missing, f"{case.id}: not verbatim in {case.article_ids}: {missing}"


# --- the dataset loader -----------------------------------------------------------------------
def test_malformed_lines_are_reported_with_their_line_numbers(tmp_path):
    good = {
        "id": "ok",
        "question": "Who?",
        "answers": ["Blinken"],
        "answer_type": "person",
        "category": "c",
        "article_ids": ["a"],
        "support": ["Blinken met."],
        "answerable": True,
        "split": "dev",
        "history": [],
    }
    without_split = {k: v for k, v in good.items() if k != "split"}
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps({**good, "id": "no-question", "question": None}),
        "",
        json.dumps([1, 2]),
        json.dumps({**good, "id": "answerless", "answers": []}),
        json.dumps(good),  # duplicate id
        json.dumps({**good, "id": "ok2", "surprise": 1}),
        json.dumps({**good, "id": "ok3"}),
        json.dumps({**good, "id": "bad-split", "split": "train"}),
        json.dumps({**without_split, "id": "no-split"}),
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cases, problems = load_cases(path)
    assert [c.id for c in cases] == ["ok", "ok3"]
    assert [c.line for c in cases] == [1, 9]
    assert [p.line for p in problems] == [2, 3, 5, 6, 7, 8, 10, 11]
    assert "not valid JSON" in problems[0].message
    assert "question" in problems[1].message
    assert "duplicate id 'ok'" in problems[4].message
    assert "surprise" in problems[5].message
    assert problems[6].message.startswith("split:") and "'dev' or 'test'" in problems[6].message
    assert problems[7].message == "split: Field required"


# --- the frozen dev/test split ----------------------------------------------------------------
# Pinned on purpose: a change to the test split (a question moved, added or dropped) must fail
# here and be a deliberate decision, never a side effect. See evals/README.md.
TEST_SPLIT_SIZE = 75
TEST_SPLIT_SHA256 = "dd7032d4f2ee92c216307c98ee8adba0ed993a920c3f7711448bfa0ee2457277"


def test_the_test_split_is_frozen():
    cases, problems = load_cases(DATASET)
    assert not problems
    test_ids = sorted(case.id for case in cases if case.split == "test")
    digest = hashlib.sha256("\n".join(test_ids).encode("utf-8")).hexdigest()
    assert (len(test_ids), digest) == (TEST_SPLIT_SIZE, TEST_SPLIT_SHA256)
    assert {case.split for case in cases} == {"dev", "test"}


def test_the_split_is_the_one_its_procedure_draws():
    from evals.split import FROZEN_QUESTIONS, draw_split

    records = [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines()]
    drawn = draw_split(records[:FROZEN_QUESTIONS])
    assert {r["id"]: r["split"] for r in records[:FROZEN_QUESTIONS]} == drawn
    assert all(r["split"] == "dev" for r in records[FROZEN_QUESTIONS:])  # later ones: dev only
    # Stratified: in every (category, answerable) stratum the two sides differ by at most one.
    for key in {(r["category"], r["answerable"]) for r in records}:
        sides = [r["split"] for r in records if (r["category"], r["answerable"]) == key]
        assert abs(sides.count("dev") - sides.count("test")) <= 1, key


def test_percentile_interpolates():
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 95) == 5.0
    assert percentile([], 50) is None


# --- the SQuAD adapter ------------------------------------------------------------------------
BELL_ROCK = (
    "The Bell Rock Lighthouse stands eleven miles off the coast of Angus, Scotland. It was "
    "built between 1807 and 1810 by the engineer Robert Stevenson. Its light shines 28 metres "
    "above the sea."
)
EDDYSTONE = (
    "The Eddystone Lighthouse stands on the Eddystone Rocks, south of Plymouth. The present "
    "tower, designed by James Douglass, was first lit in 1882."
)


def _question(qid: str, question: str, answers: list[str], context: str) -> dict:
    return {
        "id": qid,
        "question": question,
        "answers": [{"text": a, "answer_start": context.find(a)} for a in answers],
        "is_impossible": not answers,
    }


def write_tiny_squad(folder: Path) -> Path:
    """A SQuAD 2.0 file in the real format: two good paragraphs, one with bad entries, and one
    paragraph with no context."""
    data = {
        "version": "v2.0",
        "data": [
            {
                "title": "Scottish_lighthouses",
                "paragraphs": [
                    {
                        "context": BELL_ROCK,
                        "qas": [
                            _question(
                                "bell-builder",
                                "Who built the Bell Rock Lighthouse?",
                                ["Robert Stevenson", "the engineer Robert Stevenson"],
                                BELL_ROCK,
                            ),
                            {
                                **_question(
                                    "bell-keeper",
                                    "What was the name of the first keeper's dog at the "
                                    "Bell Rock Lighthouse?",
                                    [],
                                    BELL_ROCK,
                                ),
                                "plausible_answers": [{"text": "Angus", "answer_start": 61}],
                            },
                        ],
                    },
                    {
                        "context": EDDYSTONE,
                        "qas": [
                            _question(
                                "eddy-designer",
                                "Who designed the present Eddystone tower?",
                                ["James Douglass"],
                                EDDYSTONE,
                            ),
                            {"id": "no-question", "answers": [], "is_impossible": True},
                            {
                                **_question("bad-flag", "When was it lit?", ["1882"], EDDYSTONE),
                                "is_impossible": "no",
                            },
                            {
                                **_question("textless", "Where is it?", [], EDDYSTONE),
                                "answers": [{"answer_start": 3}],
                                "is_impossible": False,
                            },
                            {
                                **_question("elsewhere", "Who lit it?", [], EDDYSTONE),
                                "answers": [{"text": "Trinity House", "answer_start": 12}],
                                "is_impossible": False,
                            },
                        ],
                    },
                    {"qas": [_question("orphan", "Who?", [], "")]},
                ],
            }
        ],
    }
    path = folder / "tiny-squad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_squad_file_becomes_articles_and_cases(tmp_path):
    from evals.squad import load_squad, write_articles
    from qa.corpus import load_articles

    squad = load_squad(write_tiny_squad(tmp_path))
    assert [p.article_id for p in squad.paragraphs] == [
        "scottish-lighthouses-p00",
        "scottish-lighthouses-p01",
    ]
    write_articles(squad.paragraphs, tmp_path / "articles")
    articles, problems = load_articles([tmp_path / "articles"])
    assert not problems
    first = articles[0]
    assert (first.title, first.published, first.body) == (
        "Scottish lighthouses (paragraph 1)",
        None,
        BELL_ROCK,
    )
    by_id = {case.id: case for case in squad.cases}
    assert list(by_id) == ["bell-builder", "bell-keeper", "eddy-designer"]
    builder = by_id["bell-builder"]
    assert builder.answerable and builder.split == "test"
    assert builder.answers == ("Robert Stevenson", "the engineer Robert Stevenson")
    assert builder.support == (
        "It was built between 1807 and 1810 by the engineer Robert Stevenson.",
    )
    assert builder.article_ids == ("scottish-lighthouses-p00",)
    keeper = by_id["bell-keeper"]
    assert not keeper.answerable and keeper.answers == () and keeper.support == ()


def test_malformed_squad_entries_are_named_by_index_and_field(tmp_path):
    from evals.squad import load_squad

    problems = load_squad(write_tiny_squad(tmp_path)).problems
    where = [(p.paragraph, p.question, p.field) for p in problems]
    assert where == [
        (1, 1, "question"),
        (1, 2, "is_impossible"),
        (1, 3, "answers[0].text"),
        (1, 4, "answers[0].text"),
        (2, None, "context"),
    ]
    assert str(problems[0]) == (
        "paragraph 1 (scottish-lighthouses-p01), question 1, field 'question': Field required"
    )
    assert "'Trinity House' is not in the paragraph" in problems[3].message
    assert "paragraph skipped" in problems[4].message

    broken = tmp_path / "broken.json"
    broken.write_text('{"data": [', encoding="utf-8")
    (problem,) = load_squad(broken).problems
    assert problem.where == "file" and "not valid JSON" in problem.message


def test_the_squad_rule_is_case_insensitive_containment():
    from evals.squad import squad_contains

    assert squad_contains("It was built by ROBERT  Stevenson. [1]", ("Robert Stevenson",)).value
    assert not squad_contains("It was built in 1807. [1]", ("Robert Stevenson", "1810")).value


def test_a_real_extractive_run_on_a_squad_file(tmp_path):
    from evals.run import run_squad
    from evals.squad import squad_summary

    section = run_squad(write_tiny_squad(tmp_path), ["extractive"])
    assert section.skipped is None and section.paragraphs == 2 and section.questions == 3
    assert len(section.problems) == 5
    report = section.run("extractive").report
    scored = {item.case.id: item for item in report.cases}
    builder, keeper, designer = (scored[i] for i in ("bell-builder", "bell-keeper", "eddy-designer"))
    assert "Robert Stevenson" in builder.outcome.answer.text
    assert builder.value("answerable_accuracy") == 1.0 and builder.value("false_abstention") == 0
    assert designer.value("answerable_accuracy") == 1.0
    assert builder.outcome.answer.citations[0].article_id == "scottish-lighthouses-p00"
    assert keeper.outcome.answer.abstained and keeper.value("abstention_recall") == 1.0
    assert keeper.value("answerable_accuracy") is None
    values = squad_summary(report)
    assert values["answerable_accuracy"] == (1.0, 2)
    assert values["false_abstention"] == (0.0, 2)
    assert values["abstention_recall"] == (1.0, 1)
    assert values["abstention_precision"] == (1.0, 1)
    assert values["hit@5"] == (1.0, 2)
    assert values["latency_p50"][1] == 3


def test_a_news_set_in_rgbs_format_is_asked_and_scored(tmp_path, capsys):
    # Made up here in RGB's line format: snippets that answer, and distractors from other years.
    from evals.news_set import main

    lines = [
        {"id": 0, "query": "Who won the 2019 Harbour Regatta?", "answer": "Mira Castell",
         "positive": ["Jul 9, 2019 ... Mira Castell won the 2019 Harbour Regatta after a close "
                      "final race against the defending champion."],
         "negative": ["Jul 12, 2018 ... Tomas Brenner won the 2018 Harbour Regatta in strong "
                      "winds off the northern pier."]},
        {"id": 1, "query": "When did the Harbour Museum reopen?",
         "answer": [["March 3, 2021", "3 March 2021"]],
         "positive": ["The Harbour Museum reopened on 3 March 2021 after two years of repairs "
                      "to its roof and galleries."],
         "negative": ["The museum shop sells maps of the harbour and postcards of old ships."]},
        {"id": 2, "query": "Where is the regatta held?", "answer": 7, "positive": [], "negative": []},
    ]
    data = tmp_path / "news.jsonl"
    data.write_text("\n".join(json.dumps(line) for line in lines) + "\n{not json\n")
    out = tmp_path / "answers.json"
    assert main([str(data), "--half", "all", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["articles"] == 4 and report["questions"] == 2
    assert [(r["id"], r["half"], r["right"]) for r in report["results"]] == [
        (0, "dev", True), (1, "test", True)]
    assert [r["answer_at"] for r in report["results"]] == [1, 1]  # the library holds 4 snippets
    assert report["answer_in_passages"] == {"1": 1.0, "3": 1.0, "5": 1.0, "10": 1.0, "20": 1.0}
    assert [r["answer_read_at"] for r in report["results"]] == [1, 1]
    assert report["answer_in_passages_read"] == 1.0
    assert report["problems"] == ["news.jsonl line 3: field 'answer' must be a string, a list "
                                  "of strings or a list of lists",
                                  "news.jsonl line 4: Expecting property name enclosed in double "
                                  "quotes: line 1 column 2 (char 1)"]
    assert "skipped: news.jsonl line 3" in capsys.readouterr().err
    assert main([str(data), "--out", str(out)]) == 0  # the dev half: even ids
    assert [r["id"] for r in json.loads(out.read_text())["results"]] == [0]
    assert main([str(tmp_path / "missing.jsonl")]) == 2


def test_a_news_answer_needs_every_part_in_one_of_its_forms():
    from evals.news_set import is_right

    assert is_right("Mira  CASTELL won. [1]", (("Mira Castell",),))
    assert is_right("From 3 March 2021 to May 4, 2021.", (("March 3, 2021", "3 March 2021"),
                                                         ("May 4, 2021",)))
    assert not is_right("From 3 March 2021.", (("3 March 2021",), ("May 4, 2021",)))


def test_a_missing_squad_file_is_one_line_not_a_crash(seed_index_dir, tmp_path, capsys):
    from evals.run import main

    absent = tmp_path / "nowhere" / "dev-v2.0-normans.json"
    code = main(
        [
            "--split", "test", "--limit", "2", "--data-dir", str(seed_index_dir),
            "--out", str(tmp_path / "out"), "--quiet", "--no-peer", "--squad", str(absent),
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert f"SQuAD section skipped: no SQuAD file at {absent}" in printed
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["squad"]["skipped"].startswith("no SQuAD file at")
    # --split test asked only test questions, and the report says so.
    extractive = report["backends"]["extractive"]
    assert [case["split"] for case in extractive["cases"]] == ["test", "test"]
    assert list(extractive["splits"]) == ["test"]


# --- reports ----------------------------------------------------------------------------------
def _tiny_report() -> EvaluationReport:
    case = Case(
        id="c1",
        question="Who hosted the talks?",
        answers=("Blinken",),
        answer_type="person",
        category="who",
        article_ids=("a1",),
        support=("Blinken hosted.",),
        answerable=True,
        split="test",
        line=4,
    )
    answer = Answer(
        "Who hosted the talks?", "Sullivan hosted. [1]", [_citation(1, "Sullivan hosted.")]
    )
    outcome = Outcome(answer, [_passage("a1", 0, 15)], 0.25, None, "Who hosted the talks?")
    scores = {"accuracy": Score(0.0, "contains none of 'Blinken'"), "hit@5": Score(1.0, "rank 1")}
    return EvaluationReport("extractive", [ReportCase(case, outcome, scores)])


def test_markdown_report_lists_each_failure_with_its_passages(tmp_path):
    from evals.report import BackendRun, RunResult, accuracy_chart_svg, write_markdown

    result = RunResult(
        "questions.jsonl",
        [BackendRun("extractive", _tiny_report(), seconds=1.0)],
        bodies={"a1": "Blinken hosted."},
    )
    write_markdown(result, tmp_path / "report.md", "chart.svg")
    text = (tmp_path / "report.md").read_text()
    assert "`c1`" in text and "Who hosted the talks?" in text and "Sullivan hosted." in text
    assert "a1#0" in text and "contains none of 'Blinken'" in text
    svg = accuracy_chart_svg(result.runs)
    assert svg.startswith("<svg") and "who" in svg


def test_judge_failures_are_reported_not_raised():
    from evals.dataset import EvaluatorContext
    from evals.judge import JudgeFaithfulness, judge_llm

    llm = judge_llm("http://127.0.0.1:9/v1", "judge")  # nothing listens on port 9
    llm.max_retries = 0
    case = _tiny_report().cases[0]
    score = JudgeFaithfulness(llm).evaluate(EvaluatorContext(case.case, case.outcome))
    assert score["judge_faithfulness"].value is None
    assert "judge failed" in score["judge_faithfulness"].reason


@pytest.mark.slow
def test_a_judge_verdict_without_a_score_line_is_unparsable_not_an_error():
    from evals.judge import parse_verdict

    assert parse_verdict("4.5\nThe answer matches.") == (4.5, "The answer matches.")
    assert parse_verdict("The answer is correct.") == (None, "The answer is correct.")
    assert parse_verdict("  ") == (None, "no reply")


def test_the_judge_tier_asks_a_real_server(llama_server):
    from evals.dataset import EvaluatorContext
    from evals.judge import judge_evaluators

    case = _tiny_report().cases[0]
    scores = {}
    for evaluator in judge_evaluators(llama_server, "smollm2"):
        scores.update(evaluator.evaluate(EvaluatorContext(case.case, case.outcome)))
    # SmolLM2 is too small to judge well; what must hold is that each judge was asked and its
    # reply became a score or an "unparsable verdict", not an error.
    assert set(scores) == {"judge_faithfulness", "judge_correctness"}
    for score in scores.values():
        assert "judge failed" not in score.reason
        assert score.value is not None or score.reason.startswith("unparsable verdict")


# --- the gate: the whole eval on the extractive backend -----------------------------------------
@pytest.fixture(scope="module")
def extractive_result(seed_index_dir):
    """Every gold question and the SQuAD slice (read from <repo>/../shared/datasets/) on the
    extractive backend."""
    from evals.run import run_eval

    with pytest.MonkeyPatch.context() as patch:
        import os

        for name in list(os.environ):
            if name.startswith(("QA_", "OPENAI_")):
                patch.delenv(name)
        return run_eval(["extractive"], DATASET, data_dir=seed_index_dir, peer=False)


def test_the_extractive_backend_meets_the_thresholds(extractive_result):
    from evals.report import summary
    from evals.run import check_thresholds, load_thresholds
    from evals.squad import squad_summary

    thresholds = load_thresholds()
    gates = {(g["corpus"], g["split"]): set(g["minimums"]) for g in thresholds["gates"]}
    assert gates[("questions.jsonl", "test")] >= {
        "accuracy",
        "citation_precision",
        "abstention_recall",
        "hit@5",
    }
    assert gates[("squad2-dev-normans", "all")] >= {"answerable_accuracy", "abstention_recall"}
    failed = check_thresholds(extractive_result, thresholds)
    test_split = summary(extractive_result.run("extractive").report.for_split("test"))
    squad = extractive_result.squad.run("extractive")
    squad_values = squad_summary(squad.report) if squad and squad.report else {}
    measured = ", ".join(f"test {m}={v:.3f}" for m, v in test_split.items() if v is not None)
    measured += ", " + ", ".join(f"squad {m}={v:.3f}" for m, (v, _) in squad_values.items())
    assert not failed, f"below evals/thresholds.json: {failed}; measured: {measured}"


def test_the_gate_names_each_metric_below_its_minimum(extractive_result):
    from evals.run import check_thresholds

    gates = [
        {"corpus": "questions.jsonl", "split": "test", "minimums": {"accuracy": 1.01, "hit@5": 0}},
        {"corpus": "squad2-dev-normans", "split": "all", "minimums": {"abstention_recall": 1.01}},
    ]
    failed = check_thresholds(extractive_result, {"backend": "extractive", "gates": gates})
    assert len(failed) == 2
    assert failed[0].startswith("questions.jsonl/test: accuracy ")
    assert failed[1].startswith("squad2-dev-normans/all: abstention_recall ")
    (missing,) = check_thresholds(extractive_result, {"backend": "local", "gates": gates[:1]})
    assert missing.startswith("questions.jsonl/test: backend 'local' was not evaluated")


def test_every_case_is_scored(extractive_result):
    report = extractive_result.run("extractive").report
    cases, _ = load_cases(DATASET)
    assert len(report.cases) == len(cases) == 151
    assert (len(report.for_split("dev").cases), len(report.for_split("test").cases)) == (76, 75)
    assert all(c.outcome.error is None for c in report.cases)
    assert all("accuracy" in c.scores and "abstention_recall" in c.scores for c in report.cases)
    squad = extractive_result.squad
    assert squad.skipped is None and not squad.problems
    assert (squad.paragraphs, squad.questions) == (39, 208)
    squad_report = squad.run("extractive").report
    assert len(squad_report.cases) == 208
    assert all(c.outcome.error is None for c in squad_report.cases)


def test_the_command_line_writes_the_reports(seed_index_dir, tmp_path):
    from evals.run import main

    bad = tmp_path / "cases.jsonl"
    lines = DATASET.read_text(encoding="utf-8").splitlines()[:3]
    bad.write_text("\n".join([lines[0], "{broken", lines[1]]) + "\n", encoding="utf-8")
    out = tmp_path / "reports"
    squad = write_tiny_squad(tmp_path)
    code = main(
        [
            "--dataset",
            str(bad),
            "--data-dir",
            str(seed_index_dir),
            "--out",
            str(out),
            "--quiet",
            "--no-peer",
            "--squad",
            str(squad),
        ]
    )
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["dataset_problems"][0]["line"] == 2
    assert len(report["backends"]["extractive"]["cases"]) == 2
    markdown = (out / "report.md").read_text()
    assert "line 2: not valid JSON" in markdown
    assert (out / "accuracy_by_category.svg").exists()
    # The SQuAD section: its own metrics, the entries skipped, and the credit to its source.
    assert report["squad"]["backends"]["extractive"]["counts"]["answerable_accuracy"] == 2
    assert report["squad"]["problems"][0]["field"] == "question"
    assert "Rajpurkar, Jia and Liang" in markdown and "CC BY-SA 4.0" in markdown
    assert "field 'question': Field required" in markdown

    # Saved answers score the same when re-scored, without asking the backend again.
    again = tmp_path / "rescored"
    assert (
        main(
            [
                "--rescore",
                str(out / "report.json"),
                "--dataset",
                str(bad),
                "--out",
                str(again),
                "--quiet",
                "--squad",
                str(squad),
            ]
        )
        == 0
    )
    rescored = json.loads((again / "report.json").read_text())
    for section in (
        lambda r: r["backends"]["extractive"]["metrics"],
        lambda r: r["squad"]["backends"]["extractive"]["metrics"],
    ):
        first, second = section(report), section(rescored)
        assert {k: v for k, v in first.items() if not k.startswith("latency")} == {
            k: v for k, v in second.items() if not k.startswith("latency")
        }


def test_the_peer_check_agrees_with_our_retrieval_metrics(seed_index_dir):
    """llama-index's RetrieverEvaluator and our hit@5 score the same retrievals alike."""
    from evals.peer import compare_retrievers, retrieval_query
    from qa.assistant import Assistant
    from qa.corpus import load_articles

    cases = [c for c in load_cases(DATASET)[0] if c.answerable][:12]
    assistant = Assistant(data_dir=seed_index_dir, backend="extractive")
    peer = compare_retrievers(assistant, cases, assistant.settings.seeds_dir, top_k=5)
    assert set(peer.metrics) == {"qa hybrid (BM25 + vectors, RRF)", "llama-index VectorStoreIndex"}
    assert all(0.0 <= v <= 1.0 for m in peer.metrics.values() for v in m.values())

    bodies = {a.article_id: a.body for a in load_articles([assistant.settings.seeds_dir])[0]}
    hits = []
    for case in cases:
        spans, _ = locate_support(case.support, case.article_ids, bodies)
        passages = assistant.retrieve(retrieval_query(case), 5)
        hits.append(retrieval_scores(passages, spans, case.article_ids)["hit@5"].value)
    assert peer.metrics["qa hybrid (BM25 + vectors, RRF)"]["hit_rate"] == pytest.approx(
        sum(hits) / len(hits)
    )
