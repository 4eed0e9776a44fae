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
        # Shown in error messages, so without any user:password in it.
        self.base_url = _without_credentials(settings.openai_base_url or "https://api.openai.com/v1")
        self._secrets = [s for s in (key, _credentials_of(settings.openai_base_url)) if s]
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
        except openai.AuthenticationError:
            raise BackendConfigError(
                f"the model server at {self.base_url} refused the API key; check OPENAI_API_KEY"
            ) from None  # its message may echo the key
        except openai.NotFoundError:
            raise BackendConfigError(
                f"the model server at {self.base_url} has no model {self.model!r}; "
                "set QA_OPENAI_MODEL to one it serves"
            ) from None
        except openai.APIStatusError as exc:
            raise BackendUnavailableError(
                f"the model server at {self.base_url} answered HTTP {exc.status_code}: "
                f"{_short(self._redacted(exc.message))}"
            ) from None  # the chained error would carry the server's words unredacted

    def _redacted(self, text: str) -> str:
        """``text`` (a server's error message) with the key and URL credentials blanked: a
        server may echo the key it refused."""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def _without_credentials(url: str) -> str:
    """``url`` without the ``user:password@`` part, if it has one."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _credentials_of(url: str | None) -> str | None:
    """The ``user:password`` part of ``url``, if it has one."""
    from urllib.parse import urlsplit

    netloc = urlsplit(url).netloc if url else ""
    return netloc.rsplit("@", 1)[0] if "@" in netloc else None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
