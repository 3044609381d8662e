"""A consultation's texts for translators: which languages are complete, and the PO file.

Every text a resident reads in a consultation (title, intro, questions, options, scale labels)
is one *string* with a stable key (``msgctxt`` in the file), a note saying where it is shown
("question 3 (single choice): option 2") and a length limit; option texts are buttons, so their
limit is :data:`BUTTON_TEXT_MAX`. :func:`translator_file` writes them as a PO file with the
source texts in Bokmål (or the consultation's first language) and any translation already
stored; :func:`read_translation` checks a filled-in file and lists every problem, and
:func:`add_translation` stores it as a language of the consultation. Yes/no options have no
text of their own (Medvirk's interface says "Yes" and "No"), so they are not in the file.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import polib
from sqlmodel.ext.asyncio.session import AsyncSession

from models.base import Text
from models.consultation import ConsultationView, QuestionView
from models.consultation_file import (
    INTRO_LIMIT,
    LABEL_LIMIT,
    LANGUAGES,
    QUESTION_TEXT_LIMIT,
    TITLE_LIMIT,
    QuestionType,
)
from models.roles import audit

#: The longest text a button shows whole (longer ones are cut with "…"). Telegram allows more,
#: but a phone shows about this much on one line of an inline keyboard.
BUTTON_TEXT_MAX = 60
SOURCE_LANGUAGE = "nb"

# What a translation must keep exactly: {placeholders}, %s-style ones, and links.
_PLACEHOLDER = re.compile(r"\{[^{}\s]*\}|%(?:\([a-z_]+\))?[sd]|https?://\S+[^\s.,;:!?)]")

_TYPE_NAMES = {
    QuestionType.SINGLE_CHOICE: "single choice",
    QuestionType.MULTIPLE_CHOICE: "multiple choice",
    QuestionType.SCALE: "scale",
    QuestionType.YES_NO: "yes/no",
    QuestionType.FREE_TEXT: "free text",
}


@dataclass(frozen=True)
class Unit:
    """One text of a consultation: where it lives, what it is, and its texts per language."""

    key: str
    note: str
    limit: int
    text: Text
    button: bool = False


def _question_units(number: int, question: QuestionView) -> list[Unit]:
    q = question.question
    where = f"question {number} ({_TYPE_NAMES[question.type]})"
    key = f"questions.{q.key}"
    units = [Unit(f"{key}.text", f"{where}: the question", QUESTION_TEXT_LIMIT, q.text)]
    if question.type is not QuestionType.YES_NO:
        units += [
            Unit(
                f"{key}.options.{o.key}",
                f"{where}: option {i} (a button)",
                BUTTON_TEXT_MAX,
                o.text,
                button=True,
            )
            for i, o in enumerate(question.options, start=1)
        ]
    for end, label in (("min", q.min_label), ("max", q.max_label)):
        if label:
            meaning = "lowest" if end == "min" else "highest"
            units.append(
                Unit(
                    f"{key}.labels.{end}",
                    f"{where}: what the {meaning} value means",
                    LABEL_LIMIT,
                    label,
                )
            )
    return units


def units_of(view: ConsultationView) -> list[Unit]:
    """Every text of the consultation a resident can read, in the order they meet them."""
    consultation = view.consultation
    units = [Unit("title", "the consultation's title", TITLE_LIMIT, consultation.title)]
    if consultation.intro:
        units.append(Unit("intro", "the introduction", INTRO_LIMIT, consultation.intro))
    for number, question in enumerate(view.questions, start=1):
        units += _question_units(number, question)
    return units


def source_language(view: ConsultationView) -> str:
    """The language translators translate from: Bokmål, else the consultation's first."""
    languages = view.consultation.languages
    return SOURCE_LANGUAGE if SOURCE_LANGUAGE in languages else languages[0]


@dataclass(frozen=True)
class Coverage:
    """Texts of a consultation written in one language, of all its texts."""

    language: str
    written: int
    total: int

    @property
    def complete(self) -> bool:
        """Every text has this language."""
        return self.total > 0 and self.written == self.total


def coverage(view: ConsultationView, languages: Sequence[str] = ()) -> dict[str, Coverage]:
    """Per language (the consultation's own unless named): how many of its texts are in it.

    The upload preview and ``medvirk languages`` show it; residents may pick complete ones.
    """
    units = units_of(view)
    return {
        code: Coverage(code, sum(1 for u in units if (u.text.get(code) or "").strip()), len(units))
        for code in languages or view.consultation.languages
    }


def complete_languages(view: ConsultationView) -> list[str]:
    """The consultation's languages that every one of its texts is in (residents may pick)."""
    return [code for code, found in coverage(view).items() if found.complete]


# ---------------------------------------------------------------------- the translator's file


def translator_file(view: ConsultationView, target: str) -> str:
    """The PO file for translating the consultation into ``target``, as text."""
    source = source_language(view)
    po = polib.POFile(wrapwidth=0)
    po.metadata = {
        "Project-Id-Version": f"medvirk consultation {view.consultation.slug}",
        "Language": target,
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
        "X-Medvirk-Consultation": view.consultation.slug,
        "X-Medvirk-Source-Language": source,
    }
    for unit in units_of(view):
        limit = f"at most {unit.limit} characters"
        if unit.button:
            limit += " (a button: a longer text is cut)"
        po.append(
            polib.POEntry(
                msgctxt=unit.key,
                msgid=unit.text.get(source, ""),
                msgstr=unit.text.get(target, ""),
                comment=f"{unit.note}; {limit}",
            )
        )
    return str(po)


@dataclass(frozen=True)
class Translation:
    """A checked translator's file: its language and each text by key."""

    language: str
    texts: dict[str, str]


class TranslationRefused(ValueError):
    """A translator's file that cannot be used; ``problems`` lists every one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _placeholders(text: str) -> Counter[str]:
    return Counter(_PLACEHOLDER.findall(text))


def _entry_problems(unit: Unit, entry: polib.POEntry, source: str) -> list[str]:
    """What is wrong with one filled-in string (its note names it)."""
    where = f"{unit.key} ({unit.note})"
    if entry.msgid != unit.text.get(source, ""):
        return [f"{where}: the source text changed since this file was written; write it again"]
    text = entry.msgstr.strip()
    if not text:
        return [f"{where}: not translated"]
    problems = []
    if "fuzzy" in entry.flags:
        problems.append(f"{where}: marked fuzzy; check it and remove the mark")
    lost = _placeholders(entry.msgid) - _placeholders(text)
    if lost:
        problems.append(f"{where}: keep {', '.join(sorted(lost))} exactly as in the source")
    if len(text) > unit.limit:
        problems.append(f"{where}: at most {unit.limit} characters (has {len(text)})")
    return problems


def _parse(data: str) -> polib.POFile:
    try:
        return polib.pofile(data)
    except (OSError, ValueError) as error:
        raise TranslationRefused([f"not a PO file: {error}"]) from error


def _language_of(po: polib.POFile, view: ConsultationView) -> tuple[str, list[str]]:
    """The file's target language, and what is wrong with its header."""
    language = po.metadata.get("Language", "").strip()
    problems = []
    if language not in LANGUAGES:
        problems.append(f"Language: {language or '(none)'} is not one of {', '.join(LANGUAGES)}")
    elif language == source_language(view):
        problems.append(f"Language: {language} is the source language")
    slug = po.metadata.get("X-Medvirk-Consultation", "")
    if slug != view.consultation.slug:
        problems.append(f"X-Medvirk-Consultation: {slug or '(none)'} is not this consultation")
    return language, problems


def read_translation(view: ConsultationView, data: str) -> Translation:
    """Check a filled-in translator's file against the consultation.

    Raises:
        TranslationRefused: with every problem: strings missing, empty, fuzzy, with a
            placeholder or link lost, or too long; strings the consultation does not have.
    """
    po = _parse(data)
    language, problems = _language_of(po, view)
    source = source_language(view)
    entries = {entry.msgctxt: entry for entry in po if not entry.obsolete}
    units = units_of(view)
    texts = {}
    for unit in units:
        entry = entries.get(unit.key)
        if entry is None:
            problems.append(f"{unit.key} ({unit.note}): missing from the file")
            continue
        found = _entry_problems(unit, entry, source)
        problems += found
        if not found:
            texts[unit.key] = entry.msgstr.strip()
    known = {unit.key for unit in units}
    problems += [f"{key}: not a text of this consultation" for key in entries if key not in known]
    if problems:
        raise TranslationRefused(problems)
    return Translation(language, texts)


async def add_translation(
    session: AsyncSession,
    view: ConsultationView,
    translation: Translation,
    *,
    actor: int | None,
    now: datetime,
) -> None:
    """Store a checked translation: every text gets the language, and the consultation too.

    ``view`` is read in this session (:func:`models.consultation.load_consultation`): its rows
    are the ones changed.
    """
    code = translation.language
    consultation = view.consultation
    consultation.title = {**consultation.title, code: translation.texts["title"]}
    if consultation.intro:
        consultation.intro = {**consultation.intro, code: translation.texts["intro"]}
    for question in view.questions:
        _translate_question(question, code, translation.texts)
    if code not in consultation.languages:
        consultation.languages = [*consultation.languages, code]
    # A new stamp: every replica reads the questions again (models.consultation.ViewCache).
    consultation.updated_at = now
    session.add(consultation)
    await session.flush()
    await audit(
        session, actor, "consultation.translate", consultation.slug, {"language": code}, now=now
    )


def _translate_question(question: QuestionView, code: str, texts: dict[str, str]) -> None:
    """Give one question, its options and its labels their texts in ``code``."""
    q = question.question
    key = f"questions.{q.key}"
    q.text = {**q.text, code: texts[f"{key}.text"]}
    if question.type is not QuestionType.YES_NO:
        for option in question.options:
            option.text = {**option.text, code: texts[f"{key}.options.{option.key}"]}
    if q.min_label:
        q.min_label = {**q.min_label, code: texts[f"{key}.labels.min"]}
    if q.max_label:
        q.max_label = {**q.max_label, code: texts[f"{key}.labels.max"]}
