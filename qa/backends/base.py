"""The contract every generative backend meets: chat messages in, a stream of text out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Literal, get_args

__all__ = ["TextGenerator", "Message", "BackendName", "BACKENDS"]

BackendName = Literal["extractive", "local", "openai"]
BACKENDS: tuple[str, ...] = get_args(BackendName)
"""The answer backends, spelled here only: settings, the CLI, the API and the evals read them."""

Message = dict[str, str]
"""A chat message: ``{"role": "system" | "user" | "assistant", "content": "..."}``."""


class TextGenerator(ABC):
    """A chat model. ``stream`` yields pieces of the reply as the model writes them and raises
    ``qa.errors.BackendError`` subclasses (never a library's own exception) on failure."""

    name: str = ""
    max_passages: int | None = None
    """How many of the answer step's passages the model reads (None: all of them)."""
    passage_tokens: int = 0
    """When > 0, of those passages the model reads the best while their text (counted in the
    chunker's tokens) fits this budget, and always the first; 0: no budget."""
    passage_sentences: int = 0
    """When > 0, each passage the model reads holds only its sentences among this many
    best-ranked evidence sentences; 0: whole passages."""

    @abstractmethod
    def stream(self, messages: list[Message]) -> Iterator[str]:
        """Yield the reply to ``messages`` piece by piece."""

    def complete(self, messages: list[Message]) -> str:
        """The whole reply at once."""
        return "".join(self.stream(messages))
