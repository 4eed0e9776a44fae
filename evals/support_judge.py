"""An independent citation grader: a local LLM judges whether a quote supports a statement.

``evals/citation_support.py`` grades citations with a lexical test much like the product's own
verifier, so the product is partly graded by itself. This judge shares nothing with the
verifier: a model (by default the GGUF file given, run by ``qa``'s local backend with its own
prompt, ``prompts/judge_support.txt``) answers SUPPORTED or NOT SUPPORTED for each
(question, quote, statement). A reply that is neither is the verdict "unparsable" (never an
exception); an unparsable verdict counts as not supporting in citation scores.

    python evals/support_judge.py --model /tmp/qwen/qwen1.5b.gguf [--threads 2]

checks the judge against the hand-labelled pairs (``citation_support_check.jsonl``) and prints
its agreement next to the lexical test's and the product verifier's
(``qa.verification.check_sentence``) on the same pairs; the report goes to
``evals/reports/support_judge.md``.

    python evals/support_judge.py --model /tmp/qwen/qwen1.5b.gguf --rescore evals/reports/report.json

scores the citations of the answers saved by ``evals/run.py`` with the judge (and, for
comparison, the lexical test), per backend. As an evaluator, ``JudgedCitationQuality(judge)``
scores ALCE citation recall and precision with the judge as the support test
(``judge_citation_recall`` / ``judge_citation_precision``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``evals`` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.citation_support import Quote, citation_scores, supports
from evals.dataset import EvaluatorContext, Score

__all__ = [
    "JUDGE_PROMPT",
    "JudgedCitationQuality",
    "PairVerdicts",
    "SupportJudge",
    "Verdict",
    "agreement_report",
    "judge_pairs",
    "local_judge",
    "main",
    "parse_verdict",
    "rescore_citations",
    "verifier_supports",
]

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_PAIRS = EVALS_DIR / "citation_support_check.jsonl"
DEFAULT_REPORT = EVALS_DIR / "reports" / "support_judge.md"
DEFAULT_CACHE = EVALS_DIR / "reports" / "support_judge_cache.jsonl"
JUDGE_PROMPT = "judge_support"
SUPPORTED, NOT_SUPPORTED, UNPARSABLE = "supported", "not supported", "unparsable"
_LABEL = re.compile(r"\b(NOT[\s_-]+SUPPORTED|UNSUPPORTED|SUPPORTED)\b", re.IGNORECASE)
_MARKERS = re.compile(r"\s*\[\d{1,3}\]")


@dataclass(frozen=True)
class Verdict:
    """The judge's verdict on one (statement, quote) pair and the reply it was read from."""

    label: str  # supported | not supported | unparsable
    reply: str

    @property
    def supported(self) -> bool:
        return self.label == SUPPORTED


_WEEKDAY = re.compile(r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def with_calendar_days(quote: str, published: date | None) -> str:
    """The quote with the calendar day after each weekday it names ("on Monday" in a report of
    Thursday, May 4, 2023: "on Monday [May 1, 2023]"): the latest such day on or before the
    publication date, the convention news reports follow. A 1.5B judge cannot count back days
    itself (it rejected every quote whose weekday the statement wrote out as a date), so the
    calendar is done here, with this module's own arithmetic rather than the product's."""
    if published is None:
        return quote

    def dated(match: re.Match) -> str:
        back = (published.weekday() - _WEEKDAYS.index(match.group(1))) % 7
        day = published - timedelta(days=back)
        return f"{match.group(1)} [{day:%B} {day.day}, {day.year}]"

    return _WEEKDAY.sub(dated, quote)


def parse_verdict(reply: str) -> str:
    """SUPPORTED / NOT SUPPORTED (or UNSUPPORTED) in the reply; "unparsable" when it holds
    neither, or both kinds (a reply that repeats the instructions)."""
    found = {_normal(m.group(1)) for m in _LABEL.finditer(reply or "")}
    return found.pop() if len(found) == 1 else UNPARSABLE


def _normal(label: str) -> str:
    return SUPPORTED if label.upper() == "SUPPORTED" else NOT_SUPPORTED


@dataclass
class SupportJudge:
    """Asks a chat model (any ``qa`` text generator) whether quotes support a statement.

    With ``cache`` (a JSONL file), verdicts are kept by model and exact prompt, so a re-run
    (or a run that was stopped) asks the model only what it has not answered yet.
    """

    generator: Any  # qa.backends.base.TextGenerator
    prompts_dir: Path
    model_id: str = ""
    cache: Path | None = None
    calls: int = 0
    _cached: dict[str, str] | None = field(default=None, repr=False)

    def verdict(self, statement: str, quote: str, question: str = "",
                published: date | None = None) -> Verdict:
        from qa.resources import load_prompt

        prompt = load_prompt(self.prompts_dir, JUDGE_PROMPT).format(
            question=question or "(none)", quote=with_calendar_days(" ".join(quote.split()), published),
            published=published.isoformat() if published else "unknown",
            statement=_MARKERS.sub("", statement).strip()).strip()
        key = hashlib.sha256(f"{self.model_id}\n{prompt}".encode()).hexdigest()[:24]
        cached = self._load_cache().get(key)
        if cached is not None:
            return Verdict(parse_verdict(cached), cached)
        self.calls += 1
        try:
            reply = self.generator.complete([{"role": "user", "content": prompt}]).strip()
        except Exception as exc:  # noqa: BLE001 - a failed call is a verdict, not a crash
            return Verdict(UNPARSABLE, f"judge failed: {type(exc).__name__}: {exc}")
        self._store(key, reply)
        return Verdict(parse_verdict(reply), reply)

    def supports(self, statement: str, quotes: Sequence[Quote], question: str = "") -> Score:
        """The judge's verdict in the shape of ``evals.citation_support.supports`` (several
        quotes are shown as one, with the first dated quote's publication date)."""
        if not quotes:
            return Score(0.0, "no citation")
        published = next((q.published for q in quotes if q.published), None)
        verdict = self.verdict(statement, "\n\n".join(q.text for q in quotes), question,
                               published)
        return Score(float(verdict.supported), f"judge: {verdict.label} ({verdict.reply[:80]!r})")

    def _load_cache(self) -> dict[str, str]:
        if self._cached is None:
            self._cached = {}
            if self.cache is not None and self.cache.exists():
                for line in self.cache.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        record = json.loads(line)
                        self._cached[record["key"]] = record["reply"]
        return self._cached

    def _store(self, key: str, reply: str) -> None:
        self._load_cache()[key] = reply
        if self.cache is not None:
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            with open(self.cache, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({"key": key, "model": self.model_id, "reply": reply}) + "\n")


def local_judge(model_path: Path, threads: int = 0, context_tokens: int = 2048,
                cache: Path | None = None) -> SupportJudge:
    """A judge run by ``qa``'s local backend on ``model_path`` (a GGUF file), greedy."""
    from qa.backends.local import LocalGenerator
    from qa.settings import load_settings

    settings = load_settings(local_model_path=model_path, local_threads=threads,
                             local_context_tokens=context_tokens, max_answer_tokens=16,
                             temperature=0.0)
    model_id = f"{model_path.name}:{model_path.stat().st_size}"
    return SupportJudge(LocalGenerator(settings), settings.prompts_dir, model_id, cache)


@dataclass
class JudgedCitationQuality:
    """ALCE citation recall and precision with the LLM judge as the support test."""

    judge: SupportJudge

    def evaluate(self, ctx: EvaluatorContext) -> dict[str, Score]:
        answer = ctx.outcome.answer
        if answer is None:
            reason = f"no answer: {ctx.outcome.error}"
            return {"judge_citation_recall": Score(None, reason),
                    "judge_citation_precision": Score(None, reason)}
        scores = citation_scores(answer, support=self.judge.supports)
        return {f"judge_{name}": score for name, score in scores.items()}


# --- agreement with the hand labels -----------------------------------------------------------
def _load_pairs(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def _published(pair: dict) -> date | None:
    return date.fromisoformat(pair["published"]) if pair.get("published") else None


def verifier_supports(pairs: Sequence[dict]) -> list[tuple[bool, str]]:
    """The product verifier (``check_sentence``) on each pair: the quote as the one cited
    passage. (supported, its problems)."""
    from qa.embedding import MiniLMEmbedding
    from qa.evidence import profile_question
    from qa.retrieval import Passage
    from qa.verification import check_sentence

    embed = MiniLMEmbedding()
    results = []
    for number, pair in enumerate(pairs):
        quote = pair["quote"]
        passage = Passage(f"pair-{number}", pair.get("case_id", "pair"), "", _published(pair),
                          quote, 0, len(quote), 1.0)
        question = pair.get("question", "")
        check = check_sentence(_MARKERS.sub("", pair["statement"]).strip(), [1], [passage], [],
                               question, embed.embed, profile_question(question).constraints)
        results.append((check.supported, "; ".join(check.problems) or
                        f"similarity {check.semantic_support:.2f}"))
    return results


@dataclass
class PairVerdicts:
    """Every grader's verdict on every hand-labelled pair."""

    pairs: list[dict]
    judge: list[Verdict]
    lexical: list[tuple[bool, str]]
    verifier: list[tuple[bool, str]]
    judge_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def judge_pairs(judge: SupportJudge | None, pairs: Sequence[dict], log=None) -> PairVerdicts:
    """Run the judge (when given), the lexical eval test and the product verifier on ``pairs``."""
    verdicts: list[Verdict] = []
    started = time.perf_counter()
    for number, pair in enumerate(pairs, start=1):
        if judge is None:
            break
        verdict = judge.verdict(pair["statement"], pair["quote"], pair.get("question", ""),
                                _published(pair))
        verdicts.append(verdict)
        if log:
            log(f"{number}/{len(pairs)} {pair.get('pair_id', '')}: {verdict.label} "
                f"(hand: {'supported' if pair['hand_label'] else 'not supported'}) "
                f"{verdict.reply[:60]!r}")
    seconds = time.perf_counter() - started
    lexical = []
    for pair in pairs:
        score = supports(pair["statement"], [Quote(pair["quote"], _published(pair))],
                         pair.get("question", ""))
        lexical.append((bool(score.value), score.reason))
    return PairVerdicts(list(pairs), verdicts, lexical, verifier_supports(pairs), seconds)


def _agreement(labels: Sequence[bool], hand: Sequence[bool]) -> dict[str, int]:
    return {
        "agree": sum(a == h for a, h in zip(labels, hand)),
        "true_supported": sum(a and h for a, h in zip(labels, hand)),
        "false_supported": sum(a and not h for a, h in zip(labels, hand)),
        "false_rejected": sum(not a and h for a, h in zip(labels, hand)),
        "true_rejected": sum(not a and not h for a, h in zip(labels, hand)),
    }


def agreement_report(result: PairVerdicts, model: str = "") -> str:
    """Markdown: agreement of each grader with the hand labels, then every disagreement."""
    hand = [bool(p["hand_label"]) for p in result.pairs]
    rows = []
    if result.judge:
        judged = [v.supported for v in result.judge]
        unparsable = sum(v.label == UNPARSABLE for v in result.judge)
        rows.append((f"LLM judge ({model})" if model else "LLM judge", judged, unparsable))
    rows.append(("lexical test (evals/citation_support.py)", [s for s, _ in result.lexical], 0))
    rows.append(("product verifier (qa.verification.check_sentence)",
                 [s for s, _ in result.verifier], 0))
    n = len(hand)
    lines = ["# Citation support: graders against the hand labels", "",
             f"{n} hand-labelled (statement, quote) pairs from `citation_support_check.jsonl`: "
             f"{sum(hand)} supported, {n - sum(hand)} not.", "",
             "| grader | agreement | supported, hand agrees | accepted an unsupported pair "
             "| rejected a supported pair | unparsable |",
             "|---|---|---|---|---|---|"]
    for name, labels, unparsable in rows:
        counts = _agreement(labels, hand)
        lines.append(f"| {name} | **{counts['agree']}/{n} ({counts['agree'] / n:.0%})** "
                     f"| {counts['true_supported']} | {counts['false_supported']} "
                     f"| {counts['false_rejected']} | {unparsable} |")
    if result.judge:
        lines += ["", f"Judge time: {result.judge_seconds:.0f} s for {len(result.judge)} pairs "
                  "(shared 2-core CPU). An unparsable verdict counts as not supported."]
    lines += ["", "## Disagreements with the hand label", ""]
    for index, pair in enumerate(result.pairs):
        verdicts = []
        if result.judge:
            verdicts.append(("judge", result.judge[index].supported,
                             f"{result.judge[index].label}: {result.judge[index].reply[:80]!r}"))
        verdicts.append(("lexical", *result.lexical[index]))
        verdicts.append(("verifier", *result.verifier[index]))
        wrong = [(name, reason) for name, label, reason in verdicts if label != hand[index]]
        if not wrong:
            continue
        lines.append(f"- **{pair.get('pair_id', index)}** (hand: "
                     f"{'supported' if hand[index] else 'not supported'}; {pair.get('note', '')})")
        lines.append(f"  - statement: {' '.join(pair['statement'].split())[:300]}")
        lines.append(f"  - quote: {' '.join(pair['quote'].split())[:300]}")
        lines += [f"  - {name} disagrees: {' '.join(reason.split())[:200]}" for name, reason in wrong]
    return "\n".join(lines) + "\n"


def _answer_from_json(data: dict):
    from qa.answer import Answer, Citation

    citations = [Citation(c["marker"], c["article_id"], c["title"],
                          date.fromisoformat(c["published"]) if c["published"] else None,
                          c["quote"], c["start"], c["end"]) for c in data["citations"]]
    return Answer(data["question"], data["text"], citations, data["abstained"], data["backend"],
                  data["repaired"], list(data["notes"]))


def rescore_citations(saved_report: Path, judge: SupportJudge, limit: int | None = None,
                      log=None, split: str = "all") -> str:
    """Citation recall and precision of the answers in a saved ``report.json`` (from
    ``evals/run.py``), by the judge and by the lexical test, per backend (Markdown)."""
    saved = json.loads(Path(saved_report).read_text(encoding="utf-8"))
    lines = [f"# Citation quality of {saved_report} ({split} split) by the LLM judge", "",
             "| backend | answers | judge recall | judge precision | lexical recall "
             "| lexical precision |", "|---|---|---|---|---|---|"]
    disagreements: list[str] = []
    for backend, stored in saved["backends"].items():
        answers = [_answer_from_json(c["answer"]) for c in stored.get("cases", [])
                   if c.get("answer") and not c["answer"]["abstained"]
                   and split in ("all", c.get("split"))][:limit]
        sums = {key: [0.0, 0] for key in ("jr", "jp", "lr", "lp")}
        for number, answer in enumerate(answers, start=1):
            judged = citation_scores(answer, support=judge.supports)
            lexical = citation_scores(answer)
            for key, score in (("jr", judged["citation_recall"]), ("jp", judged["citation_precision"]),
                               ("lr", lexical["citation_recall"]), ("lp", lexical["citation_precision"])):
                if score.value is not None:
                    sums[key][0] += score.value
                    sums[key][1] += 1
            if judged["citation_precision"].value != lexical["citation_precision"].value:
                disagreements.append(f"- {backend}: {answer.question} → "
                                     f"{' '.join(answer.text.split())[:200]} (judge "
                                     f"{judged['citation_precision'].reason[:160]}; lexical "
                                     f"{lexical['citation_precision'].reason[:160]})")
            if log:
                log(f"{backend} {number}/{len(answers)}: judge {judged['citation_precision'].value}, "
                    f"lexical {lexical['citation_precision'].value}")
        means = {key: f"{total / count:.3f}" if count else "n/a"
                 for key, (total, count) in sums.items()}
        lines.append(f"| {backend} | {len(answers)} | {means['jr']} | {means['jp']} "
                     f"| {means['lr']} | {means['lp']} |")
    lines += ["", f"Judge calls: {judge.calls}.", "", "## Answers the graders score differently", ""]
    return "\n".join(lines + disagreements) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="GGUF file of the judge model")
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads")
    parser.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS)
    parser.add_argument("--out", type=Path, default=DEFAULT_REPORT)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="verdicts kept by model and prompt, so re-runs ask only what is new")
    parser.add_argument("--no-cache", action="store_true", help="ask the model every time")
    parser.add_argument("--no-judge", action="store_true",
                        help="only the lexical test and the product verifier (no model)")
    parser.add_argument("--rescore", type=Path, metavar="REPORT_JSON",
                        help="instead: citation recall/precision by the judge of the answers "
                        "in a report.json written by evals/run.py")
    parser.add_argument("--limit", type=int, help="with --rescore: the first N answers per backend")
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all",
                        help="with --rescore: the answers of this split of questions.jsonl")
    parser.add_argument("--quiet", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    judge = None
    if not args.no_judge:
        if args.model is None or not args.model.is_file():
            print("--model PATH to a GGUF file is needed (or --no-judge)", file=sys.stderr)
            return 2
        judge = local_judge(args.model, args.threads, cache=None if args.no_cache else args.cache)

    def log(message: str) -> None:
        if not args.quiet:
            print(message, file=sys.stderr, flush=True)

    if args.rescore:
        if judge is None:
            print("--rescore needs the judge (--model PATH)", file=sys.stderr)
            return 2
        report = rescore_citations(args.rescore, judge, args.limit, log=log, split=args.split)
        out = args.out if args.out != DEFAULT_REPORT else DEFAULT_REPORT.with_name(
            "judged_citations.md")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(report, encoding="utf-8")
        print(report.split("\n## Answers")[0])
        print(f"every difference in {out}")
        return 0
    result = judge_pairs(judge, _load_pairs(args.pairs), log=log)
    report = agreement_report(result, args.model.name if judge and args.model else "")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report.split("\n## Disagreements")[0])
    print(f"every disagreement in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
