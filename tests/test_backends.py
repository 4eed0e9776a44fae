"""The generative backends, for real: the openai backend through the official client against a
llama.cpp OpenAI-compatible server process on loopback, and the local backend in-process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from qa import Answer, Assistant, BackendConfigError, BackendUnavailableError

from .conftest import free_port
from .test_answering import BLAIR_HOUSE, assert_citations_are_verbatim

pytestmark = pytest.mark.slow


def _generated(assistant: Assistant, question: str) -> tuple[list[str], Answer]:
    items = list(assistant.stream(question))
    return items[:-1], items[-1]


def test_openai_backend_answers_through_a_real_server(llama_server, seed_index_dir):
    assistant = Assistant(data_dir=seed_index_dir, backend="openai", openai_base_url=llama_server,
                          openai_model="smollm2")
    pieces, answer = _generated(assistant, BLAIR_HOUSE)
    assert len(pieces) > 1, "the model's reply should stream in pieces"
    assert not answer.abstained and answer.citations
    assert_citations_are_verbatim(answer)
    # Whatever the small model wrote, what is returned holds no invented year.
    assert "2022" not in answer.text and "2023" not in answer.text
    assert answer.backend == "openai" or (answer.repaired and answer.backend == "extractive")


def test_openai_backend_chat_follow_up(llama_server, seed_index_dir):
    chat = Assistant(data_dir=seed_index_dir, backend="openai", openai_base_url=llama_server,
                     openai_model="smollm2").chat()
    chat.ask("Who hosted the November 7 talks between the Armenian and Azerbaijani foreign ministers?")
    answer = chat.ask("Where were they held?")
    assert_citations_are_verbatim(answer)
    assert any(note.startswith("follow-up: read with the previous question") for note in answer.notes)
    # The articles put the talks at Blair House and in Washington; which one SmolLM2 names
    # differs between CPUs (llama.cpp's arithmetic does). Either must be in a cited quote.
    named = [place for place in ("Blair House", "Washington") if place in answer.text]
    assert named and any(place in c.quote for c in answer.citations for place in named), answer.text


def test_unanswerable_question_never_reaches_the_model(llama_server, seed_index_dir):
    assistant = Assistant(data_dir=seed_index_dir, backend="openai", openai_base_url=llama_server,
                          openai_model="smollm2")
    pieces, answer = _generated(assistant, "What is the capital of Peru?")
    assert answer.abstained and answer.citations == [] and pieces == [answer.text]


def test_a_question_the_passages_touch_but_do_not_answer_is_still_abstained(llama_server,
                                                                          seed_index_dir):
    """The passages mention Baku, so the model reads them; whatever it writes, nothing it can
    cite states a population, and no sentence is quotable instead: qa abstains."""
    assistant = Assistant(data_dir=seed_index_dir, backend="openai", openai_base_url=llama_server,
                          openai_model="smollm2")
    _, answer = _generated(assistant, "What is the population of Baku?")
    assert answer.abstained and answer.citations == []


def test_local_backend_answers_with_smollm2(seed_index_dir):
    assistant = Assistant(data_dir=seed_index_dir, backend="local", local_model="smollm2-135m")
    pieces, answer = _generated(assistant, BLAIR_HOUSE)
    assert len(pieces) > 1
    assert_citations_are_verbatim(answer)
    assert "2022" not in answer.text


def test_the_embedder_does_not_change_what_the_local_model_writes(seed_index_dir):
    # ONNX Runtime's int8 products and llama.cpp's AMX kernels share the CPU's tile registers;
    # run on one thread, the embedder's work made the model's next answer random tokens.
    assistant = Assistant(data_dir=seed_index_dir, backend="local", local_model="smollm2-135m")
    answerer = assistant._answerer
    first = answerer._messages(answerer._context(BLAIR_HOUSE, []), [])
    second = answerer._messages(answerer._context("Where did the talks take place?", []), [])

    def second_answer() -> str:
        "".join(answerer.generator.stream(first))  # the same cached prefix before each
        return "".join(answerer.generator.stream(second))

    before = second_answer()
    assistant.embed_model.embed(["The foreign ministers met at Blair House."] * 4)
    assert second_answer() == before


def test_local_model_reads_only_its_best_passages(seed_index_dir):
    assistant = Assistant(data_dir=seed_index_dir, backend="local", local_model="smollm2-135m",
                          top_k=5, local_passages=2, local_passage_tokens=0)
    answerer = assistant._answerer
    context = answerer._context(BLAIR_HOUSE, [])
    prompt = answerer._messages(context, [])[-1]["content"]
    assert len(context.passages) == 5
    assert "[2] " in prompt and "[3] " not in prompt
    assert context.passages[0].title in prompt
    # Its answer is still verified against every passage of the answer step.
    _, answer = _generated(assistant, BLAIR_HOUSE)
    assert_citations_are_verbatim(answer)


def test_local_model_reads_the_best_passages_that_fit_its_token_budget(seed_index_dir):
    from qa.chunking import token_count

    assistant = Assistant(data_dir=seed_index_dir, backend="local", local_model="smollm2-135m",
                          top_k=5, local_passages=5, local_passage_tokens=0)
    read = assistant.passages_read(BLAIR_HOUSE)
    every = [p.chunk_id for p in read]
    assert len(every) == 5
    sizes = [token_count(p.text) for p in read]
    two = assistant.using(local_passage_tokens=sizes[0] + sizes[1])
    assert [p.chunk_id for p in two.passages_read(BLAIR_HOUSE)] == every[:2]
    answerer = two._answerer
    prompt = answerer._messages(answerer._context(BLAIR_HOUSE, []), [])[-1]["content"]
    assert "[2] " in prompt and "[3] " not in prompt
    # The best passage is read whatever its length.
    tiny = assistant.using(local_passage_tokens=1)
    assert [p.chunk_id for p in tiny.passages_read(BLAIR_HOUSE)] == every[:1]


def test_local_model_may_read_only_the_best_sentences(seed_index_dir):
    whole = Assistant(data_dir=seed_index_dir, backend="local", local_model="smollm2-135m",
                      local_passages=2, local_passage_tokens=0)
    best = whole.using(local_passage_sentences=1)
    context = whole._answerer._context(BLAIR_HOUSE, [])
    whole_prompt = whole._answerer._messages(context, [])[-1]["content"]
    best_prompt = best._answerer._messages(context, [])[-1]["content"]
    assert context.evidence[0].text in best_prompt
    assert len(best_prompt) < len(whole_prompt)
    # A passage holding none of the best sentences shows its own best one.
    second = next(e for e in context.evidence if e.passage.chunk_id == context.passages[1].chunk_id)
    assert second.text[-40:] in best_prompt  # its start may gain a date ("Monday (May 1, 2023)")
    assert context.passages[1].text not in best_prompt


def test_server_that_is_down_is_a_named_error(seed_index_dir):
    assistant = Assistant(data_dir=seed_index_dir, backend="openai", max_retries=0,
                          openai_base_url=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(BackendUnavailableError, match="cannot reach"):
        assistant.ask(BLAIR_HOUSE)


def test_server_slower_than_the_timeout_is_a_named_error(seed_index_dir):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(listener.accept()), daemon=True).start()
    try:
        assistant = Assistant(
            data_dir=seed_index_dir, backend="openai", request_timeout=1, max_retries=0,
            openai_base_url=f"http://127.0.0.1:{listener.getsockname()[1]}/v1")
        started = time.time()
        with pytest.raises(BackendUnavailableError, match="did not answer in time"):
            assistant.ask(BLAIR_HOUSE)
        assert time.time() - started < 30
    finally:
        listener.close()


def test_openai_backend_without_key_or_base_url_says_what_to_set(seed_index_dir):
    with pytest.raises(BackendConfigError, match="OPENAI_API_KEY") as caught:
        Assistant(data_dir=seed_index_dir, backend="openai")
    assert "QA_OPENAI_BASE_URL" in str(caught.value)


def test_cli_reports_a_down_server_in_one_line(seed_index_dir):
    result = subprocess.run(
        [sys.executable, "-m", "qa.cli", "--data-dir", str(seed_index_dir), "ask", "--backend",
         "openai", BLAIR_HOUSE],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "QA_OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
             "QA_MAX_RETRIES": "0"},
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("qa: error: cannot reach the model server")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
