"""The ``openai`` backend: OpenAI, or any OpenAI-compatible server by base URL, through the
official ``openai`` client (which brings retries and timeouts)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx

from qa.backends.base import Message, TextGenerator
from qa.errors import (
    AnswerInterruptedError,
    BackendConfigError,
    BackendNotInstalledError,
    BackendUnavailableError,
)
from qa.settings import Settings

__all__ = ["OpenAIGenerator"]

# A local OpenAI-compatible server usually ignores the key, but the client requires one.
_PLACEHOLDER_KEY = "not-needed"


class OpenAIGenerator(TextGenerator):
    """Chat completions from ``settings.openai_model`` at ``settings.openai_base_url`` (or OpenAI)."""

    name = "openai"

    def __init__(self, settings: Settings) -> None:
        try:
            import openai
        except ImportError as exc:  # pragma: no cover - openai is a core dependency
            raise BackendNotInstalledError("the openai backend needs `pip install openai`") from exc
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        if not key and not settings.openai_base_url:
            raise BackendConfigError(
                "the openai backend needs OPENAI_API_KEY (for OpenAI) or QA_OPENAI_BASE_URL "
                "(for a compatible server such as http://127.0.0.1:8000/v1); or use --backend extractive"
            )
        self._openai = openai
        self.model = settings.openai_model
        self.base_url = settings.openai_base_url or "https://api.openai.com/v1"
        self._max_tokens = settings.max_answer_tokens
        self._temperature = settings.temperature
        self._timeout = settings.request_timeout
        self._max_retries = settings.max_retries
        self._client = openai.OpenAI(
            api_key=key or _PLACEHOLDER_KEY,
            base_url=settings.openai_base_url,
            timeout=settings.request_timeout,
            max_retries=settings.max_retries,
        )

    def stream(self, messages: list[Message]) -> Iterator[str]:
        response = self._request(messages)
        openai = self._openai
        try:
            for chunk in response:
                if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        # The client retries and translates errors only until the reply starts; a server that
        # dies or stalls after that surfaces as httpx's own errors while the stream is read.
        except httpx.TimeoutException as exc:
            raise AnswerInterruptedError(
                f"the model server at {self.base_url} went silent in the middle of its answer "
                f"for over {self._timeout:g} s (QA_REQUEST_TIMEOUT); check the server"
            ) from exc
        except (httpx.TransportError, openai.APIError) as exc:
            raise AnswerInterruptedError(
                f"the model server at {self.base_url} stopped in the middle of its answer "
                f"({_short(str(exc), 120)}); is it still running?"
            ) from exc
        finally:
            response.close()

    def _request(self, messages: list[Message]):
        """The streamed reply, once the server has started it (the client retries until then)."""
        openai = self._openai
        try:
            return self._client.chat.completions.create(
                model=self.model, messages=messages, stream=True,
                max_tokens=self._max_tokens, temperature=self._temperature,
            )
        except openai.APITimeoutError as exc:
            tries = self._max_retries + 1
            raise BackendUnavailableError(
                f"the model server at {self.base_url} did not answer in time: no reply within "
                f"{self._timeout:g} s (QA_REQUEST_TIMEOUT), {tries} tr{'y' if tries == 1 else 'ies'} "
                f"(QA_MAX_RETRIES={self._max_retries}); raise QA_REQUEST_TIMEOUT or check the server"
            ) from exc
        except openai.APIConnectionError as exc:
            raise BackendUnavailableError(
                f"cannot reach the model server at {self.base_url}; is it running? "
                "(set QA_OPENAI_BASE_URL to its address)"
            ) from exc
        except openai.AuthenticationError as exc:
            raise BackendConfigError(
                f"the model server at {self.base_url} refused the API key; check OPENAI_API_KEY"
            ) from exc
        except openai.NotFoundError as exc:
            raise BackendConfigError(
                f"the model server at {self.base_url} has no model {self.model!r}; "
                "set QA_OPENAI_MODEL to one it serves"
            ) from exc
        except openai.APIStatusError as exc:
            raise BackendUnavailableError(
                f"the model server at {self.base_url} answered HTTP {exc.status_code}: "
                f"{_short(exc.message)}"
            ) from exc


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
