"""The ``local`` backend: a GGUF model from the catalogue (``QA_LOCAL_MODEL``), or any GGUF file
(``QA_LOCAL_MODEL_PATH``), run on the CPU by llama-cpp-python.

We call ``llama_cpp`` directly rather than llama-index's LlamaCPP wrapper: the wrapper formats
prompts with its own Llama-2 template, while ``create_chat_completion`` applies the chat
template stored in the GGUF file, which is the one the model was trained with. A catalogue
entry whose file stores no template names the llama_cpp chat format to use instead.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator
from pathlib import Path

from qa.backends.base import Message, TextGenerator
from qa.embedding import usable_cpus
from qa.errors import BackendConfigError, BackendNotInstalledError
from qa.settings import Settings, load_settings

__all__ = ["LocalGenerator", "default_model_path"]

# One loaded model per (file, context, threads, chat format), with the lock that makes every
# generator sharing it take turns: a Llama instance serves one request at a time.
_LOADED: dict[tuple[str, int, int, str | None], tuple[object, threading.Lock]] = {}
_LOAD_LOCK = threading.Lock()


@atexit.register
def _close_models() -> None:
    # Closing before interpreter teardown avoids llama-cpp-python's noisy __del__ at exit.
    while _LOADED:
        _, (model, _lock) = _LOADED.popitem()
        model.close()


def default_model_path(settings: Settings | None = None) -> Path:
    """The GGUF file the local backend runs with ``settings`` (default: from the environment):
    ``local_model_path`` if set, else the catalogue model ``local_model``, joined and verified
    under the data directory on first use."""
    from qa.backends.model_files import model_path

    settings = settings or load_settings()
    if settings.local_model_path is not None:
        return settings.local_model_path
    return model_path(settings.local_model, settings.models_dir)


class LocalGenerator(TextGenerator):
    """Chat completions from a GGUF model on the CPU; the model loads once per process."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise BackendNotInstalledError(
                "the local backend needs llama-cpp-python: pip install -e '.[local]'"
            ) from exc
        from qa.backends.catalogue import CATALOGUE

        self.model_path = default_model_path(settings)
        if not self.model_path.is_file():
            raise BackendConfigError(
                f"no model file at {self.model_path}; set QA_LOCAL_MODEL_PATH to a GGUF file"
            )
        entry = None if settings.local_model_path else CATALOGUE[settings.local_model]
        self.model_name = entry.name if entry else self.model_path.name
        chat_format = entry.chat_format if entry else None
        self._system_role = entry.system_role if entry else True
        # more llama.cpp threads than the CPUs we may use make its threads wait on each other
        threads = settings.local_threads or usable_cpus()
        key = (str(self.model_path), settings.local_context_tokens, threads, chat_format)
        with _LOAD_LOCK:
            if key not in _LOADED:
                llama = llama_cpp.Llama(
                    model_path=str(self.model_path), n_ctx=settings.local_context_tokens,
                    n_threads=threads, n_threads_batch=threads, chat_format=chat_format,
                    verbose=False,
                )
                _LOADED[key] = (llama, threading.Lock())
        self._llama, self._lock = _LOADED[key]
        self._max_tokens = settings.max_answer_tokens
        self.max_passages = settings.local_passages
        self.passage_tokens = settings.local_passage_tokens
        self.passage_sentences = settings.local_passage_sentences
        self._temperature = settings.temperature

    def stream(self, messages: list[Message]) -> Iterator[str]:
        if not self._system_role:
            messages = system_into_first_user_turn(messages)
        with self._lock:
            try:
                for chunk in self._llama.create_chat_completion(
                    messages=messages, stream=True, max_tokens=self._max_tokens,
                    temperature=self._temperature,
                ):
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            except ValueError as exc:
                if "context window" not in str(exc):
                    raise
                # llama_cpp's "Requested tokens (N) exceed context window of M".
                raise BackendConfigError(
                    f"the prompt does not fit the local model's context ({exc}); raise "
                    "QA_LOCAL_CONTEXT_TOKENS, or lower QA_TOP_K or QA_HISTORY_TURNS"
                ) from exc


def system_into_first_user_turn(messages: list[Message]) -> list[Message]:
    """The messages with system prompts prepended to the first user turn, for models without a
    system role (llama_cpp's 'gemma' format would otherwise drop them, as Gemma's own template
    does this)."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
    rest = [dict(m) for m in messages if m["role"] != "system"]
    first_user = next((m for m in rest if m["role"] == "user"), None)
    if system and first_user is not None:
        first_user["content"] = f"{system}\n\n{first_user['content']}"
    return rest
