"""The ``openai`` backend: OpenAI, or any OpenAI-compatible server by base URL, through the
official ``openai`` client (which brings retries and timeouts)."""

from __future__ import annotations

from collections.abc import Iterator

from qa.backends.base import Message, TextGenerator
from qa.errors import BackendConfigError, BackendNotInstalledError, BackendUnavailableError
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
        self._client = openai.OpenAI(
            api_key=key or _PLACEHOLDER_KEY,
            base_url=settings.openai_base_url,
            timeout=settings.request_timeout,
            max_retries=settings.max_retries,
        )

    def stream(self, messages: list[Message]) -> Iterator[str]:
        openai = self._openai
        try:
            response = self._client.chat.completions.create(
                model=self.model, messages=messages, stream=True,
                max_tokens=self._max_tokens, temperature=self._temperature,
            )
            for chunk in response:
                if chunk.choices and chunk.choices[0].delta and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except openai.APITimeoutError as exc:
            raise BackendUnavailableError(
                f"the model server at {self.base_url} did not answer in time; raise "
                "QA_REQUEST_TIMEOUT or check the server"
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
