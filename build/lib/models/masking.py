"""Personal data and abusive language in free texts: found, masked, marked. Pure functions.

What counts as personal data here is what a person most often types about themselves or
someone else and what identifies them directly:

- Norwegian national identity numbers (*fødselsnummer*, 11 digits ``DDMMYYIIIKK``) with both
  control digits valid (mod 11) and a possible day and month. H-numbers (month + 40, used in
  health care) count as national identity numbers too;
- D-numbers: the same with 40 added to the day (first digit 4-7);
- Norwegian phone numbers: 8 digits starting with 2-9, written together or grouped as
  ``xxx xx xxx`` or ``xx xx xx xx`` (spaces, dots or dashes), or in any grouping after a
  ``+47``/``0047`` country code;
- e-mail addresses, also with ``(at)`` or ``[at]`` for ``@``.

Numbers are found in any spelling Norwegians use: ``01019012345``, ``010190 12345``,
``010190-12345``, ``01.01.90 12345``, ``+47 998 87 766``, ``0047-99887766``. An 11-digit number
whose control digits are wrong is *not* a national identity number and stays as it is, so
reference numbers and account numbers are not hidden by mistake. Year spans such as
``2024-2025`` do not look like phone numbers (groups of four), nor do dates.

Texts are split into :data:`Part` s: literal text, and a :class:`Kind` where something was
found. Whoever shows a text renders the kinds as placeholders; the digits never leave here.
"""

from __future__ import annotations

import re
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

# Digit groups joined by single separators, not part of a longer number; letters may touch
# them ("tlf99887766"). A trailing full stop ends a sentence; it is not a separator.
_SEPARATOR = "[ .\\-\u00a0]"
_RUN = re.compile(rf"(?<!\d)\d+(?:{_SEPARATOR}\d+)*(?!\d)")
# "25000000 kr", "kr 25000000": an amount, not a phone number.
_MONEY_AFTER = re.compile(r"\s?(?:kr\b|kroner|nok\b|,-)", re.IGNORECASE)
_MONEY_BEFORE = re.compile(r"(?:\bkr\.?|\bnok)\s?$", re.IGNORECASE)
# "(+47) 99887766": a code the run of digit groups does not include.
_CODE_BEFORE = re.compile(r"\(\s?\+\s?47\s?\)\s?$")
# How Norwegians group a phone number without country code: "99887766", "998 87 766",
# "99 88 77 66". Four and four ("2024-2025") is a year span far more often than a number.
_PHONE_GROUPINGS = frozenset({(8,), (3, 2, 3), (2, 2, 2, 2)})
_PHONE_FIRST_DIGITS = frozenset("23456789")


def _is_phone(groups: Sequence[str], *, after_country_code: bool) -> bool:
    digits = "".join(groups)
    if len(digits) != 8 or digits[0] not in _PHONE_FIRST_DIGITS:
        return False
    return after_country_code or tuple(len(g) for g in groups) in _PHONE_GROUPINGS


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
    if not code:
        return None
    start = run_start - 1 if plus else run_start
    if len(first) == code:  # "+47 998 87 766": the code is a group of its own
        return start, 1, digits[1:], groups[1:]
    # "+4799887766": the code is the start of the first group
    rest = [first[code:], *digits[1:]]
    return start, 0, rest, [(groups[0][0] + code, groups[0][1]), *groups[1:]]


def _numbers(text: str) -> list[Found]:
    found: list[Found] = []
    for run_start, groups in _runs(text):
        digits = [text[a:b] for a, b in groups]
        i = 0
        code = _country_code(text, run_start, digits, groups)
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

_EMAIL = re.compile(
    r"(?<![\w.+\-])[\w.+\-]+"
    r"(?:@|\s?[(\[]\s?(?:at|@)\s?[)\]]\s?)"
    r"[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}(?![\w\-])",
    re.IGNORECASE,
)


# ---------------------------------------------------------------------------- together


def find_personal_data(text: str) -> list[Found]:
    """Every piece of personal data in ``text``, in order, none overlapping."""
    emails = [Found(Kind.EMAIL, m.start(), m.end()) for m in _EMAIL.finditer(text)]
    # A number inside an e-mail address ("99887766@sms.no") is part of the address.
    numbers = [
        n for n in _numbers(text) if not any(e.start < n.end and n.start < e.end for e in emails)
    ]
    return sorted(emails + numbers, key=lambda f: f.start)


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
    tokens = [t.lower() for t in _WORD.findall(text)]
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
