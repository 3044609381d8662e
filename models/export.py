"""Exports of a consultation's responses as CSV, Excel (xlsx) or JSON: one row per response.

Rows are streamed: responses are read in batches by id (keyset pagination), each batch's answers
in one more query, and every row is written out before the next batch is read. Memory stays
flat however large the consultation. People are named by a pseudonymous key
(:mod:`models.pseudonym`), never by their Telegram id. ``docs/exports.md`` describes the
columns and formats for the people who read the files.

Free texts are always masked (:mod:`models.masking`: identity numbers, phone numbers and e-mail
addresses become placeholders). By default only texts a moderator approved are included; with
``all_texts`` every text is, each followed by a ``q_<key>_moderation`` column with its status
(``pending``, ``approved``, ``rejected``, ``flagged``), see ``docs/moderation.md``.

When the installation has background questions (:mod:`models.profile`), each row ends with a
``bg_<key>`` column per question: the person's band, shown only when at least
:data:`~models.representation.SMALL_CELL` respondents share their whole combination of bands
(else ``suppressed`` in every one of them). The xlsx file and the JSON object also carry the
comparison with the population and the re-weighted results (:mod:`models.representation`),
with counts of fewer than five people suppressed.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import json
import re
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, BinaryIO, Literal, Protocol, get_args
from zoneinfo import ZoneInfo

from sqlalchemy import Row, func
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from models.answers import Answer, AnswerChoice, Response
from models.base import localized, utcnow
from models.consultation import ConsultationView, QuestionView, load_consultation
from models.consultation import Option as OptionRow
from models.consultation_file import QuestionType
from models.masking import PLACEHOLDERS, mask
from models.masking import Kind as PersonalData
from models.moderation import ModerationItem
from models.moderation import Status as ModerationStatus
from models.participant import Participant
from models.profile import BackgroundQuestion, ProfileAnswer, background_questions
from models.pseudonym import pseudonymizer
from models.representation import (
    DEFAULT_FACTOR,
    SMALL_CELL,
    Bands,
    Representation,
    background_cells,
    representation,
)
from models.representation_export import comparison_rows, representation_json, weighted_rows
from models.results import DIRECT
from models.roles import audit

Format = Literal["csv", "xlsx", "json"]
FORMATS: tuple[Format, ...] = get_args(Format)
BATCH_SIZE = 1000
# Rows between two calls of the progress callback.
PROGRESS_EVERY = 500
CSV_DELIMITER = ";"
# Option ids cannot contain ";" (the file format allows a-z 0-9 _ -), so the keys column splits
# back exactly; texts get a space after it, for people.
KEY_SEPARATOR = ";"
TEXT_SEPARATOR = "; "
JSON_FORMAT_VERSION = 1

Cell = str | int | list[str] | datetime | None
#: What stands in a free text where personal data was: the reader's words (the moderators').
Placeholder = Callable[[PersonalData], str]


class UnknownConsultation(LookupError):
    """No consultation has that id."""


class Kind(StrEnum):
    """What a column holds; decides how a writer treats it."""

    META = "meta"
    KEYS = "keys"
    """Option ids from the consultation file: set by staff, safe."""
    TEXT = "text"
    """Text a person could have typed, or option texts: may look like a formula to Excel."""
    NUMBER = "number"


@dataclass(frozen=True)
class Column:
    """One column of the export."""

    name: str
    kind: Kind
    question: QuestionView | None = None


META_COLUMNS = (
    Column("participant", Kind.META),
    Column("consultation", Kind.META),
    Column("source", Kind.META),
    Column("channel", Kind.META),
    Column("language", Kind.META),
    Column("started_at", Kind.META),
    Column("completed_at", Kind.META),
)
CHOICE_TYPES = frozenset({QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE})
#: What a background column holds when fewer than five respondents share the person's bands.
SUPPRESSED = "suppressed"
BACKGROUND_PREFIX = "bg_"


def export_columns(
    view: ConsultationView,
    *,
    all_texts: bool = False,
    background: Sequence[BackgroundQuestion] = (),
) -> list[Column]:
    """Return the columns of an export: seven about the response, then per question in order.

    Single- and multiple-choice questions get two columns, ``q_<key>`` with the option ids and
    ``q_<key>_text`` with the option texts; the others one, ``q_<key>``. With ``all_texts``,
    free-text questions get a second one, ``q_<key>_moderation``, with each text's status.
    Last, one ``bg_<key>`` column per ``background`` question.
    """
    columns = list(META_COLUMNS)
    taken = {c.name for c in columns} | {f"q_{q.question.key}" for q in view.questions}
    for question in view.questions:
        key = question.question.key
        kind = {
            QuestionType.SCALE: Kind.NUMBER,
            QuestionType.FREE_TEXT: Kind.TEXT,
        }.get(question.type, Kind.KEYS)
        columns.append(Column(f"q_{key}", kind, question))
        if question.type in CHOICE_TYPES:
            name = f"q_{key}_text"
            # Keys may contain "_": a question "use_text" would clash with the text column of
            # "use". Such a clash is rare; a trailing "_" resolves it the same way every time.
            while name in taken:
                name += "_"
            taken.add(name)
            columns.append(Column(name, Kind.TEXT, question))
        elif all_texts and question.type is QuestionType.FREE_TEXT:
            name = f"q_{key}_moderation"
            while name in taken:
                name += "_"
            taken.add(name)
            columns.append(Column(name, Kind.KEYS, question))
    columns.extend(Column(f"{BACKGROUND_PREFIX}{q.key}", Kind.KEYS) for q in background)
    return columns


def option_text(
    question: QuestionView, option: OptionRow, language: str, yes_no: dict[str, str]
) -> str:
    """An option's text in ``language``; yes/no options have none and take ``yes_no``'s words."""
    text = localized(option.text, language, language)
    if not text and question.type is QuestionType.YES_NO:
        text = yes_no.get(option.key, "")
    return text or option.key


def export_file_name(slug: str, *, all_texts: bool) -> str:
    """The file name of an export, without the extension; with every text it says so."""
    return f"{slug}-all-texts" if all_texts else slug


def iso_utc(moment: datetime | None) -> str | None:
    """Format a timestamp as ISO 8601 in UTC with a ``Z``, to the second."""
    if moment is None:
        return None
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class _Stored:
    """One answer of one response, as read from the database."""

    skipped: bool
    number: int | None
    text: str | None
    option_ids: list[int]
    moderation: str | None = None
    """The text's moderation status; None (no review yet) counts as pending."""


@dataclass(frozen=True)
class _Background:
    """The background questions and how many respondents share each combination of bands."""

    questions: list[BackgroundQuestion]
    cells: dict[Bands, int]

    def cells_of(self, bands: Bands) -> list[Cell]:
        """A row's background cells: its bands; all suppressed when fewer than five share them."""
        if self.cells.get(bands, 0) < SMALL_CELL:
            return [SUPPRESSED] * len(self.questions)
        return list(bands)


class _RowBuilder:
    """Turns a response and its answers into cells, in the order of the columns."""

    def __init__(
        self,
        view: ConsultationView,
        key_of: Callable[[int], str],
        *,
        all_texts: bool = False,
        placeholder: Placeholder = PLACEHOLDERS.__getitem__,
        background: _Background | None = None,
    ) -> None:
        self.view = view
        self.key_of = key_of
        self.all_texts = all_texts
        self.placeholder = placeholder
        self.background = background
        self.language = view.consultation.languages[0]
        self.slug = view.consultation.slug
        # Looked up once: the properties behind them cost more than the rest of a row.
        self.questions = [(q.id, q.type) for q in view.questions]
        # Option id -> (position, key, text in the first language): one lookup per choice.
        self.options = {
            o.id: (o.position, o.key, localized(o.text, self.language, self.language))
            for q in view.questions
            for o in q.options
            if o.id is not None
        }

    def row(
        self,
        participant_id: int,
        source: str | None,
        channel: str,
        language: str | None,
        started_at: datetime,
        completed_at: datetime | None,
        answers: dict[int, _Stored],
        bands: Bands = (),
    ) -> list[Cell]:
        cells: list[Cell] = [
            self.key_of(participant_id),
            self.slug,
            # As /results counts them: no link source is "direct" there too.
            source or DIRECT,
            channel,
            language,
            started_at,
            completed_at,
        ]
        for question_id, kind in self.questions:
            cells.extend(self._answer_cells(kind, answers.get(question_id)))
        if self.background is not None:
            cells.extend(self.background.cells_of(bands))
        return cells

    def _answer_cells(self, kind: QuestionType, answer: _Stored | None) -> tuple[Cell, ...]:
        """The cells of one answer: one, or two for choices (and for texts with ``all_texts``)."""
        if answer is None or answer.skipped:
            # Skipped, not reached, or not asked because of a branch: all left empty.
            two = kind in CHOICE_TYPES or (self.all_texts and kind is QuestionType.FREE_TEXT)
            return (None, None) if two else (None,)
        if kind is QuestionType.SCALE:
            return (answer.number,)
        if kind is QuestionType.FREE_TEXT:
            status = answer.moderation or ModerationStatus.PENDING.value
            text = mask(answer.text, self.placeholder) if answer.text is not None else None
            if self.all_texts:
                return (text, status)
            return (text if status == ModerationStatus.APPROVED else None,)
        picked = sorted(self.options[i] for i in answer.option_ids if i in self.options)
        keys = [key for _, key, _ in picked]
        texts = [text for _, _, text in picked]
        if kind is QuestionType.MULTIPLE_CHOICE:
            return (keys, texts)
        if kind is QuestionType.SINGLE_CHOICE:
            return (keys[0], texts[0]) if keys else (None, None)
        return (keys[0] if keys else None,)  # yes/no: the ids "yes" and "no" read as they are


async def export_batches(
    session: AsyncSession,
    view: ConsultationView,
    *,
    batch_size: int = BATCH_SIZE,
    background: _Background | None = None,
    language: str | None = None,
) -> AsyncGenerator[list[_Read], None]:
    """Yield the responses a batch at a time, oldest first, each with its answers and bands.

    Only reads: turning them into rows is :class:`_RowBuilder`'s work, which callers may do in
    a worker thread. With ``background``, each response comes with the person's bands.
    """
    # Core statements on the session's connection (same transaction): sqlmodel's select and
    # exec are typed for at most four columns, and rows are all that is needed here.
    connection = await session.connection()
    after = 0
    while responses := await _responses_after(connection, view.id, after, batch_size, language):
        after = responses[-1][0]
        ids = [r[0] for r in responses]
        answers = await _answers_of(connection, ids) if view.questions else {}
        bands = (
            await _bands_of(connection, [r[1] for r in responses], background.questions)
            if background is not None
            else {}
        )
        yield [
            _Read(response, answers.get(response[0], {}), bands.get(response[1], ()))
            for response in responses
        ]


@dataclass(frozen=True)
class _Read:
    """One response as read: its row, its answers and the person's bands."""

    response: Row[Any]
    answers: dict[int, _Stored]
    bands: Bands


def _rows(builder: _RowBuilder, batch: list[_Read]) -> list[list[Cell]]:
    rows = []
    for read in batch:
        _id, participant_id, source, channel, language, started_at, completed_at = read.response
        rows.append(
            builder.row(
                participant_id,
                source,
                channel,
                language,
                started_at,
                completed_at,
                read.answers,
                read.bands,
            )
        )
    return rows


async def _background(session: AsyncSession, consultation_id: int) -> _Background | None:
    """The background questions and the consultation's respondents per combination of bands."""
    questions = await background_questions(session)
    if not questions:
        return None
    return _Background(questions, await background_cells(session, consultation_id, questions))


async def _bands_of(
    connection: AsyncConnection, participant_ids: list[int], questions: list[BackgroundQuestion]
) -> dict[int, Bands]:
    """Each person's bands (ids in the files; None: not given), in the questions' order."""
    position = {q.id: i for i, q in enumerate(questions)}
    keys = {o.id: o.key for q in questions for o in q.options}
    rows = await connection.execute(
        sa_select(
            col(ProfileAnswer.participant_id),
            col(ProfileAnswer.question_id),
            col(ProfileAnswer.option_id),
        ).where(col(ProfileAnswer.participant_id).in_(participant_ids))
    )
    found: dict[int, list[str | None]] = {pid: [None] * len(questions) for pid in participant_ids}
    for participant_id, question_id, option_id in rows:
        if question_id in position and option_id is not None:
            found[participant_id][position[question_id]] = keys.get(option_id)
    return {pid: tuple(bands) for pid, bands in found.items()}


async def _responses_after(
    connection: AsyncConnection,
    consultation_id: int,
    after: int,
    batch_size: int,
    language: str | None = None,
) -> Sequence[Row[Any]]:
    """The next batch of the consultation's responses after id ``after``, oldest first.

    ``language``: only those answered in it (None: all).
    """
    only = [col(Response.language) == language] if language is not None else []
    return (
        await connection.execute(
            sa_select(
                col(Response.id),
                col(Response.participant_id),
                col(Response.source),
                col(Participant.channel),
                col(Response.language),
                col(Response.started_at),
                col(Response.completed_at),
            )
            .join(Participant, col(Participant.id) == col(Response.participant_id))
            .where(
                col(Response.consultation_id) == consultation_id,
                col(Response.id) > after,
                *only,
            )
            .order_by(col(Response.id))
            .limit(batch_size)
        )
    ).all()


async def _answers_of(
    connection: AsyncConnection, response_ids: list[int]
) -> dict[int, dict[int, _Stored]]:
    """The answers of these responses, by response and question."""
    # By the batch's response ids, which the (response_id, question_id) unique index serves.
    # Not also by question: SQLite would then pick the question_id index and read every
    # answer of the consultation for every batch.
    rows = await connection.execute(
        sa_select(
            col(Answer.response_id),
            col(Answer.question_id),
            col(Answer.skipped),
            col(Answer.number),
            col(Answer.text),
            col(AnswerChoice.option_id),
            col(ModerationItem.status),
        )
        .outerjoin(AnswerChoice, col(AnswerChoice.answer_id) == col(Answer.id))
        .outerjoin(ModerationItem, col(ModerationItem.answer_id) == col(Answer.id))
        .where(col(Answer.response_id).in_(response_ids))
    )
    answers: dict[int, dict[int, _Stored]] = {}
    for response_id, question_id, skipped, number, text, option_id, status in rows:
        by_question = answers.setdefault(response_id, {})
        stored = by_question.get(question_id)
        if stored is None:
            stored = by_question[question_id] = _Stored(skipped, number, text, [], status)
        if option_id is not None:
            stored.option_ids.append(option_id)
    return answers


class _Writer(Protocol):
    def header(self, columns: list[Column]) -> None: ...

    def row(self, cells: list[Cell]) -> None: ...

    def finish(self) -> None: ...


# Excel runs a cell that starts with one of these as a formula, also from a CSV file: a typed
# "=HYPERLINK(...)" would become a live link. A leading apostrophe makes it text (OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _CsvWriter:
    """Semicolon-separated UTF-8 with a BOM: what Excel in Norway opens with a double click."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.encoder = codecs.getincrementalencoder("utf-8")()
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, delimiter=CSV_DELIMITER, lineterminator="\r\n")
        self.text_columns: set[int] = set()
        out.write(codecs.BOM_UTF8)

    def header(self, columns: list[Column]) -> None:
        self.text_columns = {i for i, c in enumerate(columns) if c.kind is Kind.TEXT}
        self._write([c.name for c in columns])

    def row(self, cells: list[Cell]) -> None:
        values: list[str | int] = []
        for i, cell in enumerate(cells):
            if cell is None:
                values.append("")
            elif isinstance(cell, list):
                values.append(self._safe(i, _join(i, cell, self.text_columns)))
            elif isinstance(cell, str):
                values.append(self._safe(i, cell))
            elif isinstance(cell, datetime):
                values.append(iso_utc(cell) or "")
            else:
                values.append(cell)
        self._write(values)

    def _safe(self, index: int, value: str) -> str:
        if index in self.text_columns and value.startswith(_FORMULA_START):
            return "'" + value
        return value

    def _write(self, values: list[Any]) -> None:
        self.writer.writerow(values)
        self.out.write(self.encoder.encode(self.buffer.getvalue()))
        self.buffer.seek(0)
        self.buffer.truncate()

    def finish(self) -> None:
        self.out.write(self.encoder.encode("", final=True))


def _join(index: int, values: list[str], text_columns: set[int]) -> str:
    return (TEXT_SEPARATOR if index in text_columns else KEY_SEPARATOR).join(values)


# XML 1.0 cannot hold most control characters; openpyxl refuses them rather than drop them.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class _Extras:
    """What a writer needs beyond the rows.

    The background questions and the comparison with the population (when there are
    background questions), the words of yes/no options, and the local time zone.
    """

    background: _Background | None = None
    representation: Representation | None = None
    yes_no: dict[str, str] = field(default_factory=dict)
    zone: str = "Europe/Oslo"

    @property
    def questions(self) -> list[BackgroundQuestion]:
        """The background questions (none without)."""
        return self.background.questions if self.background is not None else []


class _XlsxWriter:
    """An Excel workbook in openpyxl's write-only mode: rows go to a temporary file, not RAM."""

    def __init__(self, out: BinaryIO, view: ConsultationView, extras: _Extras) -> None:
        # Imported here: openpyxl is only needed by this writer, and it takes a while to import.
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        self.out = out
        self.view = view
        self.extras = extras
        self.cell_class = WriteOnlyCell
        self.workbook = Workbook(write_only=True)
        # Sheet names are at most 31 characters; slugs are up to 40.
        self.sheet = self.workbook.create_sheet(view.consultation.slug[:31])
        self.sheet.freeze_panes = "A2"
        self.text_columns: set[int] = set()
        self.zone = ZoneInfo(extras.zone)

    def header(self, columns: list[Column]) -> None:
        self.text_columns = {i for i, c in enumerate(columns) if c.kind is Kind.TEXT}
        self.sheet.append([c.name for c in columns])
        self._describe_questions(columns)
        self._describe_representation()

    def _describe_representation(self) -> None:
        """Sheets with the comparison with the population and the re-weighted results."""
        found = self.extras.representation
        if found is None or not found.available:
            return
        language = self.view.consultation.languages[0]
        for name, rows in (
            ("representation", comparison_rows(found, language)),
            ("weighted", weighted_rows(found, language)),
        ):
            sheet = self.workbook.create_sheet(name)
            for row in rows:
                sheet.append([self._cell(v) if isinstance(v, str) else v for v in row])

    def _describe_questions(self, columns: list[Column]) -> None:
        """Add a second sheet that says what each column asked, in the first language."""
        language = self.view.consultation.languages[0]
        sheet = self.workbook.create_sheet("questions")
        sheet.append(["column", "question", "type", "text", "options"])
        for column in columns:
            if column.question is None:
                continue
            q = column.question
            options = "; ".join(
                f"{o.key} = {option_text(q, o, language, self.extras.yes_no)}" for o in q.options
            )
            sheet.append(
                [
                    self._cell(column.name),
                    self._cell(q.question.key),
                    q.type.value,
                    self._cell(localized(q.question.text, language, language)),
                    self._cell(options) if options else None,
                ]
            )
        background = self.extras.background
        for question in background.questions if background else []:
            bands = "; ".join(
                f"{o.key} = {localized(o.text, language, language) or o.key}"
                for o in question.options
            )
            sheet.append(
                [
                    f"{BACKGROUND_PREFIX}{question.key}",
                    question.key,
                    "background",
                    self._cell(question.text_in(language)),
                    self._cell(f"{bands}; {SUPPRESSED} = fewer than {SMALL_CELL} share the bands"),
                ]
            )

    def row(self, cells: list[Cell]) -> None:
        values: list[Any] = []
        for i, cell in enumerate(cells):
            if isinstance(cell, list):
                values.append(self._cell(_join(i, cell, self.text_columns)))
            elif isinstance(cell, str):
                values.append(self._cell(cell))
            elif isinstance(cell, datetime):
                values.append(self._date(cell))
            else:
                values.append(cell)
        self.sheet.append(values)

    def _date(self, moment: datetime) -> Any:
        """A real date cell in local time: Excel has no time zones, so the zone's clock."""
        cell = self.cell_class(self.sheet, value=moment.astimezone(self.zone).replace(tzinfo=None))
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell

    def _cell(self, value: str) -> Any:
        value = _ILLEGAL_XML.sub("", value)
        if not value.startswith("="):
            return value
        # openpyxl stores a string starting with "=" as a formula; force it to stay text.
        cell = self.cell_class(self.sheet, value=value)
        cell.data_type = "s"
        return cell

    def finish(self) -> None:
        self.workbook.save(self.out)


class _JsonWriter:
    """One JSON object: metadata first, then ``rows``, an array written one row at a time."""

    def __init__(self, out: BinaryIO, view: ConsultationView, extras: _Extras) -> None:
        self.out = out
        self.view = view
        self.extras = extras
        self.names: list[str] = []
        self.first = True

    def header(self, columns: list[Column]) -> None:
        consultation = self.view.consultation
        language = consultation.languages[0]
        self.names = [c.name for c in columns]
        meta = {
            "format": "medvirk-export",
            "version": JSON_FORMAT_VERSION,
            "exported_at": iso_utc(utcnow()),
            "consultation": {
                "slug": consultation.slug,
                "title": consultation.title,
                "languages": consultation.languages,
                "status": consultation.status,
            },
            "questions": [
                {
                    "key": q.question.key,
                    "type": q.type.value,
                    "required": q.question.required,
                    "text": q.question.text,
                    "columns": [c.name for c in columns if c.question is q],
                    "options": [
                        {"id": o.key, "text": option_text(q, o, language, self.extras.yes_no)}
                        for o in q.options
                    ],
                    **(
                        {"min": q.question.scale_min, "max": q.question.scale_max}
                        if q.type is QuestionType.SCALE
                        else {}
                    ),
                }
                for q in self.view.questions
            ],
            "columns": self.names,
            **self._background(language),
        }
        opening = json.dumps(meta, ensure_ascii=False)
        # Reopen the object to append the rows array without holding the rows in memory.
        self.out.write((opening[:-1] + ', "rows": [').encode())

    def _background(self, language: str) -> dict[str, Any]:
        """The background columns' questions and bands, and the comparison with the population."""
        background, found = self.extras.background, self.extras.representation
        if background is None:
            return {}
        described: dict[str, Any] = {
            "background": [
                {
                    "column": f"{BACKGROUND_PREFIX}{q.key}",
                    "question": q.key,
                    "text": q.question.text,
                    "bands": [
                        {"id": o.key, "text": localized(o.text, language, language) or o.key}
                        for o in q.options
                    ],
                    "suppressed": f"{SUPPRESSED}: fewer than {SMALL_CELL} share these bands",
                }
                for q in background.questions
            ]
        }
        if found is not None and found.available:
            described["representation"] = representation_json(
                found, background.questions, language
            )
        return described

    def row(self, cells: list[Cell]) -> None:
        values = [iso_utc(c) if isinstance(c, datetime) else c for c in cells]
        line = json.dumps(dict(zip(self.names, values, strict=True)), ensure_ascii=False)
        self.out.write((("\n" if self.first else ",\n") + line).encode())
        self.first = False

    def finish(self) -> None:
        self.out.write(b"\n]}\n")


async def _extras(
    session: AsyncSession,
    consultation_id: int,
    fmt: Format,
    factor: float,
    yes_no: dict[str, str],
    zone: str,
) -> _Extras:
    """The background questions and, for xlsx and JSON, the comparison with the population."""
    background = await _background(session, consultation_id)
    if background is None or fmt == "csv":
        return _Extras(background, yes_no=yes_no, zone=zone)
    compared = await representation(session, consultation_id, factor)
    return _Extras(background, compared, yes_no=yes_no, zone=zone)


def _writer(fmt: Format, out: BinaryIO, view: ConsultationView, extras: _Extras) -> _Writer:
    if fmt == "csv":
        return _CsvWriter(out)
    if fmt == "xlsx":
        return _XlsxWriter(out, view, extras)
    if fmt == "json":
        return _JsonWriter(out, view, extras)
    raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")


async def write_export(
    session: AsyncSession,
    consultation_id: int,
    fmt: Format,
    out: BinaryIO,
    *,
    batch_size: int = BATCH_SIZE,
    all_texts: bool = False,
    yes_no: dict[str, str] | None = None,
    placeholder: Placeholder = PLACEHOLDERS.__getitem__,
    zone: str = "Europe/Oslo",
    progress: Callable[[int], None] | None = None,
    factor: float = DEFAULT_FACTOR,
    language: str | None = None,
) -> int:
    """Write every response of a consultation to ``out``; return how many rows were written.

    ``language``: only the responses answered in that language (None: every one).

    ``yes_no``: the words for the options ``yes`` and ``no`` in the consultation's first
    language (``{"yes": "Ja", "no": "Nei"}``), for the descriptions of yes/no questions.

    ``out`` is a binary stream; it is written to but not closed. Free texts are masked, with
    ``placeholder(kind)`` where personal data was (give the words moderators read, in the
    reader's language); only approved ones are written unless ``all_texts``, which adds each
    text's moderation status in a column after it. With background questions, bands and the
    comparison are added (module docstring; ``factor``: :mod:`models.representation`).

    The first export ever creates the secret behind the pseudonymous keys, so run it in a
    transaction that commits; better, call :func:`models.pseudonym.instance_secret` in a short
    transaction first, because on SQLite that insert holds the write lock until the export ends.

    Times are UTC in CSV and JSON (``2027-01-15T12:00:00Z``) and real date cells in ``zone``'s
    local time in xlsx (Excel has no time zones). ``progress(rows)`` is called after each batch
    with how many rows it wrote.

    Only the reads run on the event loop. Each batch's rows are built and written in a worker
    thread (about 0.1 s per 1,000 rows for CSV and JSON, 0.3 s for xlsx), so the bot keeps
    answering people during an export: Python lets the event loop in every few milliseconds.

    Raises:
        UnknownConsultation: no consultation has that id.
        ValueError: ``fmt`` is not one of :data:`FORMATS`.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    view = await load_consultation(session, consultation_id)
    if view is None:
        raise UnknownConsultation(consultation_id)
    extras = await _extras(session, consultation_id, fmt, factor, yes_no or {}, zone)
    writer = _writer(fmt, out, view, extras)
    writer.header(export_columns(view, all_texts=all_texts, background=extras.questions))
    builder = _RowBuilder(
        view,
        await pseudonymizer(session),
        all_texts=all_texts,
        placeholder=placeholder,
        background=extras.background,
    )
    written = 0

    def write(batch: list[_Read]) -> int:
        for cells in _rows(builder, batch):
            writer.row(cells)
        return len(batch)

    # aclosing: if a writer fails halfway, the generator is closed now, not at loop shutdown.
    batches_of = export_batches(
        session, view, batch_size=batch_size, background=extras.background, language=language
    )
    async with aclosing(batches_of) as batches:
        async for batch in batches:
            count = await asyncio.to_thread(write, batch)
            if progress is not None:
                progress(count)
            written += count
    await asyncio.to_thread(writer.finish)
    return written


async def count_responses(
    session: AsyncSession, consultation_id: int, language: str | None = None
) -> int:
    """How many responses an export of the consultation will have (one row each)."""
    connection = await session.connection()
    only = [col(Response.language) == language] if language is not None else []
    counted = await connection.execute(
        sa_select(func.count()).where(col(Response.consultation_id) == consultation_id, *only)
    )
    return int(counted.scalar_one())


async def export_for(
    session: AsyncSession,
    consultation_id: int,
    fmt: Format,
    out: BinaryIO,
    *,
    actor: int,
    now: datetime,
    all_texts: bool = False,
    yes_no: dict[str, str] | None = None,
    placeholder: Placeholder = PLACEHOLDERS.__getitem__,
    zone: str = "Europe/Oslo",
    factor: float = DEFAULT_FACTOR,
) -> int:
    """Write an export for a staff member (chat or dashboard) and audit it; the rows written.

    The words and times are as :func:`write_export` takes them.

    Raises:
        UnknownConsultation: no consultation has that id.
        ValueError: ``fmt`` is not one of :data:`FORMATS`.
    """
    rows = await write_export(
        session,
        consultation_id,
        fmt,
        out,
        all_texts=all_texts,
        yes_no=yes_no,
        placeholder=placeholder,
        zone=zone,
        factor=factor,
    )
    view = await load_consultation(session, consultation_id)
    assert view is not None
    details: dict[str, Any] = {"format": fmt, "rows": rows}
    if all_texts:
        details["all_texts"] = True
    await audit(session, actor, "consultation.export", view.consultation.slug, details, now=now)
    return rows
