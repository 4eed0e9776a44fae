"""The library: copies of the articles a user added, kept so the index can be rebuilt without
the originals. The embedded store keeps them as files in the data directory; the PostgreSQL
store keeps them in the database (``qa.pgstore``), so every process sharing it sees them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Protocol

from qa.corpus import Article, find_article_files, load_articles
from qa.errors import ArticleError

__all__ = ["Library", "FolderLibrary"]


class Library(Protocol):
    """Where added articles are kept."""

    def add(self, path: Path) -> None:
        """Keep a copy of the (already checked) article file ``path``, replacing one of the same name."""

    def remove(self, article_id: str) -> bool:
        """Drop the copy of an added article; False if no added article has this id."""

    def load(self) -> tuple[list[Article], list[ArticleError]]:
        """Every added article; copies that cannot be read are returned as errors."""

    def read(self, article_id: str) -> Article | None:
        """The added article with this id (None if there is none, or it cannot be read)."""


class FolderLibrary:
    """Added articles as files in one folder (``<data_dir>/articles``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def add(self, path: Path) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        _copy_atomically(path, self.folder / path.name)

    def remove(self, article_id: str) -> bool:
        removed = [p for p in find_article_files([self.folder])
                   if p.stem == article_id] if self.folder.exists() else []
        for path in removed:
            path.unlink()
        return bool(removed)

    def load(self) -> tuple[list[Article], list[ArticleError]]:
        return load_articles([self.folder]) if self.folder.is_dir() else ([], [])

    def read(self, article_id: str) -> Article | None:
        found = [p for p in find_article_files([self.folder])
                 if p.stem == article_id] if self.folder.is_dir() else []
        articles, _ = load_articles(found[:1])
        return articles[0] if articles else None


def _copy_atomically(source: Path, target: Path) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    os.close(descriptor)
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
