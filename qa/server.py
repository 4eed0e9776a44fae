"""``qa serve``: one process serving the chat UI and the HTTP API over one Assistant.

    /                           the chat app (Gradio); its API for ``gradio_client`` is
                                ``/ask`` (an answer as JSON) and ``/chat`` (the chat message)
    GET  /health                liveness, the backend and the number of indexed articles
    GET  /v1/models             OpenAI-compatible: qa, qa-extractive, qa-local, qa-openai
    POST /v1/chat/completions   OpenAI-compatible answers, citations in ``"citations"``

The UI (``qa.ui``) and the API (``qa.api``) are thin callers of ``qa.Assistant``: they share an
``qa.pool.AssistantPool``, which holds the served Assistant and its variants with other settings.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import TYPE_CHECKING

from qa.errors import SettingsError
from qa.pool import AssistantPool

if TYPE_CHECKING:
    from fastapi import FastAPI

    from qa.assistant import Assistant

__all__ = ["serve", "create_app", "parse_auth"]


def _keep_gradio_offline() -> None:
    # Gradio phones home (analytics, version check) unless told not to; the server must run
    # offline, and these are Gradio's own switches, read when gradio is imported.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("GRADIO_SHARE", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


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
