"""A second corpus: a SQuAD 2.0 file (its own JSON format) as articles and cases.

SQuAD 2.0 (Rajpurkar, Jia and Liang, "Know What You Don't Know: Unanswerable Questions for
SQuAD", ACL 2018; CC BY-SA 4.0) pairs Wikipedia paragraphs with questions, some of them
written to look answerable from the paragraph while it does not hold the answer
(``is_impossible``). No one on this project wrote them, so they measure answering and
abstention off our own question set.

Each paragraph becomes one article (id ``normans-p00``, title "Normans (paragraph 1)", no
publication date) and each question one ``Case`` (split "test": the corpus is held out
whole). Scoring as in SQuAD: an answerable question is right when the answer, citation
markers stripped, contains one of the gold ``answers[].text`` (case-insensitive); an
impossible one is right when the assistant abstains.

The data is read from ``<repo>/../shared/datasets/`` at evaluation time and never copied
into the repository.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evals.dataset import Case, EvaluationReport, EvaluatorContext, Score
from evals.metrics import strip_markers

__all__ = [
    "CREDIT",
    "SQUAD_CORPUS",
    "SQUAD_METRICS",
    "SquadAnswer",
    "SquadDataset",
    "SquadParagraph",
    "SquadProblem",
    "default_squad_path",
    "load_squad",
    "squad_contains",
    "squad_evaluators",
    "squad_summary",
    "write_articles",
]

SQUAD_CORPUS = "squad2-dev-normans"
"""The slice's name: its folder under shared/datasets/, and its name in thresholds.json."""

_SLICE = Path("shared") / "datasets" / SQUAD_CORPUS / "dev-v2.0-normans.json"

CREDIT = (
    "SQuAD 2.0 (Rajpurkar, Jia and Liang, “Know What You Don't Know: Unanswerable Questions "
    "for SQuAD”, ACL 2018), development set, article “Normans”; CC BY-SA 4.0 "
    "(paragraphs from Wikipedia)."
)

SQUAD_METRICS = (
    "answerable_accuracy",
    "false_abstention",
    "abstention_recall",
    "abstention_precision",
    "citation_precision",
    "citation_recall",
    "hit@5",
)


def default_squad_path(repo: Path | None = None) -> Path:
    """``<repo>/../shared/datasets/squad2-dev-normans/dev-v2.0-normans.json``.

    In a git worktree (``<repo>/.git`` is a file pointing into the main checkout's ``.git``)
    whose parent holds no ``shared/``, the main checkout's neighbour is used instead, so the
    same default works from every worktree of the project.
    """
    repo = repo or Path(__file__).resolve().parent.parent
    path = repo.parent / _SLICE
    git = repo / ".git"
    if path.exists() or not git.is_file():
        return path
    match = re.match(r"gitdir:\s*(.+)", git.read_text(encoding="utf-8").strip())
    if not match:
        return path
    # gitdir is <main>/.git/worktrees/<name>
    main_checkout = (repo / match.group(1)).resolve().parent.parent.parent
    fallback = main_checkout.parent / _SLICE
    return fallback if fallback.exists() else path


# --- reading the file -----------------------------------------------------------------------
@dataclass(frozen=True)
class SquadProblem:
    """An entry of the SQuAD file that could not be used: where (0-based indices, as in the
    file's ``data[a].paragraphs[p].qas[q]``), which field, and why."""

    where: str
    field: str
    message: str
    paragraph: int | None = None
    question: int | None = None

    def __str__(self) -> str:
        named = f", field {self.field!r}" if self.field else ""
        return f"{self.where}{named}: {self.message}"

    def to_dict(self) -> dict:
        return {
            "where": self.where,
            "paragraph": self.paragraph,
            "question": self.question,
            "field": self.field,
            "message": self.message,
        }


@dataclass(frozen=True)
class SquadParagraph:
    """One paragraph, to be written as one article."""

    article_id: str
    title: str
    context: str


@dataclass
class SquadDataset:
    """What a SQuAD file holds: its paragraphs (the articles), its questions (the cases) and
    the entries that were skipped."""

    path: str
    paragraphs: list[SquadParagraph] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    problems: list[SquadProblem] = field(default_factory=list)


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    text: str = Field(min_length=1)
    answer_start: int = Field(ge=0)


class _Question(BaseModel):
    # strict: a question marked "is_impossible": "false" is a bad entry, not a guess.
    model_config = ConfigDict(extra="ignore", strict=True)  # SQuAD 2.0 adds plausible_answers

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answers: list[_Answer]
    is_impossible: bool


def _field(loc: tuple) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "article"


def load_squad(path: str | Path) -> SquadDataset:
    """Read a SQuAD 2.0 JSON file. A malformed entry (a paragraph or a question with a
    missing or mistyped field) is returned as a problem naming its index and field, never
    raised, and the rest is still used."""
    from qa.sentences import sentence_spans

    dataset = SquadDataset(str(path))
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        dataset.problems.append(
            SquadProblem("file", "", f"not valid JSON ({exc.msg}, line {exc.lineno})")
        )
        return dataset
    articles = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(articles, list):
        dataset.problems.append(
            SquadProblem("file", "data", "expected a list of articles under 'data'")
        )
        return dataset
    seen: set[str] = set()
    for a, article in enumerate(articles):
        in_article = f"article {a}, " if len(articles) > 1 else ""
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            dataset.problems.append(
                SquadProblem(f"article {a}", "paragraphs", "expected a list of paragraphs")
            )
            continue
        title = article.get("title") if isinstance(article.get("title"), str) else f"article {a}"
        for p, paragraph in enumerate(article["paragraphs"]):
            article_id = f"{_slug(title)}-p{p:02d}"
            where = f"{in_article}paragraph {p} ({article_id})"
            context = paragraph.get("context") if isinstance(paragraph, dict) else None
            if not isinstance(context, str) or not context.strip():
                dataset.problems.append(
                    SquadProblem(where, "context", "missing or empty; paragraph skipped", p)
                )
                continue
            dataset.paragraphs.append(
                SquadParagraph(article_id, f"{title.replace('_', ' ')} (paragraph {p + 1})", context)
            )
            questions = paragraph.get("qas")
            if not isinstance(questions, list):
                dataset.problems.append(
                    SquadProblem(where, "qas", "expected a list of questions", p)
                )
                continue
            spans = sentence_spans(context)
            for q, entry in enumerate(questions):
                problem, case = _question_case(entry, context, spans, article_id, seen)
                if problem:
                    dataset.problems.append(
                        SquadProblem(f"{where}, question {q}", problem[0], problem[1], p, q)
                    )
                    continue
                seen.add(case.id)
                dataset.cases.append(case)
    return dataset


def _question_case(
    entry: object,
    context: str,
    spans: list[tuple[int, int]],
    article_id: str,
    seen: set[str],
) -> tuple[tuple[str, str] | None, Case | None]:
    """The case for one question entry, or (field, message) saying why it cannot be used."""
    if not isinstance(entry, dict):
        return ("", f"expected an object, got {type(entry).__name__}"), None
    try:
        question = _Question(**entry)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        return (_field(first["loc"]), first["msg"] + more), None
    if question.id in seen:
        return ("id", f"duplicate id {question.id!r}"), None
    if question.is_impossible and question.answers:
        return ("answers", "an is_impossible question must have no answers"), None
    if not question.is_impossible and not question.answers:
        return ("answers", "an answerable question needs at least one answer"), None
    support: dict[str, None] = {}
    for n, answer in enumerate(question.answers):
        start = answer.answer_start
        if context[start : start + len(answer.text)] != answer.text:
            start = context.find(answer.text)  # tolerate an offset that is off
        if start < 0:
            return (f"answers[{n}].text", f"{answer.text!r} is not in the paragraph"), None
        end = start + len(answer.text)
        for s, e in spans:
            if s < end and start < e:
                support[context[s:e].strip()] = None
    texts = tuple(dict.fromkeys(a.text for a in question.answers))
    case = Case(
        id=question.id,
        question=question.question,
        answers=texts,
        answer_type="none" if question.is_impossible else "other",
        category="impossible" if question.is_impossible else "answerable",
        article_ids=(article_id,),
        support=tuple(support),
        answerable=not question.is_impossible,
        split="test",
    )
    return None, case


def write_articles(paragraphs: list[SquadParagraph], folder: Path) -> None:
    """One article file per paragraph. HTML, because its <title> gives qa the article's title
    without putting a heading line into the body text (which could be quoted as an answer)."""
    folder.mkdir(parents=True, exist_ok=True)
    for paragraph in paragraphs:
        (folder / f"{paragraph.article_id}.html").write_text(
            f"<html><head><title>{html.escape(paragraph.title)}</title></head>"
            f"<body><p>{html.escape(paragraph.context.strip())}</p></body></html>\n",
            encoding="utf-8",
        )


# --- scoring --------------------------------------------------------------------------------
def squad_contains(prediction: str, answers: tuple[str, ...]) -> Score:
    """SQuAD's rule as SOURCE.md states it: the answer (markers stripped) contains a gold
    answer text, case-insensitively (whitespace runs count as one space)."""
    text = " ".join(strip_markers(prediction).split()).lower()
    for answer in answers:
        if " ".join(answer.split()).lower() in text:
            return Score(1.0, f"contains {answer!r}")
    shown = ", ".join(repr(a) for a in answers[:3])
    return Score(0.0, f"contains none of {shown}")


@dataclass
class SquadAnswer:
    """``answerable_accuracy`` (answered and contains a gold text) and ``false_abstention``
    (abstained), both on answerable questions only."""

    def evaluate(self, ctx: EvaluatorContext) -> dict[str, Score]:
        case, answer = ctx.case, ctx.outcome.answer
        if not case.answerable:
            reason = "is_impossible question"
            return {"answerable_accuracy": Score(None, reason), "false_abstention": Score(None, reason)}
        if answer is None:
            reason = f"no answer: {ctx.outcome.error}"
            return {"answerable_accuracy": Score(0.0, reason), "false_abstention": Score(None, reason)}
        if answer.abstained:
            return {
                "answerable_accuracy": Score(0.0, "abstained"),
                "false_abstention": Score(1.0, "abstained on an answerable question"),
            }
        return {
            "answerable_accuracy": squad_contains(answer.text, case.answers),
            "false_abstention": Score(0.0, "answered"),
        }


def squad_evaluators(bodies: dict[str, str]) -> list:
    """SQuAD's answer rule, abstention, our citation metrics and retrieval hits."""
    from evals.evaluators import Abstention, CitationQuality, RetrievalHits

    return [SquadAnswer(), Abstention(), CitationQuality(), RetrievalHits(bodies)]


def squad_summary(report: EvaluationReport) -> dict[str, tuple[float | None, int]]:
    """Each SQuAD metric as (value, n), with latency p50 / p95 (n: questions timed)."""
    averages = report.averages()
    values = {m: averages.get(m, (None, 0)) for m in SQUAD_METRICS}
    latency = report.latency_percentiles()
    timed = len(report.latencies())
    values["latency_p50"] = (latency["p50"], timed)
    values["latency_p95"] = (latency["p95"], timed)
    return values
