"""``qa serve`` as a real process: the OpenAI-compatible API through the official ``openai``
client, the Gradio API through ``gradio_client``, bad input, and access control.

One server (over a copy of the seed index, with an API token and a login) serves most tests;
the upload tests change the library, so they get a server of their own.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time

import httpx
import pytest

from tests.browser.qa_server import running_server, seed_article_count

from .conftest import HARBOUR_ARTICLE

QUESTION = ("On what date did Blinken host the Armenian and Azerbaijani foreign ministers "
            "at Blair House?")
BLAIR_HOUSE_ARTICLE = "003_079379c1789fc1ad"
TOKEN = "test-token-5d1c"
LOGIN = ("reader", "s3cret-pass")
BACKEND_TIMEOUT_SECONDS = 3


@pytest.fixture(scope="module")
def silent_backend():
    """An "OpenAI-compatible server" that accepts connections and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    listener.close()


@pytest.fixture(scope="module")
def server(seed_index_dir, tmp_path_factory, silent_backend):
    """``qa serve --auth reader:s3cret-pass`` with QA_API_TOKEN set, over a copy of the seed
    index (module-wide: starting the server takes seconds; these tests leave the library as is)."""
    work = tmp_path_factory.mktemp("qa-serve")
    data = work / "qa-data"
    shutil.copytree(seed_index_dir, data)
    env = {"QA_API_TOKEN": TOKEN, "QA_OPENAI_BASE_URL": silent_backend,
           "QA_REQUEST_TIMEOUT": str(BACKEND_TIMEOUT_SECONDS), "QA_MAX_RETRIES": "0"}
    with running_server(data, work, env=env, args=("--auth", ":".join(LOGIN))) as running:
        yield running
    assert running.outside_connections() == []


@pytest.fixture
def client(server):
    from openai import OpenAI

    return OpenAI(base_url=f"{server.url}/v1", api_key=TOKEN, max_retries=0, timeout=60)


@pytest.fixture(scope="module")
def gradio(server):
    from gradio_client import Client

    return Client(f"{server.url}/", auth=LOGIN, verbose=False, download_files=False)


def post(server, body, token: str | None = TOKEN, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if isinstance(body, (dict, list)):
        kwargs["json"] = body
    else:
        kwargs["content"] = body
        headers["Content-Type"] = "application/json"
    return httpx.post(f"{server.url}/v1/chat/completions", headers=headers, timeout=60, **kwargs)


def ask_body(question: str = QUESTION, model: str = "qa", **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": question}], **extra}


# --- the OpenAI-compatible API ---------------------------------------------------------------
def test_health_is_open_and_counts_articles(server):
    reply = httpx.get(f"{server.url}/health", timeout=10)
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok", "backend": "extractive",
                            "articles": seed_article_count()}


def test_models_are_listed(client):
    names = {model.id for model in client.models.list()}
    assert names == {"qa", "qa-extractive", "qa-local", "qa-openai"}


def test_completion_carries_markers_and_citations(client):
    completion = client.chat.completions.create(
        model="qa", messages=[{"role": "user", "content": QUESTION}])
    text = completion.choices[0].message.content
    citations = completion.model_extra["citations"]
    assert "November 7" in text
    assert completion.choices[0].finish_reason == "stop"
    assert BLAIR_HOUSE_ARTICLE in {c["article_id"] for c in citations}
    for citation in citations:
        assert f"[{citation['marker']}]" in text
        assert citation["quote"] and citation["end"] - citation["start"] == len(citation["quote"])
    assert completion.model_extra["abstained"] is False


def test_streamed_completion_ends_with_the_citations(client):
    chunks = list(client.chat.completions.create(
        model="qa-extractive", messages=[{"role": "user", "content": QUESTION}], stream=True))
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert "November 7" in text
    assert len(chunks) > 3, "the answer should arrive in pieces"
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert BLAIR_HOUSE_ARTICLE in {c["article_id"] for c in last.model_extra["citations"]}
    assert all("citations" not in (chunk.model_extra or {}) for chunk in chunks[:-1])


def test_stream_is_server_sent_events_ending_with_done(server):
    with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=ask_body(stream=True),
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("text/event-stream")
        events = [line[len("data: "):] for line in reply.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    assert "citations" in json.loads(events[-2])


def test_earlier_messages_are_the_chat_history(client, shared_assistant):
    # The reply to a follow-up must be what a Chat with the same history gives.
    chat = shared_assistant.chat()
    first = chat.ask("What did Jake Sullivan say about the talks?")
    follow_up = chat.ask("Where were they held?")
    completion = client.chat.completions.create(model="qa", messages=[
        {"role": "system", "content": "Answer from the articles."},
        {"role": "user", "content": first.question},
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": [{"type": "text", "text": "Where were they held?"}]},
    ])
    assert completion.choices[0].message.content == follow_up.text
    alone = client.chat.completions.create(model="qa", messages=[
        {"role": "user", "content": "Where were they held?"}])
    assert alone.choices[0].message.content == shared_assistant.ask("Where were they held?").text


def test_top_k_can_be_set_per_request(server):
    reply = post(server, ask_body(top_k=2))
    assert reply.status_code == 200
    assert "November 7" in reply.json()["choices"][0]["message"]["content"]
    assert post(server, ask_body(top_k=0)).status_code == 422


# --- access control ------------------------------------------------------------------------
def test_api_needs_the_bearer_token(server):
    import openai

    missing = post(server, ask_body(), token=None)
    assert missing.status_code == 401
    assert "QA_API_TOKEN" in missing.json()["error"]["message"]
    assert missing.headers["www-authenticate"] == "Bearer"
    assert post(server, ask_body(), token="wrong").status_code == 401
    assert httpx.get(f"{server.url}/v1/models", timeout=10).status_code == 401
    wrong = openai.OpenAI(base_url=f"{server.url}/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model="qa", messages=[{"role": "user", "content": QUESTION}])


def test_ui_needs_the_login(server):
    from gradio_client import Client

    assert httpx.get(f"{server.url}/config", timeout=10).status_code == 401
    with pytest.raises(Exception, match="credentials|login"):
        Client(f"{server.url}/", verbose=False)
    with pytest.raises(ValueError, match="login"):
        Client(f"{server.url}/", auth=("reader", "wrong"), verbose=False)
    signed_in = httpx.post(f"{server.url}/login", data={"username": LOGIN[0], "password": LOGIN[1]},
                           timeout=10)
    assert signed_in.status_code == 200


# --- bad input -----------------------------------------------------------------------------
def error_of(reply: httpx.Response) -> dict:
    body = reply.json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize("question, words", [
    ("", "empty"),
    ("   \n ", "empty"),
    ("x" * 100_000, "limit"),
])
def test_unusable_question_is_400(server, question, words):
    reply = post(server, ask_body(question))
    assert reply.status_code == 400
    assert words in error_of(reply)["message"]


def test_malformed_json_is_400(server):
    reply = post(server, '{"model": "qa", "messages": [')
    assert reply.status_code == 400
    assert error_of(reply)["code"] == "invalid_json"


@pytest.mark.parametrize("body", [
    {"model": "qa"},
    {"model": "qa", "messages": []},
    {"messages": [{"role": "user", "content": QUESTION}]},
    {"model": "qa", "messages": [{"role": "robot", "content": QUESTION}]},
    [1, 2, 3],
])
def test_request_of_the_wrong_shape_is_422(server, body):
    reply = post(server, body)
    assert reply.status_code == 422
    assert error_of(reply)["type"] == "invalid_request_error"


def test_last_message_must_be_the_question(server):
    reply = post(server, {"model": "qa", "messages": [
        {"role": "user", "content": QUESTION}, {"role": "assistant", "content": "November 7"}]})
    assert reply.status_code == 400
    assert error_of(reply)["param"] == "messages"


def test_unknown_model_is_404(server, client):
    import openai

    reply = post(server, ask_body(model="gpt-5"))
    assert reply.status_code == 404
    assert error_of(reply)["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-5",
                                       messages=[{"role": "user", "content": QUESTION}])


def test_oversize_body_is_413(server):
    reply = post(server, ask_body("x" * 1_200_000))
    assert reply.status_code == 413
    assert error_of(reply)["code"] == "request_too_large"


def test_unreachable_backend_is_502_and_others_are_still_served(server):
    slow: dict = {}

    def ask_the_silent_backend() -> None:
        started = time.monotonic()
        slow["reply"] = post(server, ask_body(model="qa-openai"))
        slow["seconds"] = time.monotonic() - started

    waiting = threading.Thread(target=ask_the_silent_backend)
    waiting.start()
    time.sleep(0.5)
    meanwhile = post(server, ask_body())
    assert meanwhile.status_code == 200
    assert waiting.is_alive(), "a slow backend must not hold up other requests"
    waiting.join(timeout=60)
    reply = slow["reply"]
    assert reply.status_code == 502
    assert "did not answer in time" in error_of(reply)["message"]
    assert f"within {BACKEND_TIMEOUT_SECONDS} s (QA_REQUEST_TIMEOUT)" in error_of(reply)["message"]
    assert slow["seconds"] >= BACKEND_TIMEOUT_SECONDS - 0.5
    assert post(server, ask_body()).status_code == 200


# --- the Gradio API ------------------------------------------------------------------------
def test_gradio_ask_returns_the_answer_as_json(gradio):
    answer = gradio.predict(QUESTION, api_name="/ask")
    assert "November 7" in answer["text"]
    assert BLAIR_HOUSE_ARTICLE in {c["article_id"] for c in answer["citations"]}
    assert answer["abstained"] is False


def test_gradio_chat_returns_the_message_and_its_sources(gradio):
    message, sources = gradio.predict(QUESTION, "extractive", 5, "", "", api_name="/chat")
    assert "November 7" in message
    assert 'class="qa-marker"' in message
    assert BLAIR_HOUSE_ARTICLE in message  # the citation data travels with the message
    assert "<mark>" in sources and "Blair House" in sources


@pytest.mark.parametrize("question, words", [("  ", "empty"), ("y" * 100_000, "limit")])
def test_gradio_chat_shows_a_bad_question_as_an_error(gradio, question, words):
    message, _ = gradio.predict(question, "extractive", 5, "", "", api_name="/chat")
    assert "qa-error" in message and words in message


def test_gradio_chat_reports_a_model_server_that_is_down(gradio):
    from tests.browser.qa_server import free_port

    closed = f"http://127.0.0.1:{free_port()}/v1"
    message, _ = gradio.predict(QUESTION, "openai", 5, closed, "some-model", api_name="/chat")
    assert "qa-error" in message
    assert "cannot reach the model server" in message and closed in message


def test_gradio_chat_says_the_timeout_of_a_model_server_that_never_answers(gradio, silent_backend):
    started = time.monotonic()
    message, _ = gradio.predict(QUESTION, "openai", 5, silent_backend, "some-model",
                                api_name="/chat")
    assert "qa-error" in message and "did not answer in time" in message
    assert f"within {BACKEND_TIMEOUT_SECONDS} s (QA_REQUEST_TIMEOUT)" in message
    assert time.monotonic() - started >= BACKEND_TIMEOUT_SECONDS


def test_gradio_ask_reports_errors(gradio):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="empty"):
        gradio.predict("", api_name="/ask")
    with pytest.raises(AppError, match="backend"):
        gradio.predict(QUESTION, "telepathy", api_name="/ask")


# --- uploads (a server of their own: they change the library) ------------------------------
def test_uploads_are_checked_then_answerable(data_dir, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    files = tmp_path / "files"
    files.mkdir()
    (files / "harbour.txt").write_text(HARBOUR_ARTICLE, encoding="utf-8")
    (files / "photo.txt").write_bytes(bytes(range(256)) * 8)
    (files / "latin1.md").write_bytes("Caf\xe9 news from the harbour.\n".encode("latin-1"))
    (files / "big.txt").write_text("word " * 3_000, encoding="utf-8")
    (files / "slides.pdf").write_bytes(b"%PDF-1.4\n")
    with running_server(data_dir, tmp_path / "serve",
                        env={"QA_MAX_UPLOAD_BYTES": "5000"}) as server:
        gradio = Client(f"{server.url}/", verbose=False, download_files=False)

        def upload(*names: str) -> str:
            status, _table, _header, _files = gradio.predict(
                [handle_file(str(files / name)) for name in names], api_name="/add_articles")
            return status

        refused = upload("photo.txt", "latin1.md")
        assert "Not added" in refused
        assert "photo.txt" in refused and "binary" in refused
        assert "latin1.md" in refused and "UTF-8" in refused
        with pytest.raises(Exception, match="size"):
            upload("big.txt")
        with pytest.raises(AppError, match="file type"):
            upload("slides.pdf")
        assert httpx.get(f"{server.url}/health").json()["articles"] == seed_article_count()

        added = upload("harbour.txt")
        assert "Added 1 article" in added
        assert httpx.get(f"{server.url}/health").json()["articles"] == seed_article_count() + 1
        answer = gradio.predict("Who approved the new harbour in Quillon?", api_name="/ask")
        assert "harbour" in {c["article_id"] for c in answer["citations"]}
        completion = httpx.post(f"{server.url}/v1/chat/completions", timeout=60, json=ask_body(
            "Who approved the new harbour in Quillon?")).json()
        assert "harbour" in {c["article_id"] for c in completion["citations"]}
        assert server.outside_connections() == []


# --- rendering -----------------------------------------------------------------------------
def test_article_text_is_escaped_everywhere():
    from datetime import date

    from qa.answer import Answer, Citation
    from qa.ui import render_answer, render_sources

    body = 'Intro.\nThe <img src=x onerror="alert(1)"> tag & <script>alert(2)</script> here.\nEnd.'
    quote = 'The <img src=x onerror="alert(1)"> tag & <script>alert(2)</script> here.'
    start = body.index(quote)
    citation = Citation(1, "evil", "<b>Title</b>", None, quote, start, start + len(quote))
    message = render_answer(Answer("q?", f"{quote} [1]", [citation]))
    assert "<img" not in message and "<script" not in message and "<b>Title" not in message
    assert "&lt;img src=x" in message

    class Texts:
        def body(self, article_id):
            return body if article_id == "evil" else None

    data = [{"marker": 1, "article_id": "evil", "title": "<b>Title</b>", "published": None,
             "quote": quote, "start": start, "end": start + len(quote)}]
    panel = render_sources("q <i>?</i>", data, 1, Texts())
    assert "<img" not in panel and "<script" not in panel and "<i>" not in panel
    assert "<mark>The &lt;img src=x onerror=&quot;alert(1)&quot;&gt; tag &amp; " in panel
    assert "date unknown" in panel
    dated = dict(data[0], published=date(2023, 11, 8).isoformat())
    assert "8 November 2023" in render_sources("q", [dated], 1, Texts())
