"""A conversation: follow-up questions are answered with the earlier turns in view."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from qa.answer import Answer
from qa.answering import Turn

if TYPE_CHECKING:
    from qa.assistant import Assistant

__all__ = ["Chat"]


class Chat:
    """A chat with an Assistant. ``ask`` and ``stream`` behave as the Assistant's do, and
    remember each exchange so that "Where were they held?" knows who "they" are."""

    def __init__(self, assistant: Assistant) -> None:
        self._assistant = assistant
        self.history: list[Turn] = []

    def ask(self, question: str) -> Answer:
        """Answer ``question`` in the context of this chat, and remember the exchange."""
        answer = self._assistant._answerer.ask(question, self.history)
        self.history.append(Turn(question, answer))
        return answer

    def stream(self, question: str) -> Iterator[str | Answer]:
        """Yield the answer text as it is produced, then the verified Answer (remembered)."""
        for item in self._assistant._answerer.stream(question, self.history):
            if isinstance(item, Answer):
                self.history.append(Turn(question, item))
            yield item

    def reset(self) -> None:
        """Forget the conversation so far."""
        self.history.clear()
