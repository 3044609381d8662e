"""Languages as people read their names, and the content language a consultation is shown in.

A consultation may be in languages the reader does not use for Medvirk. Its texts are shown in
the language of the person's response (:attr:`models.answers.Response.language`); the words
Medvirk adds around them (hints, "Done", "Back") follow that language too, so a question and
its buttons are always in one language. :func:`reading` sets both for a block of rendering.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from handlers.i18n import LANGUAGES, current_language, language

_content: ContextVar[str | None] = ContextVar("content_language", default=None)


def content_language() -> str:
    """The language consultation texts are shown in right now (the reader's, outside
    :func:`reading`)."""
    return _content.get() or current_language()


@contextmanager
def reading(code: str) -> Iterator[None]:
    """Render consultation texts in ``code``, and Medvirk's own words with them.

    Medvirk's words follow when it speaks ``code``; a consultation language it does not speak
    keeps the reader's interface language for them.
    """
    interface = code if code in LANGUAGES else current_language()
    with language(interface):
        token = _content.set(code)
        try:
            yield
        finally:
            _content.reset(token)
