"""qa: ask questions over news articles; every answer cites verbatim passages.

    from qa import Assistant
    answer = Assistant().ask("When did Blinken host the two foreign ministers at Blair House?")
    print(answer.text, answer.citations)

Importing qa is cheap: the heavy parts load when an Assistant is first built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qa.answer import ABSTAIN_TEXT, Answer, Citation
from qa.errors import (
    AnswerInterruptedError,
    ArticleError,
    BackendConfigError,
    BackendError,
    BackendNotInstalledError,
    BackendUnavailableError,
    IndexBuildError,
    InvalidQuestionError,
    ModelFileError,
    QAError,
    SettingsError,
    StoreError,
)

if TYPE_CHECKING:
    from qa.assistant import Assistant, IndexResult
    from qa.chat import Chat
    from qa.settings import Settings

__all__ = [
    "Assistant",
    "Chat",
    "Answer",
    "Citation",
    "Settings",
    "IndexResult",
    "ABSTAIN_TEXT",
    "QAError",
    "InvalidQuestionError",
    "ArticleError",
    "IndexBuildError",
    "StoreError",
    "BackendError",
    "BackendNotInstalledError",
    "BackendConfigError",
    "BackendUnavailableError",
    "AnswerInterruptedError",
    "ModelFileError",
    "SettingsError",
]

_LAZY = {
    "Assistant": "qa.assistant",
    "IndexResult": "qa.assistant",
    "Chat": "qa.chat",
    "Settings": "qa.settings",
}


def __getattr__(name: str) -> Any:
    # The Assistant pulls in llama-index and ONNX Runtime: load it on first use, not on import.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
