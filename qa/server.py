"""``qa serve``: one process serving the chat UI and the HTTP API over one Assistant.

    /                           the chat app (Gradio); its API for ``gradio_client`` is
                                ``/ask`` (an answer as JSON) and ``/chat`` (the chat message)
    GET  /health                liveness, the backend and the number of indexed articles
    GET  /v1/models             OpenAI-compatible: qa, qa-extractive, qa-local, qa-openai
    POST /v1/chat/completions   OpenAI-compatible answers, citations in ``"citations"``

The UI (``qa.ui``) and the API (``qa.api``) are thin callers of ``qa.Assistant``: they share an
``AssistantPool``, which holds the served Assistant and its variants with other settings.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.answer import Answer
from qa.errors import SettingsError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from qa.assistant import Assistant, IndexResult
    from qa.chat import Chat
    from qa.index import ArticleRecord, Progress

__all__ = ["serve", "create_app", "parse_auth", "AssistantPool", "chat_with_history"]

DEFAULT_MAX_VARIANTS = 8
"""Assistants with other settings (backend, top_k, model) kept ready at once."""

_VARIANT_FIELDS = ("backend", "top_k", "openai_base_url", "openai_model")


def _keep_gradio_offline() -> None:
    # Gradio phones home (analytics, version check) unless told not to; the server must run
    # offline, and these are Gradio's own switches, read when gradio is imported.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("GRADIO_SHARE", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


class AssistantPool:
    """The served Assistant, and Assistants over the same index with other answer settings.

    A chat session or an API request that picks another backend, ``top_k`` or model gets a
    variant built by ``Assistant.using`` on first use and kept for the next one (the local model
    loads once). Adding articles goes through the pool, which drops the variants so that none
    answers from the old index.
    """

    def __init__(self, assistant: Assistant, max_variants: int = DEFAULT_MAX_VARIANTS) -> None:
        self.default = assistant
        self.max_variants = max_variants
        self._variants: OrderedDict[tuple[tuple[str, Any], ...], Assistant] = OrderedDict()
        self._lock = threading.Lock()
        self._library_lock = threading.Lock()

    @property
    def settings(self):
        """The served Assistant's settings (limits, token, defaults)."""
        return self.default.settings

    def get(self, **overrides: Any) -> Assistant:
        """The Assistant for these settings (``backend``, ``top_k``, ``openai_base_url``,
        ``openai_model``); None or "" means the served default. Raises SettingsError for a value
        that cannot work, or the backend's error when it cannot be built."""
        unknown = set(overrides) - set(_VARIANT_FIELDS)
        if unknown:
            raise SettingsError(f"cannot change {', '.join(sorted(unknown))} per request")
        current = self.default.settings
        changed = {name: value for name, value in overrides.items()
                   if value not in (None, "") and value != getattr(current, name)}
        if not changed:
            return self.default
        key = tuple(sorted(changed.items()))
        with self._lock:
            if key in self._variants:
                self._variants.move_to_end(key)
                return self._variants[key]
        variant = self._build(changed)
        with self._lock:
            self._variants[key] = variant
            while len(self._variants) > self.max_variants:
                self._variants.popitem(last=False)
        return variant

    def _build(self, changed: dict[str, Any]) -> Assistant:
        from pydantic import ValidationError

        try:
            return self.default.using(**changed)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
                                 for error in exc.errors())
            raise SettingsError(f"invalid settings: {problems}") from exc

    def articles(self) -> list[ArticleRecord]:
        """The indexed articles."""
        return self.default.articles()

    def add_articles(self, paths: Iterable[str | Path],
                     progress: Progress | None = None) -> IndexResult:
        """Add articles to the library (one upload at a time); they are answerable on return."""
        with self._library_lock:
            result = self.default.add_articles(paths, progress=progress)
            with self._lock:
                self._variants.clear()
        return result


def chat_with_history(assistant: Assistant, exchanges: Sequence[tuple[str, str]]) -> Chat:
    """A Chat that remembers earlier exchanges, given as (question, answer text) pairs.

    The UI and the API are stateless between requests: each request brings its conversation
    along (the chat box's messages, an OpenAI ``messages`` list), and is answered in a Chat
    rebuilt from it, so a reload, a retry or an edited history stays consistent.
    """
    from qa.answering import Turn

    chat = assistant.chat()
    chat.history.extend(Turn(question, Answer(question, text)) for question, text in exchanges)
    return chat


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    """``"USER:PASS"`` → ``("USER", "PASS")``; None stays None."""
    if auth is None:
        return None
    user, colon, password = auth.partition(":")
    if not colon or not user or not password:
        raise SettingsError("--auth takes USER:PASS, e.g. --auth reader:secret")
    return user, password


def create_app(assistant: Assistant, auth: str | tuple[str, str] | None = None) -> FastAPI:
    """The web app: the HTTP API and the chat UI over ``assistant``.

    ``auth`` (``"USER:PASS"``) protects the chat UI and its Gradio API; the ``/v1`` API is
    protected by the bearer token in ``assistant.settings.api_token`` (QA_API_TOKEN) instead.
    """
    _keep_gradio_offline()
    from fastapi import FastAPI

    from qa.api import install_api
    from qa.ui import mount_ui

    login = parse_auth(auth) if isinstance(auth, str) or auth is None else auth
    pool = AssistantPool(assistant)
    # No /docs page: it loads its scripts from a CDN, and qa serves offline.
    app = FastAPI(title="qa", docs_url=None, redoc_url=None, openapi_url="/v1/openapi.json")
    install_api(app, pool)  # before the UI: Gradio is mounted at "/" and takes every other path
    return mount_ui(app, pool, auth=login)


def serve(assistant: Assistant, host: str = "127.0.0.1", port: int = 7860,
          auth: str | None = None) -> None:
    """Serve the chat UI and the HTTP API until interrupted (blocking)."""
    import uvicorn

    _check_can_listen(host, port)
    app = create_app(assistant, auth=auth)
    where = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    print(f"qa: serving {len(assistant.articles())} articles with the {assistant.backend} backend "
          f"at {where} (API: {where}v1)", file=sys.stderr, flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)


def _check_can_listen(host: str, port: int) -> None:
    # uvicorn reports a busy port as a log line and exits; say it as a qa error instead.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise SettingsError(
                f"cannot listen on {host}:{port} ({exc.strerror}); is another server using it? "
                "Pick another port with --port"
            ) from exc
