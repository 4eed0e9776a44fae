"""The cue lists: the data file is well formed, its phrases match as words, and the
ablation harness measures a removed cue against the real pipeline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from qa import cues, evidence
from qa.cues import CUES_FILE, Cues, phrase_pattern

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def test_every_cue_is_listed_once_and_every_group_loads():
    data = json.loads(CUES_FILE.read_text(encoding="utf-8"))
    groups = [entries for key, entries in data.items() if isinstance(entries, list)]
    groups += list(data["answer_types"].values())
    for entries in groups:
        words = [entry["cue"] for entry in entries]
        assert len(words) == len(set(words)), words
        assert all(word.strip() == word and word for word in words)
    loaded = Cues.from_file(CUES_FILE)
    assert list(loaded.answer_types)[:2] == ["year", "duration"]  # order decides the type


def test_phrases_match_whole_words_and_a_star_any_ending():
    pattern = phrase_pattern(("which spokes*", "what city", "in what city"))
    assert pattern.search("Which spokeswoman said it?")
    assert pattern.search("In what  city were they?").group(0).lower().startswith("in what")
    assert not pattern.search("Whatever city")
    assert not phrase_pattern(()).search("anything")


def test_a_question_type_comes_from_the_data_file(tmp_path, monkeypatch):
    question = "Which diplomat briefed reporters?"
    assert evidence.profile_question(question).answer_type == "person"
    data = json.loads(CUES_FILE.read_text(encoding="utf-8"))
    data["answer_types"]["person"] = [e for e in data["answer_types"]["person"]
                                      if e["cue"] != "which diplomat"]
    reduced = tmp_path / "cues.json"
    reduced.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setenv(cues.CUES_FILE_VARIABLE, str(reduced))
    cues.cues.cache_clear()
    evidence._rules.cache_clear()
    try:
        assert evidence.profile_question(question).answer_type == "other"
    finally:
        monkeypatch.delenv(cues.CUES_FILE_VARIABLE)
        cues.cues.cache_clear()
        evidence._rules.cache_clear()
    assert evidence.profile_question(question).answer_type == "person"


def test_the_ablation_asks_again_only_what_a_cue_can_change(shared_assistant, tmp_path):
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
    results = ablate(data, [corpus], ["duration_words"], tmp_path, log=lambda _: None)
    assert [r.label for r in results][0] == "duration_words (all)"
    how_long = [c for c in cases if evidence.profile_question(c.question).answer_type == "duration"]
    assert all(r.asked == len(how_long) for r in results)
    assert cues.cues() == Cues.from_file(CUES_FILE)  # the file in use is restored
