"""Parse and check a background-question file (``medvirk profile import FILE``).

The file follows the consultation format (docs/representation.md)::

    questions:
      - id: age
        label: {nb: Alder, en: Age}          # optional: the short name staff see
        text: {nb: Hvor gammel er du?, en: How old are you?}
        options:
          - {id: 15-29, text: {nb: 15-29 år, en: 15-29 years}}

Single choice only; "prefer not to say" is added by Medvirk to every question and must not be
written. At most :data:`MAX_QUESTIONS` questions: age band, district and two more. A question
whose id, label or text looks like a special category of personal data (ethnic origin, religion,
health, sex life, political opinion, trade union membership: GDPR Art. 9) is refused; that check
is a guard against the obvious, not a guarantee, and docs/privacy.md says what must not be added.

Like a consultation file, a broken file is refused whole with every problem listed by field
path, and nothing is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.base import Text
from models.consultation_file import (
    LANGUAGES,
    FileRefused,
    _check_fields,
    _Context,
    _key,
    language_text,
    load_yaml_file,
)

MAX_QUESTIONS = 4
MIN_OPTIONS, MAX_OPTIONS = 2, 30
QUESTION_TEXT_LIMIT = 300
LABEL_LIMIT = 40
OPTION_TEXT_LIMIT = 60
#: Option ids Medvirk keeps for itself: "prefer not to say" is stored as no option at all.
RESERVED_OPTION_IDS = frozenset({"prefer_not", "prefer-not", "unknown"})

_TOP_FIELDS = ("questions",)
_QUESTION_FIELDS = ("id", "label", "text", "options")
_OPTION_FIELDS = ("id", "text")

#: Words (as word starts, in Bokmål, Nynorsk and English) that mark a special category of
#: personal data (GDPR Art. 9), or the ethnic origin a country of birth reveals.
SPECIAL_CATEGORIES: dict[str, tuple[str, ...]] = {
    "ethnic origin": (
        "etnisk",
        "etnisitet",
        "ethnic",
        "rase",
        "race",
        "hudfarge",
        "landbakgrunn",
        "fødeland",
        "fødd i",
        "født i",
        "innvandr",
        "immigra",
        "country of birth",
        "minoritet",
        "minority",
    ),
    "religion or belief": ("religi", "livssyn", "trussamfunn", "trossamfunn", "faith", "belief"),
    "health": (
        "helse",
        "health",
        "sykdom",
        "sjukdom",
        "illness",
        "diagnos",
        "funksjonsnedsett",
        "funksjonshemm",
        "disab",
        "handicap",
    ),
    "sex life or sexual orientation": ("seksuell", "sexual", "legning", "lhbt", "lgbt"),
    "political opinion": ("politisk", "political", "parti", "party", "stemte", "voted"),
    "trade union membership": ("fagforen", "fagforein", "trade union", "union member"),
    "genetic or biometric data": ("genetisk", "genetic", "biometri"),
}
_SPECIAL = [
    (category, re.compile(rf"(?<![\w]){re.escape(word)}", re.IGNORECASE))
    for category, words in SPECIAL_CATEGORIES.items()
    for word in words
]
# "parti"/"party" only as whole words: "partisipasjon" and "partial" are no opinions.
_WHOLE_WORDS = frozenset({"parti", "party", "rase", "race"})


@dataclass(frozen=True)
class ProfileOptionSpec:
    """One band of a background question."""

    key: str
    text: Text


@dataclass(frozen=True)
class ProfileQuestionSpec:
    """One checked background question: single choice, "prefer not to say" added by Medvirk."""

    key: str
    label: Text
    text: Text
    options: tuple[ProfileOptionSpec, ...]


class ProfileFileError(FileRefused):
    """A background-question file was refused; ``problems`` lists each by field path."""

    what = "profile file"


def special_category(text: str) -> str | None:
    """The special category ``text`` seems to ask about, or None."""
    for category, pattern in _SPECIAL:
        for found in pattern.finditer(text):
            word = found.group(0).lower()
            end = found.end()
            if word in _WHOLE_WORDS and end < len(text) and text[end].isalpha():
                continue
            return category
    return None


def _load(data: bytes | str) -> tuple[object, _Context]:
    """The file's YAML document, and a context holding its duplicate keys as problems."""
    return load_yaml_file(data, ProfileFileError)


def parse_profile_file(data: bytes | str) -> list[ProfileQuestionSpec]:
    """Read and check a background-question file.

    Raises:
        ProfileFileError: with every problem found; nothing of the file is to be stored.
    """
    document, ctx = _load(data)
    if not isinstance(document, dict) or "questions" not in document:
        raise ProfileFileError([*ctx.problems, "file: must be a mapping with a list of questions"])
    _check_fields(document, _TOP_FIELDS, "", ctx)
    entries = document["questions"]
    if not isinstance(entries, list) or not entries:
        ctx.add("questions", "needs at least one question, each with id, text and options")
        raise ProfileFileError(ctx.problems)
    if len(entries) > MAX_QUESTIONS:
        ctx.add(
            "questions",
            f"at most {MAX_QUESTIONS} (age band, district and two more; has {len(entries)})",
        )
    specs: list[ProfileQuestionSpec] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        spec = _question(entry, f"questions[{index}]", index, seen, ctx)
        if spec is not None:
            specs.append(spec)
    if ctx.problems:
        raise ProfileFileError(ctx.problems)
    return specs


def _question(
    entry: object, path: str, index: int, seen: dict[str, int], ctx: _Context
) -> ProfileQuestionSpec | None:
    """Check one question; None when it is unusable (the problems are in ``ctx``)."""
    if not isinstance(entry, dict):
        ctx.add(path, "must be a mapping with id, text and options")
        return None
    # A type is answered more helpfully than with "unknown field".
    _check_fields({k: v for k, v in entry.items() if k != "type"}, _QUESTION_FIELDS, path, ctx)
    if "type" in entry:
        ctx.add(f"{path}.type", "background questions are single choice; leave type out")
    key = _key(entry.get("id"), f"{path}.id", ctx)
    if key is not None and key in seen:
        ctx.add(f"{path}.id", f"'{key}' is used by questions[{seen[key]}] too")
    elif key is not None:
        seen[key] = index
    if entry.get("text") is None:
        ctx.add(f"{path}.text", "required")
    text = language_text(entry.get("text") or {}, f"{path}.text", QUESTION_TEXT_LIMIT, ctx)
    label = (
        language_text(entry["label"], f"{path}.label", LABEL_LIMIT, ctx)
        if entry.get("label") is not None
        else {}
    )
    _refuse_special(key, label, text, path, ctx)
    options = _options(entry.get("options"), f"{path}.options", ctx)
    if key is None or not text or options is None:
        return None
    return ProfileQuestionSpec(key, label or {LANGUAGES[0]: key}, text, options)


def _refuse_special(key: str | None, label: Text, text: Text, path: str, ctx: _Context) -> None:
    """Refuse a question that seems to ask for a special category of personal data."""
    words = [(key or "").replace("_", " ").replace("-", " "), *label.values(), *text.values()]
    for word in words:
        category = special_category(word)
        if category is not None:
            ctx.add(
                path,
                f"seems to ask about {category}, a special category of personal data; "
                "Medvirk does not ask that (docs/privacy.md)",
            )
            return


def _options(value: object, path: str, ctx: _Context) -> tuple[ProfileOptionSpec, ...] | None:
    """Check a question's options (the bands)."""
    if not isinstance(value, list) or len(value) < MIN_OPTIONS:
        ctx.add(path, f"needs at least {MIN_OPTIONS} options, each with id and text")
        return None
    if len(value) > MAX_OPTIONS:
        ctx.add(path, f"at most {MAX_OPTIONS} options (has {len(value)})")
        return None
    options: list[ProfileOptionSpec] = []
    seen: set[str] = set()
    for index, raw in enumerate(value):
        item_path = f"{path}[{index}]"
        if not isinstance(raw, dict):
            ctx.add(item_path, "must be a mapping with id and text")
            continue
        _check_fields(raw, _OPTION_FIELDS, item_path, ctx)
        key = _key(raw.get("id"), f"{item_path}.id", ctx)
        if key in RESERVED_OPTION_IDS:
            ctx.add(f"{item_path}.id", 'Medvirk adds "prefer not to say" itself; leave it out')
            key = None
        elif key is not None and key in seen:
            ctx.add(f"{item_path}.id", f"'{key}' is used twice in this question")
            key = None
        if raw.get("text") is None:
            ctx.add(f"{item_path}.text", "required")
            continue
        text = language_text(raw["text"], f"{item_path}.text", OPTION_TEXT_LIMIT, ctx)
        if key is not None and text:
            seen.add(key)
            options.append(ProfileOptionSpec(key, text))
    return tuple(options) if len(options) == len(value) else None
