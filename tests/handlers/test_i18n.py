"""The three catalogues are complete: every UI string translated, placeholders intact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from handlers.i18n import LANGUAGES, LOCALES

ROOT = Path(__file__).parents[2]
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def _source_messages() -> set[str | tuple[str, ...]]:
    found: set[str | tuple[str, ...]] = set()
    for folder in ("handlers", "bot"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")]
        ):
            found.add(message)
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_ui_string_is_translated(language: str) -> None:
    with (LOCALES / language / "LC_MESSAGES" / "medvirk.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    missing = []
    for message in _source_messages():
        key = message if isinstance(message, str) else message[0]
        entry = catalog.get(key)
        strings = (
            []
            if entry is None
            else (list(entry.string) if isinstance(entry.string, tuple) else [entry.string])
        )
        if entry is None or not all(strings) or entry.fuzzy:
            missing.append(key)
            continue
        wanted = set(PLACEHOLDER.findall(key if isinstance(message, str) else message[1]))
        for text in strings:
            if not set(PLACEHOLDER.findall(text)) <= wanted:
                missing.append(f"{key} (placeholders differ)")
    assert not missing, f"{language}: untranslated or broken: {missing}"
