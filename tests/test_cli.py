"""The ``qa`` command, run as a user runs it: a separate process, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .test_answering import BLAIR_HOUSE


def qa(*args: str, data_dir=None, **env: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "qa.cli"]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qa: error:"), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_ask_answers_with_a_cited_passage(seed_index_dir):
    result = qa("ask", BLAIR_HOUSE, data_dir=seed_index_dir)
    assert result.returncode == 0, result.stderr
    assert "November 7" in result.stdout
    assert "003_079379c1789fc1ad" in result.stdout and "Blair House" in result.stdout


def test_ask_json(seed_index_dir):
    result = qa("ask", "--json", BLAIR_HOUSE, data_dir=seed_index_dir)
    data = json.loads(result.stdout)
    assert data["citations"][0]["article_id"] == "003_079379c1789fc1ad"


def test_first_use_builds_the_seed_index(tmp_path):
    result = qa("ask", BLAIR_HOUSE, data_dir=tmp_path / "fresh")
    assert result.returncode == 0 and "November 7" in result.stdout
    assert (tmp_path / "fresh" / "index" / "manifest.json").exists()


@pytest.mark.parametrize("question, fragment", [("", "empty"), ("  ", "empty"),
                                                ("x" * 100_000, "characters long")])
def test_bad_questions_are_one_line_errors(seed_index_dir, question, fragment):
    assert_one_line_error(qa("ask", question, data_dir=seed_index_dir), fragment)


def test_index_of_a_missing_path_is_an_error(data_dir, tmp_path):
    assert_one_line_error(qa("index", str(tmp_path / "missing.txt"), data_dir=data_dir),
                          "no such file")


def test_index_warns_about_a_bad_file_and_indexes_the_rest(data_dir, tmp_path):
    (tmp_path / "good.txt").write_text("The envoys met in Tbilisi on March 3.", encoding="utf-8")
    (tmp_path / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    result = qa("index", str(tmp_path), data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    assert "photo.txt" in result.stderr and "binary" in result.stderr
    assert "1 added" in result.stdout and "6 articles indexed" in result.stdout
    listing = qa("articles", "--json", data_dir=data_dir)
    assert "good" in {a["article_id"] for a in json.loads(listing.stdout)}


def test_unknown_backend_is_a_usage_error(seed_index_dir):
    result = qa("ask", "--backend", "gpt9", BLAIR_HOUSE, data_dir=seed_index_dir)
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_bad_setting_in_the_environment_is_one_line(seed_index_dir):
    result = qa("ask", BLAIR_HOUSE, data_dir=seed_index_dir, QA_TOP_K="many")
    assert_one_line_error(result, "QA_TOP_K")


def test_chat_answers_follow_ups(seed_index_dir):
    result = subprocess.run(
        [sys.executable, "-m", "qa.cli", "--data-dir", str(seed_index_dir), "chat"],
        input="Who hosted the November 7 talks between the Armenian and Azerbaijani foreign "
              "ministers?\nWhere were they held?\n/quit\n",
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    answers = result.stdout.split("you> ")
    assert "Blair House" in answers[-1] or "Blair House" in answers[-2]


def test_chat_prints_the_checked_answer_after_a_streamed_draft_that_differs(shared_assistant, capsys):
    """A small model's draft cites a passage that does not hold its sentence; the checked answer
    cites the one that does, numbered by quote (fixed output, through the real verifier). After
    the draft, the chat prints the checked answer, so its markers match the sources under it."""
    from qa.cli import _print_checked

    answerer = shared_assistant._answerer
    context = answerer._context(BLAIR_HOUSE, [])
    wrong = next(n for n, p in enumerate(context.passages, start=1)
                 if "Blair House" not in p.text and "November 7" not in p.text)
    draft = f"Blinken hosted them at Blair House on November 7 [{wrong}]."
    answer = answerer._verified(context, draft)
    assert not answer.repaired and answer.citations[0].marker == 1
    _print_checked(answer, draft)
    printed = capsys.readouterr().out
    assert "(checked against the sources:)\n" + answer.text + "\n  [1] " in printed
    _print_checked(answer, answer.text)  # the streamed text was the answer: the sources only
    printed = capsys.readouterr().out
    assert answer.text not in printed and printed.lstrip().startswith("[1] ")

