"""UI strings through gettext catalogues; the current language lives in a ContextVar.

Catalogues are ``handlers/locales/<lang>/LC_MESSAGES/medvirk.po``, read with Babel and compiled
in memory at import, so there is no build step and no binary file in the repository. Message ids
are English; ``make i18n`` re-extracts them and merges them into the three catalogues.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LANGUAGES = ("nb", "nn", "en")
LANGUAGE_NAMES = {"nb": "Norsk bokmål", "nn": "Norsk nynorsk", "en": "English"}
LOCALES = Path(__file__).parent / "locales"
DOMAIN = "medvirk"

_current: ContextVar[str] = ContextVar("language", default="nb")


def _load(language: str) -> _gettext.NullTranslations:
    path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return _gettext.NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


_catalogues = {language: _load(language) for language in LANGUAGES}


def gettext(message: str) -> str:
    """Translate ``message`` into the current language."""
    return _catalogues[_current.get()].gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate with a plural form chosen by ``n``."""
    return _catalogues[_current.get()].ngettext(singular, plural, n)


_ = gettext


def current_language() -> str:
    """The language replies are written in right now."""
    return _current.get()


def set_language(language: str) -> None:
    """Write replies for this update in ``language``."""
    _current.set(language if language in LANGUAGES else "nb")


@contextmanager
def language(code: str) -> Iterator[None]:
    """Write in ``code`` inside the block (previews, messages to other people)."""
    token = _current.set(code if code in LANGUAGES else "nb")
    try:
        yield
    finally:
        _current.reset(token)


def fill_english() -> None:
    """Make every English entry its own translation (``make i18n`` calls this)."""
    from babel.messages.pofile import write_po

    path = LOCALES / "en" / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale="en")
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.id and not all(strings):
            message.string = message.id if isinstance(message.id, str) else tuple(message.id)
    with path.open("wb") as po:
        write_po(po, catalog, no_location=True, width=0)


def guess_language(language_code: str | None, default: str) -> str:
    """Map Telegram's ``language_code`` (an IETF tag) to a supported language."""
    if not language_code:
        return default
    primary = language_code.lower().replace("_", "-").split("-")[0]
    if primary in ("nb", "no"):
        return "nb"
    if primary in LANGUAGES:
        return primary
    return default
