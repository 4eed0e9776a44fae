"""``AssistantPool``: the served Assistant, and its variants with other answer settings, shared
by the chat UI and the HTTP API."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.errors import SettingsError

if TYPE_CHECKING:
    from qa.assistant import Assistant, IndexResult
    from qa.index import ArticleRecord, Progress

__all__ = ["AssistantPool", "DEFAULT_MAX_VARIANTS"]

DEFAULT_MAX_VARIANTS = 8
"""Assistants with other settings (backend, top_k, model) kept ready at once."""

_VARIANT_FIELDS = ("backend", "top_k", "openai_base_url", "openai_model")


class AssistantPool:
    """The served Assistant, and Assistants over the same index with other answer settings.

    A chat session or an API request that picks another backend, ``top_k`` or model gets a
    variant built by ``Assistant.using`` on first use and kept for the next one (the local model
    loads once). Adding articles goes through the pool, which drops the variants so that none
    answers from the old index.
    """

    def __init__(self, assistant: Assistant, max_variants: int = DEFAULT_MAX_VARIANTS) -> None:
        self.default = assistant
        self.max_variants = max_variants
        self._variants: OrderedDict[tuple[tuple[str, Any], ...], Assistant] = OrderedDict()
        self._lock = threading.Lock()
        self._library_lock = threading.Lock()

    @property
    def settings(self):
        """The served Assistant's settings (limits, token, defaults)."""
        return self.default.settings

    def get(self, **overrides: Any) -> Assistant:
        """The Assistant for these settings (``backend``, ``top_k``, ``openai_base_url``,
        ``openai_model``); None or "" means the served default. Raises SettingsError for a value
        that cannot work, or the backend's error when it cannot be built."""
        unknown = set(overrides) - set(_VARIANT_FIELDS)
        if unknown:
            raise SettingsError(f"cannot change {', '.join(sorted(unknown))} per request")
        current = self.default.settings
        changed = {name: value for name, value in overrides.items()
                   if value not in (None, "") and value != getattr(current, name)}
        if not changed:
            return self.default
        key = tuple(sorted(changed.items()))
        with self._lock:
            if key in self._variants:
                self._variants.move_to_end(key)
                return self._variants[key]
        variant = self._build(changed)
        with self._lock:
            self._variants[key] = variant
            while len(self._variants) > self.max_variants:
                self._variants.popitem(last=False)
        return variant

    def _build(self, changed: dict[str, Any]) -> Assistant:
        from pydantic import ValidationError

        try:
            return self.default.using(**changed)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
                                 for error in exc.errors())
            raise SettingsError(f"invalid settings: {problems}") from exc

    def articles(self) -> list[ArticleRecord]:
        """The indexed articles."""
        return self.default.articles()

    def add_articles(self, paths: Iterable[str | Path],
                     progress: Progress | None = None) -> IndexResult:
        """Add articles to the library (one upload at a time); they are answerable on return."""
        with self._library_lock:
            result = self.default.add_articles(paths, progress=progress)
            with self._lock:
                self._variants.clear()
        return result
