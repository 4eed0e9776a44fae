"""The answer-type phrases: the data file is well formed, its phrases match as words, the
product reads them from the file, and the ablation harness measures a removed phrase against
the real pipeline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qa import cues, evidence
from qa.cues import CUES_FILE, Cues, phrase_pattern

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def test_every_phrase_is_listed_once_and_every_type_names_the_cases_it_fixes():
    data = json.loads(CUES_FILE.read_text(encoding="utf-8"))
    phrases = [p for group in data["answer_types"].values() for p in group["phrases"]]
    assert len(phrases) == len(set(phrases))
    for group in data["answer_types"].values():
        assert group["fixes"] and all(
            c.startswith(("dev:", "squad:", "news-dev:")) for c in group["fixes"])
    assert list(Cues.from_file(CUES_FILE).answer_types)[:2] == ["year", "duration"]


def test_phrases_match_whole_words_longest_first():
    pattern = phrase_pattern(("what year", "in what year"))
    assert pattern.search("In what  year did it end?").group(0).lower().startswith("in what")
    assert not pattern.search("Whatever year")
    assert not phrase_pattern(()).search("anything")


def test_a_question_type_comes_from_the_data_file(tmp_path, monkeypatch):
    question = "What time did the talks begin?"
    assert evidence.profile_question(question).answer_type == "time"
    data = json.loads(CUES_FILE.read_text(encoding="utf-8"))
    data["answer_types"]["time"]["phrases"] = []
    reduced = tmp_path / "cues.json"
    reduced.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setenv(cues.CUES_FILE_VARIABLE, str(reduced))
    cues.cues.cache_clear()
    evidence._question_types.cache_clear()
    try:
        assert evidence.profile_question(question).answer_type == "other"
    finally:
        monkeypatch.delenv(cues.CUES_FILE_VARIABLE)
        cues.cues.cache_clear()
        evidence._question_types.cache_clear()
    assert evidence.profile_question(question).answer_type == "time"


def test_the_ablation_asks_again_only_what_a_phrase_changes(shared_assistant, tmp_path):
    from evals.ablate_cues import Corpus, ablate
    from evals.dataset import load_cases
    from evals.evaluators import default_evaluators
    from evals.run import DEFAULT_DATASET
    from qa.corpus import load_articles

    cases = [c for c in load_cases(DEFAULT_DATASET)[0] if c.split == "dev"]
    bodies = {a.article_id: a.body
              for a in load_articles([shared_assistant.settings.seeds_dir])[0]}
    corpus = Corpus("dev", cases, default_evaluators(bodies), shared_assistant)
    data = json.loads(CUES_FILE.read_text(encoding="utf-8"))
    data["answer_types"] = {"time": data["answer_types"]["time"]}  # one type: a quick run
    results = ablate(data, [corpus], tmp_path, log=lambda _: None)
    assert [r.label for r in results] == ["time (all)", "time: what time"]
    what_time = [c for c in cases if "what time" in c.question.lower()]
    assert what_time and all(r.asked == len(what_time) for r in results)
    # The measured case of the shipped file: without "what time" qa answers a question the
    # articles do not answer.
    assert "dev:unans-blair-house-start-time" in results[0].broke
    assert cues.cues() == Cues.from_file(CUES_FILE)  # the shipped file is in use again
