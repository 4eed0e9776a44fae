"""A conversation: follow-up questions are answered with the earlier turns in view."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from qa.answer import Answer
from qa.answering import Turn

__all__ = ["Chat", "chat_with_history"]


class AnswersWithHistory(Protocol):
    """What a Chat asks: an answer stream for a question read after earlier turns
    (``qa.Assistant`` is one)."""

    def stream(self, question: str, history: Sequence[Turn] = ()) -> Iterator[str | Answer]: ...


class Chat:
    """A chat with an Assistant. ``ask`` and ``stream`` behave as the Assistant's do, and
    remember each exchange so that "Where were they held?" knows who "they" are."""

    def __init__(self, assistant: AnswersWithHistory) -> None:
        self._assistant = assistant
        self.history: list[Turn] = []

    def ask(self, question: str) -> Answer:
        """Answer ``question`` in the context of this chat, and remember the exchange."""
        final = None
        for item in self.stream(question):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def stream(self, question: str) -> Iterator[str | Answer]:
        """Yield the answer text as it is produced, then the verified Answer (remembered)."""
        for item in self._assistant.stream(question, self.history):
            if isinstance(item, Answer):
                self.history.append(Turn(question, item))
            yield item

    def reset(self) -> None:
        """Forget the conversation so far."""
        self.history.clear()


def chat_with_history(assistant: AnswersWithHistory, exchanges: Sequence[tuple[str, str]]) -> Chat:
    """A Chat that remembers earlier exchanges, given as (question, answer text) pairs.

    The UI and the API are stateless between requests: each request brings its conversation
    along (the chat box's messages, an OpenAI ``messages`` list), and is answered in a Chat
    rebuilt from it, so a reload, a retry or an edited history stays consistent.
    """
    chat = Chat(assistant)
    chat.history.extend(Turn(question, Answer(question, text)) for question, text in exchanges)
    return chat
