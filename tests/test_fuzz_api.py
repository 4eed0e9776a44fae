"""The HTTP API under a small, bounded fuzz (``python evals/fuzz_api.py`` runs the big one):
schemathesis from the OpenAPI document and hypothesis from the request models, against a real
``qa serve``. No 500, no stack trace, every error in the API's shape, the token never echoed."""

from __future__ import annotations

import pytest

pytest.importorskip("schemathesis")
pytest.importorskip("hypothesis")


def test_a_bounded_fuzz_finds_nothing(data_dir, tmp_path):
    from evals.fuzz_api import fuzz

    report = fuzz(data_dir, tmp_path, examples=12, seed=1)
    assert report.inputs["schemathesis"] >= 20 and report.inputs["hypothesis"] >= 12
    # Our rules, on every response of both passes (no 500, no stack trace, OpenAI error shape,
    # no token echoed), and schemathesis's own conformance checks ("schemathesis check").
    assert [f.line() for f in report.findings] == []
    answered = sum(count for key, count in report.statuses.items() if key.endswith(" 200"))
    assert answered >= 3, f"the fuzz should reach the answer path: {report.statuses}"


def test_the_rules_catch_what_they_are_for():
    from evals.fuzz_api import TOKEN, check_response

    assert check_response(200, "application/json", b'{"choices": []}') == []
    assert check_response(500, "text/plain", b"Internal Server Error")
    assert check_response(400, "application/json", b'{"detail": "no"}')
    assert check_response(422, "application/json",
                          b'{"error": {"message": "File \\"/x/qa/api.py\\", line 3"}}')
    assert check_response(401, "application/json",
                          f'{{"error": {{"message": "bad token {TOKEN}"}}}}'.encode())
    assert check_response(200, "text/event-stream", b"data: {}\n\n")
    assert check_response(503, "application/json",
                          b'{"error": {"message": "down", "code": "backend_not_configured"}}') == []


def test_a_lone_surrogate_is_refused_or_replaced_not_a_crash(shared_assistant):
    # Found by the fuzz: JSON's "\udfff" decodes to a str the tokenizer refused (HTTP 500).
    from qa.errors import InvalidQuestionError

    with pytest.raises(InvalidQuestionError, match="not valid text"):
        shared_assistant.ask("When did Blinken host the ministers at Blair House? \udfff")
    from qa.chat import chat_with_history

    chat = chat_with_history(shared_assistant, [("Who hosted the talks \ud800?", "Blinken \udfff.")])
    assert chat.ask("Where were they held?").text
