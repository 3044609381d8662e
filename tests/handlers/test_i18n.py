"""Every catalogue is complete and sound: translated, placeholders kept, plural forms of the
language, lengths Telegram accepts; and the pieces around them (the picker, the checked header,
dates and numbers, right-to-left isolation, adding a language)."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural

from bot.catalogues import add_language, catalogue_state, is_translated, placeholders
from bot.settings import Settings
from handlers.i18n import (
    FSI,
    LANGUAGE_NAMES,
    LANGUAGES,
    PDI,
    _,
    found_languages,
    guess_from_header,
    guess_language,
    is_right_to_left,
    language,
    ngettext,
    own_name,
    read_catalogue,
)
from handlers.views.privacy import language_rows
from handlers.views.times import date_text, day_and_time, time_text
from handlers.views.words import decimal, number

ROOT = Path(__file__).parents[2]
MESSAGE_LIMIT = 4096  # Telegram's limit for a message's text
BUTTON_LIMIT = 40  # longer labels are cut off on a phone
# A call that makes a button from a translated label: button(_("…"), …) and row(_("…"), …).
BUTTON_CALL = re.compile(r"\b(?:button|row)\(\s*_\(\s*\"((?:[^\"\\]|\\.)+)\"\s*\)")


def _source_ids() -> set[str]:
    """Every message id in the code and templates, extracted as ``make i18n`` does."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _entries(code: str) -> list[Message]:
    return [message for message in read_catalogue(code) if message.id]


def _forms(message: Message) -> list[str]:
    strings = message.string
    return list(strings) if isinstance(strings, tuple | list) else [str(strings or "")]


def _source(message: Message, form: int) -> str:
    ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
    return str(ids[min(form, len(ids) - 1)])


def test_the_nine_languages_are_offered_by_their_own_names() -> None:
    assert LANGUAGES == ("nb", "nn", "en", "pl", "uk", "lt", "ar", "so", "ti")
    assert list(LANGUAGE_NAMES.values()) == [
        "Norsk bokmål",
        "Norsk nynorsk",
        "English",
        "Polski",
        "Українська",
        "Lietuvių",
        "العربية",
        "Soomaali",
        "ትግርኛ",
    ]


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_ui_string_is_translated(code: str) -> None:
    catalog = read_catalogue(code)
    missing = sorted(
        key
        for key in _source_ids()
        if (entry := catalog.get(key)) is None or not is_translated(entry.string, entry.fuzzy)
    )
    assert not missing, f"{code}: {len(missing)} untranslated, empty or fuzzy: {missing[:8]}"


@pytest.mark.parametrize("code", LANGUAGES)
def test_every_placeholder_of_the_source_is_kept(code: str) -> None:
    broken = []
    for message in _entries(code):
        forms = [text for text in _forms(message) if text]
        if len(_forms(message)) == 1:
            if forms and placeholders(forms[0]) != placeholders(_source(message, 0)):
                broken.append(_source(message, 0))
            continue
        # Plural forms: a form may drop {n} ("one person") or use it where the language's
        # "one" covers 21 too; none may bring a placeholder the source does not have.
        allowed = placeholders(_source(message, 0)) | placeholders(_source(message, 1))
        used = set().union(*(placeholders(text) for text in forms)) if forms else allowed
        if not used <= allowed or not placeholders(_source(message, 1)) <= used:
            broken.append(_source(message, 1))
    assert not broken, f"{code}: placeholders differ from the source: {broken[:20]}"


@pytest.mark.parametrize("code", LANGUAGES)
def test_plural_forms_are_the_languages_own(code: str) -> None:
    catalog = read_catalogue(code)
    assert catalog.num_plurals == get_plural(code).num_plurals
    # Numbers in one CLDR category share a form, and different categories get different ones.
    rule = Locale.parse(code).plural_form
    form_of: dict[str, set[int]] = {}
    with language(code):
        for n in range(0, 250):
            chosen = ngettext("{n} person", "{n} people", n)
            form_of.setdefault(rule(n), set()).add(hash(chosen.replace(str(n), "")))
    index = {category: forms for category, forms in form_of.items()}
    assert all(len(forms) == 1 for forms in index.values()), index
    for message in _entries(code):
        if isinstance(message.id, tuple | list) and is_translated(message.string, False):
            assert len(_forms(message)) == catalog.num_plurals, message.id


@pytest.mark.parametrize("code", LANGUAGES)
def test_no_text_is_longer_than_telegram_allows_and_buttons_stay_short(code: str) -> None:
    catalog = read_catalogue(code)
    for message in _entries(code):
        assert all(len(text) <= MESSAGE_LIMIT for text in _forms(message)), message.id
    labels = set()
    for path in [*ROOT.glob("handlers/**/*.py"), *ROOT.glob("bot/**/*.py")]:
        labels |= set(BUTTON_CALL.findall(path.read_text(encoding="utf-8")))
    assert len(labels) > 20  # the pattern finds the buttons
    long = []
    for label in labels:
        entry = catalog.get(label.encode().decode("unicode_escape"))
        text = str(entry.string) if entry is not None and entry.string else label
        if len(text) > BUTTON_LIMIT or "\n" in text:
            long.append(text)
    assert not long, f"{code}: button labels too long for a phone: {long}"


def test_norwegian_and_english_are_checked_and_the_others_say_whether() -> None:
    states = {code: catalogue_state(code) for code in LANGUAGES}
    assert [code for code, state in states.items() if state.checked] == ["nb", "nn", "en"]
    assert states["en"].complete
    assert all(state.total == states["en"].total for state in states.values())


def test_nine_fit_on_a_phone_in_rows_of_three() -> None:
    rows = language_rows()
    assert [len(row) for row in rows] == [3, 3, 3]
    assert all(len(str(button.text)) <= 14 for row in rows for button in row)
    assert [button.text for button in rows[2]] == ["العربية", "Soomaali", "ትግርኛ"]


@pytest.mark.parametrize(
    ("telegram", "expected"),
    [
        ("uk", "uk"),
        ("uk-UA", "uk"),
        ("ar-SA", "ar"),
        ("so", "so"),
        ("ti-ER", "ti"),
        ("pl", "pl"),
        ("lt-LT", "lt"),
        ("no", "nb"),
        ("nn-NO", "nn"),
        ("ru", "nb"),  # not supported: the default (nobody's language is guessed for them)
        (None, "nb"),
    ],
)
def test_telegrams_language_code_picks_the_default(telegram: str | None, expected: str) -> None:
    assert guess_language(telegram, "nb") == expected


def test_a_browser_gets_the_first_of_its_languages_we_have() -> None:
    assert guess_from_header("de-DE,de;q=0.9,ar;q=0.8,en;q=0.5", "nb") == "ar"
    assert guess_from_header("fr-FR", "nn") == "nn"


def test_the_default_language_may_be_any_ui_language() -> None:
    assert Settings(default_language="ar").default_language == "ar"
    with pytest.raises(ValueError, match=r"must be one of .*ti"):
        Settings(default_language="xx")


MOMENT = datetime(2027, 3, 27, 17, 0, tzinfo=UTC)  # 18:00 in Oslo


@pytest.mark.parametrize(
    ("code", "date", "time"),
    [
        ("nb", "27. mars 2027", "18:00"),
        ("en", "27 Mar 2027", "18:00"),
        ("pl", "27 mar 2027", "18:00"),
        ("uk", "27 \u0431\u0435\u0440. 2027\u202f\u0440.", "18:00"),
        ("lt", "2027-03-27", "18:00"),
        ("ar", "27 مارس 2027", "6:00 م"),
    ],
)
def test_dates_and_times_follow_the_readers_conventions(code: str, date: str, time: str) -> None:
    with language(code):
        assert date_text(MOMENT, "Europe/Oslo") == date
        assert time_text(MOMENT, "Europe/Oslo") == time


def test_numbers_follow_the_readers_conventions() -> None:
    with language("nb"):
        assert (decimal(1234.5), number(12345)) == ("1\u00a0234,5", "12\u00a0345")
    with language("en"):
        assert (decimal(1234.5), number(12345)) == ("1,234.5", "12,345")
    with language("lt"):
        assert decimal(4) == "4,0"


def test_values_in_an_arabic_text_are_isolated_and_other_languages_untouched() -> None:
    with language("ar"):
        text = _("{weekday} {date} at {time}").format(weekday="x", date="Holmen", time=5)
        assert f"{FSI}Holmen{PDI}" in text
        assert f"{FSI}5{PDI}" in text
        assert FSI in day_and_time(MOMENT, "Europe/Oslo")
    with language("nb"):
        assert _("{weekday} {date} at {time}").format(weekday="a", date="b", time=1) == "a b kl. 1"


def test_a_new_language_is_one_command_and_one_file(tmp_path: Path) -> None:
    locales = tmp_path / "locales"
    shutil.copytree(ROOT / "handlers" / "locales", locales)
    before = {path for path in locales.rglob("*") if path.is_file()}
    path = add_language("fa", locales)
    assert {p for p in locales.rglob("*") if p.is_file()} - before == {path}
    assert found_languages(locales)[-1] == "fa"
    assert own_name("fa") == "فارسی"
    text = path.read_text(encoding="utf-8")
    assert '"X-Checked-By-Native-Speaker: no\\n"' in text
    assert f"nplurals={get_plural('fa').num_plurals};" in text
    assert text.count('msgstr ""') > len(_entries("en")) * 0.9  # every string, to translate
    with pytest.raises(ValueError, match="already"):
        add_language("fa", locales)
    with pytest.raises(ValueError, match="not a language"):
        add_language("x1", locales)


def test_a_command_in_an_arabic_text_keeps_its_slash_in_front() -> None:
    message = "People find their number with /privacy in the bot."
    with language("ar"):
        arabic = _(message)
    # Left to right inside the sentence: "/privacy", not "privacy/"; tags untouched.
    assert "\u2066/privacy\u2069" in arabic
    with language("ar"):
        assert "</b>" in _("<b>What you can do</b>")
    with language("nb"):
        assert "\u2066" not in _(message)


def test_a_consultation_can_be_written_in_every_interface_language_and_no_other() -> None:
    from models.consultation_file import LANGUAGES as CONTENT_LANGUAGES

    # A question's buttons and hints are always in the question's language: the content
    # languages are the interface's (docs/languages.md, adding a language).
    assert set(CONTENT_LANGUAGES) == set(LANGUAGES)


def test_the_picker_names_each_language_and_its_direction_as_cldr_does() -> None:
    from babel import Locale

    from handlers.i18n import OWN_NAMES

    for code, name in OWN_NAMES.items():
        locale = Locale.parse(code)
        cldr = locale.get_display_name(code) or code
        assert name == cldr[:1].upper() + cldr[1:]
        # And the direction known without CLDR is CLDR's.
        assert is_right_to_left(code) == (locale.character_order == "right-to-left")
