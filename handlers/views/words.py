"""Small rules of plain writing that every view follows: numbers, names, cut texts, sentences.

They live in one place so a text reads the same wherever it is shown: a decimal comma in
Norwegian, language names in the reader's language, a button cut between words, a name that
starts with "The" written in lower case mid-sentence, and no "?." where a title ends a sentence.
"""

from __future__ import annotations

import re

from babel.numbers import format_decimal

from handlers.i18n import _, babel_locale, current_language

ELLIPSIS = "…"
# A cut shorter than this share of the room falls back to cutting inside the word: a single
# long word would otherwise leave a button almost empty.
WORD_CUT_MIN = 0.6

# Sentence-ending punctuation, any closing HTML tags, then the stop a message adds after a name.
_DOUBLE_STOP = re.compile(r"([?!])((?:</[a-z]+>)*)[.?]|([.…])((?:</[a-z]+>)*)\.")


def decimal(value: float, digits: int = 1) -> str:
    """A number with ``digits`` decimals as the reader writes it (Babel): ``4,0`` in Norwegian,
    ``4.0`` in English, ``1 234,5`` with the groups of thousands."""
    pattern = "#,##0." + "0" * digits if digits else "#,##0"
    return format_decimal(value, pattern, locale=babel_locale(current_language()))


def number(value: int) -> str:
    """A whole number as the reader writes it: ``12 345`` in Norwegian, ``12,345`` in English."""
    return format_decimal(value, locale=babel_locale(current_language()))


def language_name(code: str) -> str:
    """A language's name in the reader's language ("bokmål", "polsk", "Polish"), for texts that
    name a language mid-sentence.

    The language picker shows each language in its own name instead (``LANGUAGE_NAMES``).
    """
    names = {"nb": _("Bokmål"), "nn": _("Nynorsk"), "en": _("English")}
    if code in names:
        return names[code]
    # The other languages by CLDR's names, in the reader's language.
    return babel_locale(current_language()).languages.get(code) or code


def language_names(codes: list[str]) -> str:
    """Several language names, joined: "bokmål og engelsk"."""
    names = [language_name(code) for code in codes]
    if len(names) < 2:
        return "".join(names)
    return _("{first} and {last}").format(first=", ".join(names[:-1]), last=names[-1])


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters between words, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    room = text[: limit - 1]
    cut = room.rstrip()
    split = not room[-1:].isspace() and not text[limit - 1].isspace()
    if split and " " in cut:
        # Drop the word the cut would split, unless that leaves too little.
        head = cut.rsplit(maxsplit=1)[0]
        if len(head) >= WORD_CUT_MIN * limit:
            cut = head
    return cut.rstrip(" ,;:-\u2013\u2014") + ELLIPSIS  # no dash or comma before the "…"


def mid_sentence(name: str) -> str:
    """A name as it is written inside an English sentence: "the volunteer centre".

    Staff write names as headings ("The volunteer centre"); mid-sentence the article is lower
    case. Other languages and other names are left as they are.
    """
    if current_language() == "en" and name.startswith("The ") and not name.isupper():
        return "the " + name[4:]
    return name


def end_sentence(text: str) -> str:
    """Drop a stop that follows a title's own ("Hva synes du?." and "Hva synes du??")."""
    return _DOUBLE_STOP.sub(lambda m: (m[1] or m[3]) + (m[2] or m[4] or ""), text)
