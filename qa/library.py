"""The library: copies of the articles a user added, kept so the index can be rebuilt without
the originals. The embedded store keeps them as files in the data directory; the PostgreSQL
store keeps them in the database (``qa.pgstore``), so every process sharing it sees them.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from qa.corpus import Article, find_article_files, load_articles
from qa.errors import ArticleError, IndexBuildError

__all__ = ["Library", "FolderLibrary"]


class Library(Protocol):
    """Where added articles are kept."""

    def adding(self, paths: Sequence[Path]) -> contextlib.AbstractContextManager[None]:
        """Keep copies of the (already checked) article files ``paths``, replacing any of the
        same name; if the block (the indexing) raises, put the library back as it was, so it
        stays as the index has it. Raises IndexBuildError if the copies cannot be written."""

    def removing(self, article_id: str) -> contextlib.AbstractContextManager[bool]:
        """Drop the copy of an added article, giving whether there was one; if the block (the
        indexing) raises, put it back, so the library stays as the index has it. Raises
        IndexBuildError if the copy cannot be dropped."""

    def load(self) -> tuple[list[Article], list[ArticleError]]:
        """Every added article; copies that cannot be read are returned as errors."""

    def read(self, article_id: str) -> Article | None:
        """The added article with this id (None if there is none, or it cannot be read)."""


class FolderLibrary:
    """Added articles as files in one folder (``<data_dir>/articles``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextlib.contextmanager
    def adding(self, paths: Sequence[Path]) -> Iterator[None]:
        copied: list[tuple[Path, bytes | None]] = []
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _remove_stale_copies(self.folder)
            for path in paths:
                target = self.folder / path.name
                copied.append((target, target.read_bytes() if target.exists() else None))
                _write_atomically(target, path.read_bytes())
            yield
        except OSError as exc:
            _undo_copies(copied)
            raise IndexBuildError(
                f"cannot copy the articles into the library in {self.folder} "
                f"({exc.strerror or exc}); nothing was added and the previous index is unchanged. "
                "Free some space or make it writable, or point QA_DATA_DIR (--data-dir) at "
                "another folder") from exc
        except IndexBuildError:
            _undo_copies(copied)  # the library stays as the index has it
            raise

    @contextlib.contextmanager
    def removing(self, article_id: str) -> Iterator[bool]:
        found = [p for p in find_article_files([self.folder])
                 if p.stem == article_id] if self.folder.exists() else []
        removed: list[tuple[Path, bytes | None]] = []
        try:
            for path in found:
                removed.append((path, path.read_bytes()))
                path.unlink()
        except OSError as exc:
            _undo_copies(removed)
            raise IndexBuildError(
                f"cannot remove {article_id!r} from the library in {self.folder} "
                f"({exc.strerror or exc}); nothing was removed and the index is unchanged. "
                "Make it writable, or point QA_DATA_DIR (--data-dir) at another folder") from exc
        try:
            yield bool(found)
        except Exception:
            _undo_copies(removed)  # the library stays as the index has it
            raise

    def load(self) -> tuple[list[Article], list[ArticleError]]:
        return load_articles([self.folder]) if self.folder.is_dir() else ([], [])

    def read(self, article_id: str) -> Article | None:
        found = [p for p in find_article_files([self.folder])
                 if p.stem == article_id] if self.folder.is_dir() else []
        articles, _ = load_articles(found[:1])
        return articles[0] if articles else None


_INCOMING = ".incoming-"  # a copy being written; renamed to the article's name when whole
_STALE_AFTER_SECONDS = 3600


def _write_atomically(target: Path, data: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=_INCOMING)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _remove_stale_copies(folder: Path) -> None:
    """Delete the half-written copies a killed process left behind. Only those older than an
    hour: a younger one may be another process's copy in progress."""
    cutoff = time.time() - _STALE_AFTER_SECONDS
    for leftover in folder.glob(_INCOMING + "*"):
        with contextlib.suppress(OSError):  # gone already, or not ours to delete
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


def _undo_copies(copied: list[tuple[Path, bytes | None]]) -> None:
    """Put the library back as it was before an add that failed (as far as a full disk lets)."""
    for target, previous in reversed(copied):
        with contextlib.suppress(OSError):
            if previous is None:
                target.unlink(missing_ok=True)
            else:
                _write_atomically(target, previous)
