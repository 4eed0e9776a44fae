"""The HTTP API: OpenAI-compatible ``GET /v1/models`` and ``POST /v1/chat/completions``, and
``GET /health``.

Any OpenAI client can ask questions::

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:7860/v1", api_key="<QA_API_TOKEN, or anything>")
    reply = client.chat.completions.create(
        model="qa", messages=[{"role": "user", "content": "When did ...?"}])
    reply.choices[0].message.content      # the answer, with markers [1], [2]
    reply.citations                       # what each marker cites (an extra field)

The last user message is the question; earlier user/assistant pairs are the chat history.
A streamed reply carries the citations on its last chunk, before ``data: [DONE]``. Errors
come back as OpenAI-style JSON (``{"error": {"message", "type", "param", "code"}}``).
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.answer import Answer
from qa.backends.base import BACKENDS
from qa.chat import chat_with_history
from qa.errors import (
    BackendConfigError,
    BackendNotInstalledError,
    BackendUnavailableError,
    InvalidQuestionError,
    QAError,
    SettingsError,
)

if TYPE_CHECKING:
    from qa.pool import AssistantPool

__all__ = ["install_api", "MODELS", "ApiError"]

MODELS: dict[str, str | None] = {
    "qa": None,  # the backend the server was started with
    **{f"qa-{name}": name for name in BACKENDS},
}
"""Model names the API accepts, and the answer backend each one uses."""

MAX_REQUEST_BYTES = 1_000_000
"""Larger request bodies are refused with 413 before they are read."""

_WORD = re.compile(r"\S+\s*|\s+")


class ApiError(Exception):
    """An error answered as OpenAI-style JSON with an HTTP status."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)

    @classmethod
    def from_qa_error(cls, error: QAError) -> ApiError:
        """The HTTP status that says whose problem a qa error is."""
        if isinstance(error, InvalidQuestionError):
            return cls(400, str(error), param="messages", code="invalid_question")
        if isinstance(error, BackendUnavailableError):
            return cls(502, str(error), type="api_error", code="backend_unavailable")
        if isinstance(error, (BackendConfigError, BackendNotInstalledError)):
            return cls(503, str(error), type="api_error", code="backend_not_configured")
        if isinstance(error, SettingsError):
            return cls(400, str(error), code="invalid_setting")
        return cls(500, str(error), type="api_error", code=type(error).__name__)


class ErrorDetail(BaseModel):
    """What went wrong, as OpenAI reports it."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """The body of every error the API answers (4xx and the documented 502/503)."""

    error: ErrorDetail


def _documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses, so that clients (and the fuzz in
    evals/fuzz_api.py) know every status the API can answer and its body."""
    return {status: {"model": ErrorResponse, "description": _STATUS_MEANING[status]}
            for status in statuses}


_STATUS_MEANING = {
    400: "The question cannot be asked (empty, too long, not the last message), the body is "
         "not JSON, or a setting is invalid",
    401: "The bearer token (QA_API_TOKEN) is missing or wrong",
    404: "No such model (see GET /v1/models) or path",
    405: "The path does not take this method",
    413: "The request body is over the limit",
    422: "The request does not have the shape of a chat completion request",
    502: "The model server behind the backend is down, slow or refused the request",
    503: "The backend chosen is not installed or not configured on this server",
}


# --- the request ----------------------------------------------------------------------------
class ContentPart(BaseModel):
    """One part of a message's content; only text parts are read."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """One message of the conversation, as OpenAI clients send it."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions``. Sampling fields OpenAI clients send (temperature,
    max_tokens, ...) are accepted and ignored: the answer settings are the server's."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "model": "qa", "messages": [{"role": "user", "content": "When did Blinken host the "
                                     "Armenian and Azerbaijani foreign ministers?"}]}]})
    model: str = Field(description="qa (the server's backend), or qa-extractive, qa-local, "
                                   "qa-openai: GET /v1/models")
    messages: list[ChatMessage] = Field(min_length=1)
    # Strict: the fuzz found ``"stream": 0`` and ``"top_k": "5"`` accepted, which the schema
    # (boolean, integer) says are wrong; a client sending them has a bug worth a 422. JSON's
    # 5.0 is an integer, though.
    stream: bool = Field(default=False, strict=True)
    top_k: int | None = Field(default=None, ge=1, le=50, strict=True,
                              description="Passages given to the answer step (an extension).")

    @field_validator("top_k", mode="before")
    @classmethod
    def _integral(cls, value: Any) -> Any:
        """An integral float (5.0) as the integer JSON Schema takes it for; else as it is."""
        return int(value) if isinstance(value, float) and value.is_integer() else value


def _conversation(messages: list[ChatMessage]) -> tuple[str, list[tuple[str, str]]]:
    """The question (the last message, from the user) and the earlier (question, answer) pairs."""
    if messages[-1].role != "user":
        raise ApiError(400, "the last message must be the user's question (role 'user')",
                       param="messages")
    exchanges: list[tuple[str, str]] = []
    asked: str | None = None
    for message in messages[:-1]:
        if message.role == "user":
            asked = message.text
        elif message.role == "assistant" and asked is not None:
            exchanges.append((asked, message.text))
            asked = None
    return messages[-1].text, exchanges


# --- the reply ------------------------------------------------------------------------------
def _extra_fields(answer: Answer) -> dict[str, Any]:
    return {
        "citations": [citation.to_dict() for citation in answer.citations],
        "abstained": answer.abstained,
        "repaired": answer.repaired,
        "backend": answer.backend,
        "warning": answer.warning,
    }


def _completion(answer: Answer, model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": answer.text},
            "finish_reason": "stop",
            "logprobs": None,
        }],
        **_extra_fields(answer),
    }


def _chunks(answer: Answer, model: str) -> Iterator[str]:
    """The answer as server-sent events: the text in word-sized deltas, then the citations."""
    identity = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": model}

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        chunk = {**identity, "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                                          "logprobs": None}], **extra}
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    for piece in _WORD.findall(answer.text):
        yield event({"content": piece})
    yield event({}, "stop", **_extra_fields(answer))
    yield "data: [DONE]\n\n"


# --- the routes -----------------------------------------------------------------------------
def install_api(app: FastAPI, pool: AssistantPool) -> None:
    """Add the API routes and their JSON error handling to ``app``."""

    # FastAPI's HTTPBearer parses the header, and declares the scheme in the OpenAPI document,
    # so that clients (and the fuzz) know the API needs it.
    bearer = HTTPBearer(auto_error=False, scheme_name="QA_API_TOKEN",
                        description="The token set in QA_API_TOKEN on the server.")

    def require_token(request: Request,
                      credentials: HTTPAuthorizationCredentials | None = Security(bearer)) -> None:
        token = pool.settings.api_token
        if token is None:
            return
        given = credentials.credentials.strip() if credentials else ""
        if not secrets.compare_digest(given.encode(), token.get_secret_value().encode()):
            missing = not request.headers.get("authorization", "").partition(" ")[2].strip()
            raise ApiError(
                401,
                "this API needs the token set in QA_API_TOKEN on the server, sent as "
                "'Authorization: Bearer <token>' (the api_key of an OpenAI client)"
                if missing else "the bearer token is wrong; use the one set in QA_API_TOKEN",
                code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})

    guarded = pool.settings.api_token is not None
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_token)] if guarded else [],
                   responses=_documented(401) if guarded else {})

    @app.get("/health")
    def health() -> dict[str, Any]:
        """Liveness: the default backend and the number of indexed articles."""
        return {"status": "ok", "backend": pool.default.backend,
                "articles": len(pool.articles())}

    @v1.get("/models")
    def list_models() -> dict[str, Any]:
        """The model names accepted by /v1/chat/completions."""
        return {"object": "list", "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "qa",
             "backend": backend or pool.default.backend}
            for name, backend in MODELS.items()
        ]}

    @v1.post("/chat/completions", responses={
        200: {"description": "The answer: a chat.completion, or with \"stream\": true "
                             "server-sent chat.completion.chunk events ending in data: [DONE]",
              "content": {"text/event-stream": {"schema": {  # one event
                  "type": "object", "required": ["data"], "properties": {"data": {
                      "type": "string",
                      "description": "a chat.completion.chunk as JSON, or [DONE]"}}}}}},
        **_documented(400, 404, 413, 422, 502, 503)})
    def chat_completions(request: ChatCompletionRequest):
        """Answer the last user message, with the earlier messages as chat history.
        Runs in FastAPI's threadpool, so a slow answer does not hold up other requests."""
        if request.model not in MODELS:
            raise ApiError(404, f"the model {request.model!r} does not exist; use one of "
                                f"{', '.join(MODELS)} (GET /v1/models)",
                           param="model", code="model_not_found")
        question, exchanges = _conversation(request.messages)
        try:
            assistant = pool.get(backend=MODELS[request.model], top_k=request.top_k)
            answer = chat_with_history(assistant, exchanges).ask(question)
        except QAError as error:
            raise ApiError.from_qa_error(error) from error
        if request.stream:
            # The verified answer is what streams: the model's draft is not sent, as
            # verification may renumber its markers or drop a claim.
            return StreamingResponse(_chunks(answer, request.model),
                                     media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        return _completion(answer, request.model)

    app.include_router(v1)

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, error: ApiError) -> JSONResponse:
        return error.response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        # FastAPI's own refusals (a body it cannot decode, ...) in the API's error shape.
        message = error.detail if isinstance(error.detail, str) else "the request was refused"
        if error.status_code == 400 and "parsing the body" in message:
            message = "the request body is not valid JSON (nor UTF-8 text)"
        return ApiError(error.status_code, message, code="invalid_request",
                        headers=dict(error.headers or {})).response()

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        if any(problem.get("type") == "json_invalid" for problem in problems):
            return ApiError(400, "the request body is not valid JSON",
                            code="invalid_json").response()
        first = problems[0] if problems else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        message = "; ".join(
            f"{'.'.join(str(p) for p in problem.get('loc', ()) if p != 'body') or 'body'}: "
            f"{problem.get('msg', 'invalid')}" for problem in problems[:5])
        return ApiError(422, f"invalid request: {message}", param=where or None,
                        code="invalid_request").response()

    app.add_middleware(_ApiGate)


ROUTES = {"/health": "GET", "/v1/models": "GET", "/v1/chat/completions": "POST",
          "/v1/openapi.json": "GET"}
"""The API's paths and the method each takes."""


class _ApiGate:
    """Answers, before the app does, what the API refuses whatever the route: a path under /v1
    it does not have (404), a method a path does not take (405, whatever the method, even one
    FastAPI knows no route for), and an over-size body (413, before it is read). Without it,
    Gradio, mounted at "/", would answer the first two with its own page. An ASGI middleware,
    which, unlike ``@app.middleware``, leaves the streaming responses of the mounted UI
    untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await refusal.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _refusal(scope: dict) -> ApiError | None:
        path, method = scope["path"], scope["method"]
        if not (path.startswith("/v1/") or path == "/health"):
            return None
        allowed = ROUTES.get(path)
        if allowed is None:
            return ApiError(404, f"the API has no path {path!r}; it has "
                                 f"{', '.join(p for p in ROUTES if p != '/v1/openapi.json')}",
                            code="not_found")
        if method != allowed and not (method == "HEAD" and allowed == "GET"):
            return ApiError(405, f"{path} takes {allowed} only", code="method_not_allowed",
                            headers={"Allow": allowed})
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > MAX_REQUEST_BYTES:
            return ApiError(413, f"the request body is {int(length):,} bytes; the limit is "
                                 f"{MAX_REQUEST_BYTES:,}", code="request_too_large")
        return None
