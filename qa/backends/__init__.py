"""Answer backends: the text generators behind one narrow interface, built by one factory.

``extractive`` needs no generator (it answers with verbatim sentences); ``local`` and
``openai`` stream chat completions. Heavy integrations are imported only when chosen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qa.backends.base import BACKENDS, TextGenerator

if TYPE_CHECKING:
    from qa.settings import Settings

__all__ = ["TextGenerator", "build_generator", "BACKENDS"]


def build_generator(settings: Settings) -> TextGenerator | None:
    """The generator for ``settings.backend`` (None for the extractive backend)."""
    if settings.backend == "extractive":
        return None
    if settings.backend == "local":
        from qa.backends.local import LocalGenerator

        return LocalGenerator(settings)
    if settings.backend == "openai":
        from qa.backends.openai import OpenAIGenerator

        return OpenAIGenerator(settings)
    from qa.errors import SettingsError

    raise SettingsError(f"unknown backend {settings.backend!r}; choose one of {', '.join(BACKENDS)}")
