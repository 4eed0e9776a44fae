"""Does each cue of ``qa/cues.json`` pay? Remove it, re-ask the questions it can change, and
count the cases that turn wrong or right, on the seeds dev split and the SQuAD slice.

    python evals/ablate_cues.py          # each answer type, and each of its phrases

A phrase can only change a question whose answer type it changes; only those questions are
asked again, so an ablation takes seconds. The test split is never asked: rules are not designed on it.
Writes ``evals/reports/cues.md``: per removed cue, the cases that changed, by id.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``evals`` importable from the repo root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evals.dataset import Case, Dataset, load_cases
from evals.run import DEFAULT_DATASET, DEFAULT_SQUAD, AskAssistant

EVALS_DIR = Path(__file__).resolve().parent
DEFAULT_REPORT = EVALS_DIR / "reports" / "cues.md"


@dataclass
class Corpus:
    name: str
    cases: list[Case]
    evaluators: list
    assistant: object


@dataclass
class Ablation:
    label: str
    asked: int = 0
    broke: list[str] = field(default_factory=list)  # right with the cue, wrong without
    fixed: list[str] = field(default_factory=list)  # wrong with the cue, right without

    @property
    def pays(self) -> bool:
        return len(self.broke) > len(self.fixed)


def _use(data: dict | None, folder: Path, restore: str | None = None) -> None:
    """Make ``data`` the cues in use (the product reads them once per process); with None,
    go back to the file named by ``restore`` (None: the shipped one)."""
    from qa import cues, evidence

    if data is not None:
        path = folder / f"cues-{abs(hash(json.dumps(data, sort_keys=True)))}.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        os.environ[cues.CUES_FILE_VARIABLE] = str(path)
    elif restore is None:
        os.environ.pop(cues.CUES_FILE_VARIABLE, None)
    else:
        os.environ[cues.CUES_FILE_VARIABLE] = restore
    cues.cues.cache_clear()
    evidence._question_types.cache_clear()
    evidence._speech_verbs.cache_clear()


def _profile(question: str) -> str:
    from qa.evidence import profile_question

    return profile_question(question).answer_type


def _correct(case: Case, scores: dict) -> bool:
    metric = ("accuracy" if "accuracy" in scores else "answerable_accuracy") if case.answerable \
        else "abstention_recall"
    return scores[metric].value == 1.0


def _ask(corpus: Corpus, cases: list[Case]) -> dict[str, bool]:
    report = Dataset(cases, corpus.evaluators).evaluate(AskAssistant(corpus.assistant, 5))
    return {item.case.id: _correct(item.case, item.scores) for item in report.cases}


def _variants(data: dict) -> list[tuple[str, dict]]:
    """(label, cues without it): each answer type whole, then each of its phrases."""
    out = []
    for kind, group in data["answer_types"].items():
        reduced = copy.deepcopy(data)
        reduced["answer_types"][kind]["phrases"] = []
        out.append((f"{kind} (all)", reduced))
        for n, phrase in enumerate(group["phrases"]):
            reduced = copy.deepcopy(data)
            del reduced["answer_types"][kind]["phrases"][n]
            out.append((f"{kind}: {phrase}", reduced))
    return out


def _affected(cases: list[Case], baseline: dict[str, str]) -> list[Case]:
    """The cases whose answer type the variant in use changes."""
    return [case for case in cases if baseline[case.id] != _profile(case.question)]


def ablate(data: dict, corpora: list[Corpus], workdir: Path, log=print) -> list[Ablation]:
    from qa.cues import CUES_FILE_VARIABLE

    before = os.environ.get(CUES_FILE_VARIABLE)
    try:
        return _ablate(data, corpora, workdir, log)
    finally:
        _use(None, workdir, restore=before)


def _ablate(data: dict, corpora: list[Corpus], workdir: Path, log) -> list[Ablation]:
    _use(data, workdir)
    baseline_profiles = {c.id: _profile(c.question) for corpus in corpora for c in corpus.cases}
    baseline = {corpus.name: _ask(corpus, corpus.cases) for corpus in corpora}
    results = []
    for label, reduced in _variants(data):
        _use(reduced, workdir)
        ablation = Ablation(label)
        for corpus in corpora:
            cases = _affected(corpus.cases, baseline_profiles)
            ablation.asked += len(cases)
            for case_id, right in _ask(corpus, cases).items():
                was = baseline[corpus.name][case_id]
                if was and not right:
                    ablation.broke.append(f"{corpus.name}:{case_id}")
                elif right and not was:
                    ablation.fixed.append(f"{corpus.name}:{case_id}")
        results.append(ablation)
        log(f"{label}: asked {ablation.asked}, broke {len(ablation.broke)}, "
            f"fixed {len(ablation.fixed)}")
    return results


def _corpora(squad: Path, workdir: Path) -> list[Corpus]:
    from evals.evaluators import default_evaluators
    from evals.squad import load_squad, squad_evaluators, write_articles
    from qa.assistant import Assistant
    from qa.corpus import load_articles

    cases, _ = load_cases(DEFAULT_DATASET)
    dev = [c for c in cases if c.split == "dev"]
    seeds = Assistant(backend="extractive", data_dir=workdir / "seeds-data")
    bodies = {a.article_id: a.body for a in load_articles([seeds.settings.seeds_dir])[0]}
    corpora = [Corpus("dev", dev, default_evaluators(bodies), seeds)]
    if squad.is_file():
        data = load_squad(squad)
        write_articles(data.paragraphs, workdir / "squad-articles")
        assistant = Assistant(backend="extractive", data_dir=workdir / "squad-data",
                              seeds_dir=workdir / "squad-articles", _embed_model=seeds.embed_model)
        bodies = {a.article_id: a.body for a in load_articles([workdir / "squad-articles"])[0]}
        corpora.append(Corpus("squad", data.cases, squad_evaluators(bodies), assistant))
    return corpora


def markdown(results: list[Ablation]) -> str:
    lines = ["# Cue ablation (seeds dev split and SQuAD slice)", "",
             "Each row removes one phrase (or a whole answer type) from `qa/cues.json` and re-asks the "
             "questions it can change. *broke*: right with the cue, wrong without it (the "
             "cases it fixes); *fixed*: the reverse.", "",
             "| removed | asked | broke | fixed | pays |", "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.label} | {r.asked} | {len(r.broke)} | {len(r.fixed)} "
                     f"| {'yes' if r.pays else 'no'} |")
    lines += ["", "## Cases by removed cue", ""]
    for r in results:
        if r.broke or r.fixed:
            lines.append(f"- **{r.label}**: broke {', '.join(r.broke) or '-'}; "
                         f"fixed {', '.join(r.fixed) or '-'}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from qa.cues import CUES_FILE

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cues", type=Path, default=CUES_FILE)
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD)
    parser.add_argument("--out", type=Path, default=DEFAULT_REPORT)
    args = parser.parse_args(argv)
    data = json.loads(args.cues.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory(prefix="qa-ablate-") as folder:
        workdir = Path(folder)
        results = ablate(data, _corpora(args.squad, workdir), workdir,
                         log=lambda m: print(m, file=sys.stderr, flush=True))
    report = markdown(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
