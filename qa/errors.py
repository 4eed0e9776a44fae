"""Every exception qa raises on purpose, in one place.

    QAError
    ├── InvalidQuestionError      the question is empty or too long
    ├── ArticleError              an article file is missing, unreadable, or not text
    ├── IndexBuildError           building or loading the index failed (the last whole index is kept)
    ├── StoreError                the PostgreSQL store (QA_STORE_URL) is malformed, unreachable or refused
    ├── BackendError              an answer backend cannot run
    │   ├── BackendNotInstalledError   its optional package is missing (names the extra)
    │   ├── BackendConfigError         a required setting is missing (names the variable)
    │   │   └── ModelFileError             a local model's file is damaged (names the package)
    │   └── BackendUnavailableError    the model server is down, slow, or refused the request
    │       └── AnswerInterruptedError     it stopped in the middle of its answer
    └── SettingsError             a setting has a value that cannot work

Every message says what happened and how to fix it; the CLI prints it as one line.
"""

from __future__ import annotations

__all__ = [
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


class QAError(Exception):
    """Base class of every error qa raises on purpose."""


class InvalidQuestionError(QAError, ValueError):
    """The question cannot be asked: empty, whitespace only, or over the length limit."""


class ArticleError(QAError):
    """An article file is missing, unreadable, or holds no text."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class IndexBuildError(QAError):
    """The index could not be built or loaded; the last complete index is left as it was."""


class StoreError(QAError):
    """The chunk store named by QA_STORE_URL cannot be used: the URL is malformed, the server
    cannot be reached or refuses the connection, or lacks the ``vector`` extension. qa never
    falls back to the embedded store in its place."""


class BackendError(QAError):
    """An answer backend cannot produce an answer."""


class BackendNotInstalledError(BackendError):
    """The backend's optional dependency is not installed."""


class BackendConfigError(BackendError):
    """The backend lacks a setting it needs (an API key or a base URL)."""


class ModelFileError(BackendConfigError):
    """A local model's files are not the pinned bytes (a truncated or damaged package), or
    there is no room to join them; the message names the package to reinstall."""


class BackendUnavailableError(BackendError):
    """The model server did not answer in time, refused the connection, or returned an error."""


class AnswerInterruptedError(BackendUnavailableError):
    """The model server began its answer and then stopped: it died, dropped the connection, or
    went silent for longer than the timeout. The Assistant gives the extractive answer instead
    when a sentence answers well enough to quote (``Answer.warning`` says so); else this is raised."""


class SettingsError(QAError, ValueError):
    """A setting has a value that cannot work."""
