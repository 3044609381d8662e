"""UI strings through gettext catalogues; the current language lives in a ContextVar.

Catalogues are ``handlers/locales/<lang>/LC_MESSAGES/medvirk.po``, read with Babel and compiled
in memory, so there is no build step and no binary file in the repository. A language is
offered when its catalogue exists: adding one is one file (``medvirk languages add xx``). Each
catalogue is compiled the first time someone reads it (start-up stays fast; ``medvirk run``
warms them all when it publishes the command menus). Message ids are English; ``make i18n``
re-extracts them and merges them into every catalogue.

Whether a native speaker checked a catalogue is its own header, ``X-Checked-By-Native-Speaker:
yes`` (or ``no``; a catalogue without the header counts as not checked).

In a right-to-left language every value put into a translated text with ``.format`` is wrapped
in Unicode isolates (FSI … PDI): a Latin name, a number or a link then keeps its own direction
and cannot reorder the Arabic sentence around it (docs/languages.md).
"""

from __future__ import annotations

import gettext as _gettext
import re
import string
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = Path(__file__).parent / "locales"
DOMAIN = "medvirk"
#: The header a translator sets to ``yes`` once a native speaker checked the catalogue.
CHECKED_HEADER = "X-Checked-By-Native-Speaker"
#: The order of the picker: Norwegian first, then by the size of the groups in the municipality.
#: A language added later (a catalogue not listed here) comes after these, alphabetically.
PICKER_ORDER = ("nb", "nn", "en", "pl", "uk", "lt", "ar", "so", "ti")
#: Babel's locale for a language's dates and numbers, where it is not the language code itself:
#: English readers in Norway get day-first dates and a 24-hour clock, not the US forms.
BABEL_LOCALES = {"en": "en_GB"}
FALLBACK = "nb"

FSI, PDI = "\u2068", "\u2069"  # FIRST STRONG ISOLATE, POP DIRECTIONAL ISOLATE


def catalogue_path(code: str, locales: Path = LOCALES) -> Path:
    """Where the catalogue of ``code`` is."""
    return locales / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def found_languages(locales: Path = LOCALES) -> tuple[str, ...]:
    """The languages with a catalogue in ``locales``, in the picker's order."""
    found = {path.parents[1].name for path in locales.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    ordered = [code for code in PICKER_ORDER if code in found]
    return (*ordered, *sorted(found - set(ordered)))


#: The picker's names of the languages Medvirk ships with: CLDR's name of each in itself, written
#: out so that showing the picker does not load nine locales' data (about 15 MB of memory).
OWN_NAMES = {
    "nb": "Norsk bokmål",
    "nn": "Norsk nynorsk",
    "en": "English",
    "pl": "Polski",
    "uk": "Українська",
    "lt": "Lietuvių",
    "ar": "العربية",
    "so": "Soomaali",
    "ti": "ትግርኛ",
}


#: The shipped languages written right to left (CLDR's ``character_order``).
RIGHT_TO_LEFT = frozenset({"ar"})


def own_name(code: str) -> str:
    """A language's name in itself, as the picker shows it: "Polski", "العربية", "ትግርኛ"."""
    if code in OWN_NAMES:
        return OWN_NAMES[code]
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


LANGUAGES: tuple[str, ...] = found_languages()
LANGUAGE_NAMES: dict[str, str] = {code: own_name(code) for code in LANGUAGES}

_current: ContextVar[str] = ContextVar("language", default=FALLBACK)


def babel_locale(code: str) -> Locale:
    """The Babel locale whose conventions (dates, numbers, plurals) ``code`` follows."""
    return _babel_locale(code if code in LANGUAGES else FALLBACK)


@cache
def _babel_locale(code: str) -> Locale:
    return Locale.parse(BABEL_LOCALES.get(code, code))


def is_right_to_left(code: str) -> bool:
    """Whether ``code`` is written right to left (Arabic).

    Every translated text asks, so for the languages Medvirk ships with it is known without
    loading CLDR's data for each (about 1.6 MB a language, all nine when the command menus
    are published at start); a language added later asks Babel.
    """
    if code in OWN_NAMES:
        return code in RIGHT_TO_LEFT
    return babel_locale(code).character_order == "right-to-left"


def direction(code: str) -> str:
    """The HTML ``dir`` of a text in ``code``: ``rtl`` or ``ltr``."""
    return "rtl" if is_right_to_left(code) else "ltr"


def read_catalogue(code: str) -> Catalog:
    """The catalogue of ``code`` as Babel reads it (headers, entries, flags)."""
    with catalogue_path(code).open("rb") as po:
        return read_po(po, locale=code)


@cache
def _translations(code: str) -> _gettext.NullTranslations:
    """The compiled catalogue of ``code``; compiled once, on first use."""
    path = catalogue_path(code)
    if not path.exists():
        return _gettext.NullTranslations()
    buffer = BytesIO()
    write_mo(buffer, read_catalogue(code))
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def load_all() -> None:
    """Compile every catalogue now (a running bot, so no resident waits for the first)."""
    for code in LANGUAGES:
        _translations(code)


class _Isolating(string.Formatter):
    """Formats like ``str.format``, with every value between FSI and PDI."""

    def format_field(self, value: Any, format_spec: str) -> str:
        return FSI + super().format_field(value, format_spec) + PDI


_ISOLATING = _Isolating()


class RightToLeftText(str):
    """A translated text in a right-to-left language: ``format`` isolates the values."""

    __slots__ = ()

    def format(self, *args: Any, **kwargs: Any) -> str:
        """As ``str.format``, each value isolated."""
        return _ISOLATING.vformat(str(self), args, kwargs)

    def format_map(self, mapping: Any) -> str:
        """As ``str.format_map``, each value isolated."""
        return _ISOLATING.vformat(str(self), (), mapping)


#: A /command inside a sentence ("/privacy", not the "/b" of "</b>"): in right-to-left text its
#: slash, a neutral character, would otherwise be drawn after the word ("privacy/").
_COMMAND = re.compile(r"(?<![\w/<])/[a-z][a-z_]*")
LRI = "\u2066"  # LEFT-TO-RIGHT ISOLATE (closed by PDI)


def _written(text: str, code: str) -> str:
    if not is_right_to_left(code):
        return text
    return RightToLeftText(_COMMAND.sub(lambda found: LRI + found[0] + PDI, text))


def gettext(message: str) -> str:
    """Translate ``message`` into the current language."""
    code = _current.get()
    return _written(_translations(code).gettext(message), code)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Translate with the plural form the language's catalogue chooses for ``n``."""
    code = _current.get()
    return _written(_translations(code).ngettext(singular, plural, n), code)


_ = gettext


def current_language() -> str:
    """The language replies are written in right now."""
    return _current.get()


def set_language(language: str) -> None:
    """Write replies for this update in ``language``."""
    _current.set(language if language in LANGUAGES else FALLBACK)


@contextmanager
def language(code: str) -> Iterator[None]:
    """Write in ``code`` inside the block (previews, messages to other people)."""
    token = _current.set(code if code in LANGUAGES else FALLBACK)
    try:
        yield
    finally:
        _current.reset(token)


def yes_no_words(code: str) -> dict[str, str]:
    """The words for a yes/no question's options in ``code`` (for exports)."""
    with language(code):
        return {"yes": str(gettext("Yes")), "no": str(gettext("No"))}


def guess_language(language_code: str | None, default: str) -> str:
    """Map Telegram's ``language_code`` (an IETF tag: ``uk``, ``uk-UA``, ``ar-SA``) to a
    supported language; ``default`` when there is none."""
    if not language_code:
        return default
    primary = language_code.lower().replace("_", "-").split("-")[0]
    if primary in ("nb", "no"):
        return "nb"
    if primary in LANGUAGES:
        return primary
    return default


def guess_from_header(accept_language: str, default: str) -> str:
    """The first supported language of a browser's ``Accept-Language`` header."""
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip()
        if tag and guess_language(tag, "") in LANGUAGES:
            return guess_language(tag, default)
    return default
