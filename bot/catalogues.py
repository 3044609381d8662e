"""The translators' side of the UI catalogues: merge new strings, add a language, count.

``make i18n`` merges the extracted template into every catalogue (:func:`update_all`),
``medvirk languages add xx`` creates a new one (:func:`add_language`) and ``medvirk languages``
shows how far each is (:func:`catalogue_state`). Babel reads and writes the files; it drops
PO headers it does not know, so the checked header is carried over by hand.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from handlers.i18n import (
    CHECKED_HEADER,
    DOMAIN,
    LANGUAGES,
    LOCALES,
    catalogue_path,
    own_name,
    read_catalogue,
)

TEMPLATE = LOCALES / f"{DOMAIN}.pot"
#: Catalogues a native speaker of the team wrote; the header of a new one says "no".
CODE = re.compile(r"[a-z]{2,3}")
_CHECKED_LINE = re.compile(rf'^"{CHECKED_HEADER}:\s*([^\\"]*)', re.IGNORECASE | re.MULTILINE)


class LanguageRefused(ValueError):
    """A language that cannot be added, with the reason in plain words."""


@dataclass(frozen=True)
class CatalogueState:
    """How far a catalogue is: strings translated of all, and whether a native speaker checked."""

    code: str
    translated: int
    total: int
    checked: bool

    @property
    def name(self) -> str:
        """The language's name in itself."""
        return own_name(self.code)

    @property
    def complete(self) -> bool:
        """Every string translated."""
        return self.translated == self.total


def is_translated(strings: str | Sequence[str] | None, fuzzy: bool) -> bool:
    """An entry counts once every plural form has a text and no tool marked it fuzzy."""
    forms = [strings] if isinstance(strings, str) else list(strings or ())
    return bool(forms) and all(forms) and not fuzzy


def checked_value(path: Path) -> str:
    """The checked header's value in a catalogue file ("yes", "no"; "" when it has none)."""
    found = _CHECKED_LINE.search(path.read_text(encoding="utf-8"))
    return found[1].strip().lower() if found else ""


def catalogue_state(code: str) -> CatalogueState:
    """How many UI strings ``code`` has translated, and whether a native speaker checked it."""
    entries = [message for message in read_catalogue(code) if message.id]
    done = sum(is_translated(message.string, message.fuzzy) for message in entries)
    return CatalogueState(code, done, len(entries), checked_value(catalogue_path(code)) == "yes")


def catalogue_states() -> list[CatalogueState]:
    """Every UI language's state, in the picker's order."""
    return [catalogue_state(code) for code in LANGUAGES]


def _write(path: Path, catalog: Catalog, checked: str) -> None:
    """Write ``catalog`` to ``path`` as ``make i18n`` always has, with the checked header."""
    buffer = BytesIO()
    write_po(buffer, catalog, width=0, ignore_obsolete=True)
    text = buffer.getvalue().decode("utf-8")
    header = f'"{CHECKED_HEADER}: {checked}\\n"\n'
    # After the last header line (the one before the first empty line).
    head, separator, rest = text.partition("\n\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + "\n" + header.rstrip("\n") + separator + rest, encoding="utf-8")


def _template() -> Catalog:
    with TEMPLATE.open("rb") as pot:
        return read_po(pot)


def update_catalogue(code: str, template: Catalog) -> None:
    """Merge the template's strings into ``code``'s catalogue; its translations and checked
    header stay, strings no longer in the code go."""
    path = catalogue_path(code)
    checked = checked_value(path) or "no"
    catalog = read_catalogue(code)
    catalog.update(template, no_fuzzy_matching=True)
    _write(path, catalog, checked)


def update_all() -> None:
    """Merge the template into every catalogue, then fill English (``make i18n``)."""
    template = _template()
    for code in LANGUAGES:
        update_catalogue(code, template)
    fill_english()


def fill_english() -> None:
    """Make every English entry its own translation: the message ids are English."""
    path = catalogue_path("en")
    catalog = read_catalogue("en")
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.id and not all(strings):
            message.string = message.id if isinstance(message.id, str) else tuple(message.id)
    _write(path, catalog, checked_value(path) or "yes")


def add_language(code: str, locales: Path = LOCALES) -> Path:
    """Create the catalogue of a new UI language: every string empty, not checked.

    It is offered from the next start on (``handlers.i18n`` finds the catalogues), with the
    English text of every string until its translation is there.
    """
    if not CODE.fullmatch(code):
        raise LanguageRefused(f"{code!r} is not a language code: use two or three letters (pl)")
    path = catalogue_path(code, locales)
    if path.exists():
        raise LanguageRefused(f"{code} is a UI language already: {path}")
    try:
        locale = Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        raise LanguageRefused(f"{code!r} is not a language Babel knows (CLDR)") from None
    with (locales / f"{DOMAIN}.pot").open("rb") as pot:
        catalog = read_po(pot)
    catalog.locale = locale
    catalog.project, catalog.version = "Medvirk", "VERSION"
    catalog.revision_date = datetime.now(UTC)
    catalog.fuzzy = False
    catalog.header_comment = (
        f"# {locale.english_name} translations for Medvirk.\n"
        f"# Set {CHECKED_HEADER} to yes once a native speaker checked every text."
    )
    _write(path, catalog, "no")
    return path


_PLACEHOLDER = re.compile(r"\{[a-z_]*(?:![rsa])?(?::[^{}]*)?\}")


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders of a text (a translation must keep the source's)."""
    return set(_PLACEHOLDER.findall(text))
