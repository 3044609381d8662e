"""Personal data and abusive language in free texts: found, masked, marked. Pure functions.

What counts as personal data here is what a person most often types about themselves or
someone else and what identifies them directly:

- Norwegian national identity numbers (*fødselsnummer*, 11 digits ``DDMMYYIIIKK``) with both
  control digits valid (mod 11) and a possible day and month. H-numbers (month + 40, used in
  health care) count as national identity numbers too;
- D-numbers: the same with 40 added to the day (first digit 4-7);
- Norwegian phone numbers: 8 digits starting with 2-9, written together or grouped as people
  write them (``xxx xx xxx``, ``xx xx xx xx``, ``xxxx xxxx``, ``xxx xxx xx``, ``xx xxx xxx``),
  or in any grouping after a ``+47``/``0047`` country code or ``47`` written right before;
- foreign phone numbers after ``+`` or ``00`` and a country code (8 to 15 digits in all);
- e-mail addresses, also with ``(at)``, ``[at]``, `` at ``, ``krøllalfa``, ``%40`` or spaces
  around the ``@``.

Numbers are found in any spelling Norwegians use: ``01019012345``, ``010190 12345``,
``010190-12345``, ``01.01.90 12345``, ``+47 998 87 766``, ``0047-99887766``, with slashes,
underscores, commas, dashes of any length, a double space, a tab or a line break between the
groups. An 11-digit number whose control digits are wrong is *not* a national identity number
and stays as it is, so reference numbers and account numbers are not hidden by mistake. Year
spans such as ``2024-2025`` (two years of four digits) do not look like phone numbers, nor do
dates and amounts (``kr``, ``NOK``, ``,-`` next to them, or ``25 000 000``).

Before looking, the text is normalised: each character to its compatibility form (NFKC:
fullwidth digits are digits, a fullwidth at sign is ``@``), and invisible format characters
(a zero-width space, a soft hyphen) are taken out, so one of those cannot hide a number. Where
something is found is mapped back to the text as written; the text around it is shown
unchanged.

Texts are split into :data:`Part` s: literal text, and a :class:`Kind` where something was
found. Whoever shows a text renders the kinds as placeholders; the digits never leave here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from models.abuse_words import WORD_LISTS


class Kind(StrEnum):
    """A kind of personal data."""

    NATIONAL_ID = "national_id"
    D_NUMBER = "d_number"
    PHONE = "phone"
    EMAIL = "email"


Part = str | Kind
"""A piece of a masked text: literal text, or where personal data of that kind was."""

PLACEHOLDERS: dict[Kind, str] = {
    Kind.NATIONAL_ID: "[national id]",
    Kind.D_NUMBER: "[d-number]",
    Kind.PHONE: "[phone]",
    Kind.EMAIL: "[e-mail]",
}
"""The placeholders used where no language is at hand (exports)."""


@dataclass(frozen=True)
class Found:
    """Personal data of ``kind`` at ``text[start:end]``."""

    kind: Kind
    start: int
    end: int


# ---------------------------------------------------------------------------- identity numbers

_WEIGHTS_1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_WEIGHTS_2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def _control_digit(digits: Sequence[int], weights: Sequence[int]) -> int | None:
    """The mod-11 control digit for ``digits``; None when none is possible (remainder 1)."""
    rest = 11 - sum(d * w for d, w in zip(digits, weights, strict=False)) % 11
    if rest == 11:
        return 0
    return None if rest == 10 else rest


def has_valid_control_digits(number: str) -> bool:
    """Tell whether an 11-digit number's two last digits are its mod-11 control digits."""
    if len(number) != 11 or not number.isdigit():
        return False
    digits = [int(c) for c in number]
    return (
        _control_digit(digits[:9], _WEIGHTS_1) == digits[9]
        and _control_digit(digits[:10], _WEIGHTS_2) == digits[10]
    )


def _possible_date(day: int, month: int) -> bool:
    # The century is not checked: its rules (by individual number) are changing in 2032, and
    # masking a number too many is better than showing one too many. 2000 is a leap year, so
    # 29 February passes.
    try:
        date(2000, month, day)
    except ValueError:
        return False
    return True


def identity_number_kind(number: str) -> Kind | None:
    """Tell whether 11 digits are a national identity number or a D-number, or neither."""
    if not has_valid_control_digits(number):
        return None
    day, month = int(number[:2]), int(number[2:4])
    kind = Kind.NATIONAL_ID
    if day > 40:  # D-number: 40 added to the day
        day -= 40
        kind = Kind.D_NUMBER
    if month > 40:  # H-number: 40 added to the month
        month -= 40
    return kind if _possible_date(day, month) else None


# ---------------------------------------------------------------------------- digit runs

# Digit groups joined by a separator, not part of a longer number; letters may touch them
# ("tlf99887766"). A separator is one punctuation mark (dots, dashes of any length, slash,
# underscore, comma), one or two spaces or tabs, or a line break. A trailing full stop ends a
# sentence; it is not a separator.
_SEPARATOR = "(?:[.\\-/_,\u2010-\u2015\u2212]|[ \t\u00a0\u202f]{1,2}|\r?\n)"
_RUN = re.compile(rf"(?<!\d)\d+(?:{_SEPARATOR}\d+)*(?!\d)")
# "25000000 kr", "kr 25000000": an amount, not a phone number.
_MONEY_AFTER = re.compile(r"\s?(?:kr\b|kroner|nok\b|,-)", re.IGNORECASE)
_MONEY_BEFORE = re.compile(r"(?:\bkr\.?|\bnok)\s?$", re.IGNORECASE)
# "(+47) 99887766": a code the run of digit groups does not include.
_CODE_BEFORE = re.compile(r"\(\s?\+\s?47\s?\)\s?$")
# How people group a phone number without country code: "99887766", "998 87 766",
# "99 88 77 66", "9988 7766", "998 877 66", "99 887 766".
_PHONE_GROUPINGS = frozenset({(8,), (3, 2, 3), (2, 2, 2, 2), (4, 4), (3, 3, 2), (2, 3, 3)})
_PHONE_FIRST_DIGITS = frozenset("23456789")
# Four and four that are two years ("2024-2025") are a year span, not a number.
_YEAR = re.compile(r"^(?:1[89]|20)\d\d$")


def _is_phone(groups: Sequence[str], *, after_country_code: bool) -> bool:
    digits = "".join(groups)
    if len(digits) != 8 or digits[0] not in _PHONE_FIRST_DIGITS:
        return False
    if after_country_code:
        return True
    shape = tuple(len(g) for g in groups)
    if shape == (4, 4) and all(_YEAR.match(g) for g in groups):
        return False
    if shape == (2, 3, 3) and groups[-1] == "000":
        return False  # "25 000 000": an amount in thousands
    return shape in _PHONE_GROUPINGS


def _runs(text: str) -> Iterable[tuple[int, list[tuple[int, int]]]]:
    """Each run of digit groups: its start, and the (start, end) of every group."""
    for match in _RUN.finditer(text):
        groups = [
            (m.start() + match.start(), m.end() + match.start())
            for m in re.finditer(r"\d+", match.group())
        ]
        yield match.start(), groups


def _country_code(
    text: str, run_start: int, digits: list[str], groups: list[tuple[int, int]]
) -> tuple[int, int, list[str], list[tuple[int, int]]] | None:
    """A +47/0047/(+47) country code at or just before a run of digit groups.

    Returns where the phone number starts (its code included), how many of the run's groups the
    code takes whole, and the digit groups after the code with their spans.
    """
    before = _CODE_BEFORE.search(text, max(0, run_start - 8), run_start)
    if before is not None:
        return before.start(), 0, digits, groups
    plus = text[run_start - 1 : run_start] == "+"
    first = digits[0]
    code = 4 if first.startswith("0047") else 2 if plus and first.startswith("47") else 0
    if not code and len(digits) == 1 and len(first) == 10 and first.startswith("47"):
        code = 2  # "4791234567": the country code without its "+"
    if not code:
        return None
    start = run_start - 1 if plus else run_start
    if len(first) == code:  # "+47 998 87 766": the code is a group of its own
        return start, 1, digits[1:], groups[1:]
    # "+4799887766": the code is the start of the first group
    rest = [first[code:], *digits[1:]]
    return start, 0, rest, [(groups[0][0] + code, groups[0][1]), *groups[1:]]


def _foreign_phone(text: str, run_start: int, digits: Sequence[str]) -> bool:
    """A number after ``+`` or ``00`` and another country's code: 8 to 15 digits in all."""
    total = len("".join(digits))
    if text[run_start - 1 : run_start] == "+":
        return 8 <= total <= 15
    return digits[0].startswith("00") and not digits[0].startswith("0047") and 10 <= total <= 17


def _numbers(text: str) -> list[Found]:
    found: list[Found] = []
    for run_start, groups in _runs(text):
        digits = [text[a:b] for a, b in groups]
        i = 0
        code = _country_code(text, run_start, digits, groups)
        if code is None and _foreign_phone(text, run_start, digits):
            plus = text[run_start - 1 : run_start] == "+"
            found.append(Found(Kind.PHONE, run_start - plus, groups[-1][1]))
            continue
        if code is not None:
            start, whole, after, spans = code
            taken = _phone_after_code(after)
            if taken is not None:
                found.append(Found(Kind.PHONE, start, spans[taken - 1][1]))
                i = whole + taken
        while i < len(groups):
            match = _longest_match(digits, i)
            if match is None:
                i += 1
                continue
            kind, j = match
            start, end = groups[i][0], groups[j - 1][1]
            if kind is not Kind.PHONE or not _is_amount(text, start, end):
                found.append(Found(kind, start, end))
            i = j
    return found


def _is_amount(text: str, start: int, end: int) -> bool:
    return bool(
        _MONEY_AFTER.match(text, end) or _MONEY_BEFORE.search(text, max(0, start - 5), start)
    )


def _phone_after_code(digits: Sequence[str]) -> int | None:
    """How many groups after a country code make a phone number (any grouping), or None."""
    for j in range(1, len(digits) + 1):
        if len("".join(digits[:j])) >= 8:
            return j if _is_phone(digits[:j], after_country_code=True) else None
    return None


def _longest_match(digits: Sequence[str], i: int) -> tuple[Kind, int] | None:
    """The longest identity or phone number made of the groups from ``i``: (kind, end group)."""
    for j in range(len(digits), i, -1):
        number = "".join(digits[i:j])
        if len(number) == 11:
            kind = identity_number_kind(number)
            if kind is not None:
                return kind, j
        elif len(number) == 8 and _is_phone(digits[i:j], after_country_code=False):
            return Kind.PHONE, j
    return None


# ---------------------------------------------------------------------------- e-mail

# The "@" as people write it: "@" (spaces around it too), "%40" (URL-encoded), "(at)", "[at]",
# " at ", and the Norwegian "krøllalfa" (or "alfakrøll").
_AT_WORD = r"(?:at|krøllalfa|alfakrøll)"
_EMAIL = re.compile(
    r"(?<![\w.+\-])[\w.+\-]+"
    rf"(?:\s?@\s?|%40|\s?[(\[]\s?(?:{_AT_WORD}|@)\s?[)\]]\s?|\s+{_AT_WORD}\s+)"
    r"[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}(?![\w\-])",
    re.IGNORECASE,
)


# ---------------------------------------------------------------------------- together


# The format characters (Unicode category Cf: zero-width space, soft hyphen, direction marks,
# tags ...) of Python 3.11's Unicode 14, to see at C speed whether a text has one; the slow
# path below asks unicodedata itself, so a newer Unicode's additions are still taken out.
_FORMAT = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f"
    "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
    "\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
    "\U000e0020-\U000e007f]"
)


def normalised(text: str) -> tuple[str, list[int] | None]:
    """``text`` in compatibility form without format characters, and where each part came from.

    The second value holds, for each character of the result, its index in ``text``; None when
    the text was so already.
    """
    if text.isascii() or (
        unicodedata.is_normalized("NFKC", text) and _FORMAT.search(text) is None
    ):
        return text, None
    characters: list[str] = []
    origin: list[int] = []
    for index, character in enumerate(text):
        if unicodedata.category(character) == "Cf":  # zero-width space, soft hyphen, ...
            continue
        for piece in unicodedata.normalize("NFKC", character):
            characters.append(piece)
            origin.append(index)
    return "".join(characters), origin


def find_personal_data(text: str) -> list[Found]:
    """Every piece of personal data in ``text``, in order, none overlapping.

    The text is normalised first (:func:`normalised`); the spans are those of ``text``.
    """
    plain, origin = normalised(text)
    emails = [Found(Kind.EMAIL, m.start(), m.end()) for m in _EMAIL.finditer(plain)]
    # A number inside an e-mail address ("99887766@sms.no") is part of the address.
    numbers = [
        n for n in _numbers(plain) if not any(e.start < n.end and n.start < e.end for e in emails)
    ]
    found = sorted(emails + numbers, key=lambda f: f.start)
    if origin is None:
        return found
    return [Found(f.kind, origin[f.start], origin[f.end - 1] + 1) for f in found]


def split(text: str) -> tuple[Part, ...]:
    """Split ``text`` into literal pieces and the kinds of personal data found between them."""
    parts: list[Part] = []
    at = 0
    for found in find_personal_data(text):
        if found.start > at:
            parts.append(text[at : found.start])
        parts.append(found.kind)
        at = found.end
    if at < len(text):
        parts.append(text[at:])
    return tuple(parts)


def render(
    parts: Iterable[Part],
    placeholder: Callable[[Kind], str] = PLACEHOLDERS.__getitem__,
    literal: Callable[[str], str] = str,
) -> str:
    """Join parts into a text: kinds become placeholders, literal pieces pass ``literal``."""
    return "".join(placeholder(p) if isinstance(p, Kind) else literal(p) for p in parts)


def mask(text: str, placeholder: Callable[[Kind], str] = PLACEHOLDERS.__getitem__) -> str:
    """Return ``text`` with every piece of personal data replaced by its placeholder."""
    return render(split(text), placeholder)


# ---------------------------------------------------------------------------- abusive language

_WORD = re.compile(r"[^\W\d_]+")


def _compile_lists() -> tuple[frozenset[str], tuple[str, ...], tuple[tuple[str, ...], ...]]:
    words: set[str] = set()
    stems: set[str] = set()
    phrases: set[tuple[str, ...]] = set()
    for entries in WORD_LISTS.values():
        for entry in entries:
            entry = entry.lower()
            if " " in entry:
                phrases.add(tuple(entry.split()))
            elif entry.endswith("*"):
                stems.add(entry[:-1])
            else:
                words.add(entry)
    return frozenset(words), tuple(sorted(stems)), tuple(sorted(phrases))


_WORDS, _STEMS, _PHRASES = _compile_lists()


def abusive_words(text: str) -> list[str]:
    """The words and phrases of the abuse word lists (Bokmål, Nynorsk, English) in ``text``."""
    tokens = [t.lower() for t in _WORD.findall(normalised(text)[0])]
    hits = [t for t in tokens if t in _WORDS or t.startswith(_STEMS)]
    for phrase in _PHRASES:
        n = len(phrase)
        if any(tuple(tokens[i : i + n]) == phrase for i in range(len(tokens) - n + 1)):
            hits.append(" ".join(phrase))
    return hits


@dataclass(frozen=True)
class Screening:
    """What a text was found to contain."""

    personal_data: frozenset[Kind]
    abusive: bool

    @property
    def needs_attention(self) -> bool:
        """True when the text should come first in the moderation queue."""
        return bool(self.personal_data) or self.abusive


def screen(text: str) -> Screening:
    """Look for personal data and abusive language in ``text``."""
    return Screening(
        frozenset(f.kind for f in find_personal_data(text)), bool(abusive_words(text))
    )
