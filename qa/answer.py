"""What an answer is: text with inline markers [n], and the citation each marker points at."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

__all__ = ["Citation", "Answer", "ABSTAIN_TEXT"]

ABSTAIN_TEXT = "The articles don't say."


@dataclass(frozen=True)
class Citation:
    """A verbatim quote from an article that supports the answer.

    ``quote == article body[start:end]``: the span is in the article's body text (after the
    ``date`` header, if any). ``published`` is None when the article gives no date.
    """

    marker: int
    article_id: str
    title: str
    published: date | None
    quote: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["published"] = self.published.isoformat() if self.published else None
        return data


@dataclass(frozen=True)
class Answer:
    """An answer to one question.

    ``text`` carries markers like [1] that map to ``citations`` by ``Citation.marker``.
    ``abstained`` is True when the articles do not hold the answer (then there are no
    citations). ``backend`` names what produced the text; ``repaired`` is True when
    verification had to drop an unsupported claim or fall back to the extractive answer.
    ``warning`` is for the user, beside the answer: set when the model failed in the middle of
    its answer and this is the extractive answer instead.
    """

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    backend: str = "extractive"
    repaired: bool = False
    notes: list[str] = field(default_factory=list)
    warning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "question": self.question,
            "text": self.text,
            "abstained": self.abstained,
            "backend": self.backend,
            "repaired": self.repaired,
            "notes": list(self.notes),
            "warning": self.warning,
            "citations": [c.to_dict() for c in self.citations],
        }
