"""Parse and validate a consultation file (YAML) into a `ConsultationSpec`.

Staff author consultations as small YAML files (the format is described for them in
`docs/consultation-format.md`). This module turns such a file into frozen dataclasses, or
refuses it whole with every problem listed by field path, so that a malformed file is never
half-imported. It is pure: no database, no Telegram.

Scalar types come from the schema, not from YAML's guesses. The loader keeps every plain
scalar except `null` as a string, so `id: no`, `id: 08` and `opens: 2027-01-10T08:00:00+01:00`
arrive exactly as written, and this module decides what is a number, a boolean or a time.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

import yaml

#: The languages a staff file's texts may be in: the ones Medvirk's interface speaks (issue #16),
#: so that a question's buttons and hints can always be in the question's language.
LANGUAGES: tuple[str, ...] = ("nb", "nn", "en", "pl", "uk", "lt", "ar", "so", "ti")
DEFAULT_LANGUAGE = LANGUAGES[0]
MAX_FILE_BYTES = 256 * 1024

MAX_SLUG_LENGTH = 40  # `c_<slug>__<source>` must fit Telegram's 64-character deep links
MAX_KEY_LENGTH = 32
MIN_QUESTIONS, MAX_QUESTIONS = 1, 50
MIN_OPTIONS, MAX_OPTIONS = 2, 12  # 12 is also Telegram's limit for native polls
MAX_SCALE_STEPS = 11
DEFAULT_SCALE_MIN, DEFAULT_SCALE_MAX = 1, 5
MAX_FREE_TEXT_LENGTH = 4000
DEFAULT_FREE_TEXT_LENGTH = 1000

TITLE_LIMIT = 200
INTRO_LIMIT = 2000
QUESTION_TEXT_LIMIT = 1000
OPTION_TEXT_LIMIT = 100
LABEL_LIMIT = 50

_SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_KEY_RE = re.compile(rf"[a-z0-9_-]{{1,{MAX_KEY_LENGTH}}}")
_INT_RE = re.compile(r"[-+]?[0-9]+")
_TRUE = frozenset({"true", "yes"})
_FALSE = frozenset({"false", "no"})
_EXAMPLE_TIME = "2027-01-10T08:00:00+01:00"


class QuestionType(StrEnum):
    """The kinds of question a consultation can ask."""

    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    SCALE = "scale"
    YES_NO = "yes_no"
    FREE_TEXT = "free_text"


Text = dict[str, str]
"""Language code -> text; insertion order is the order in the file."""

_CHOICE_TYPES = frozenset({QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE})
_BRANCHABLE_TYPES = _CHOICE_TYPES | {QuestionType.YES_NO, QuestionType.SCALE}

_TOP_FIELDS = ("slug", "title", "intro", "opens", "closes", "arena", "access", "questions")
#: Who may answer: anyone, or someone with a one-time code from a letter (models.access_codes).
ACCESS_VALUES = ("open", "code")
_QUESTION_FIELDS = (
    "id",
    "type",
    "text",
    "required",
    "options",
    "max_choices",
    "min",
    "max",
    "labels",
    "max_length",
    "show_if",
)
_OPTION_FIELDS = ("id", "text")
_LABEL_FIELDS = ("min", "max")
_SHOW_IF_FIELDS = ("question", "in")

# Question fields that only some types accept; anything else is common to all types.
_TYPE_FIELDS: dict[str, frozenset[QuestionType]] = {
    "options": _CHOICE_TYPES,
    "max_choices": frozenset({QuestionType.MULTIPLE_CHOICE}),
    "min": frozenset({QuestionType.SCALE}),
    "max": frozenset({QuestionType.SCALE}),
    "labels": frozenset({QuestionType.SCALE}),
    "max_length": frozenset({QuestionType.FREE_TEXT}),
}


@dataclass(frozen=True)
class OptionSpec:
    """One answer option of a choice question (or yes/no, with an empty text)."""

    key: str
    text: Text


@dataclass(frozen=True)
class ShowIf:
    """Ask a question only when an earlier answer is one of `values`."""

    question: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class QuestionSpec:
    """One validated question; type-specific fields are None where they do not apply."""

    key: str
    type: QuestionType
    text: Text
    required: bool
    options: tuple[OptionSpec, ...]
    max_choices: int | None = None
    scale_min: int | None = None
    scale_max: int | None = None
    min_label: Text | None = None
    max_label: Text | None = None
    max_length: int | None = None
    show_if: ShowIf | None = None


@dataclass(frozen=True)
class ConsultationSpec:
    """A validated consultation file, ready to be stored."""

    slug: str
    title: Text
    intro: Text | None
    opens: datetime | None
    closes: datetime | None
    arena: str | None
    languages: tuple[str, ...]
    questions: tuple[QuestionSpec, ...]
    access: str = "open"


class FileRefused(ValueError):
    """A file staff wrote was refused whole (nothing of it is stored).

    Each kind of file has its own subclass naming it (``what``).

    Attributes:
        problems: Every problem found, each `"field.path: message"`.
    """

    what: ClassVar[str] = "file"

    def __init__(self, problems: list[str]) -> None:
        """Keep the problems; the message is a one-line summary of them."""
        self.problems = list(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{count} {noun} in the {self.what}: " + "; ".join(problems))

    def __reduce__(self) -> tuple[type[FileRefused], tuple[list[str]]]:
        """Pickle by problems, since `__init__` does not take the message."""
        return (type(self), (self.problems,))


class ConsultationFileError(FileRefused):
    """A consultation file was refused."""

    what = "consultation file"


# --- loading -------------------------------------------------------------------------------

_NULL_TAG = "tag:yaml.org,2002:null"
_BLANK_OR_END = "\0 \t\r\n\x85\u2028\u2029"
_FLOW_STOPS = ",[]{}"


class _Loader(yaml.SafeLoader):
    """A safe loader that resolves plain scalars to strings, except `null`/`~`/empty.

    YAML 1.1 turns `yes`/`no`/`on`/`off` into booleans, `08:00` into 480, `010` into 8 and
    timestamps into datetimes or dates. Option ids must survive as written and times are
    checked here with messages staff can act on, so types come from the schema instead.
    Duplicate mapping keys, which PyYAML silently lets the last one win, are recorded.
    """

    # PyYAML looks resolvers up on the class; replacing the dict leaves SafeLoader untouched.
    yaml_implicit_resolvers = {  # noqa: RUF012
        first: [(tag, regexp) for tag, regexp in resolvers if tag == _NULL_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        if any(tag == _NULL_TAG for tag, _ in resolvers)
    }

    def __init__(self, stream: str) -> None:
        """Load from `stream` and start with no duplicate keys seen."""
        super().__init__(stream)
        self.duplicate_keys: list[str] = []

    def scan_plain(self) -> yaml.ScalarToken:
        """Scan a plain scalar, allowing `?` inside it in flow context as YAML 1.2 does.

        PyYAML ends a plain scalar at `?` inside `{...}` and `[...]`, so the natural
        `text: {nb: Kommer du?, en: Will you come?}` fails. Question texts end in `?`, so
        this is PyYAML's own `scan_plain` with `?` taken out of the flow-context stop set.
        """
        chunks: list[str] = []
        start_mark = self.get_mark()
        end_mark = start_mark
        indent = self.indent + 1
        spaces: list[str] = []
        while True:
            length = 0
            if self.peek() == "#":
                break
            while True:
                ch = self.peek(length)
                if (
                    ch in _BLANK_OR_END
                    or (
                        ch == ":"
                        and self.peek(length + 1)
                        in _BLANK_OR_END + (_FLOW_STOPS if self.flow_level else "")
                    )
                    or (self.flow_level and ch in _FLOW_STOPS)
                ):
                    break
                length += 1
            if length == 0:
                break
            self.allow_simple_key = False
            chunks.extend(spaces)
            chunks.append(self.prefix(length))
            self.forward(length)
            end_mark = self.get_mark()
            spaces = self.scan_plain_spaces(indent, start_mark) or []
            if not spaces or self.peek() == "#" or (not self.flow_level and self.column < indent):
                break
        return yaml.ScalarToken("".join(chunks), True, start_mark, end_mark)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        """Build a mapping, recording keys that occur twice in it."""
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # the base class reports unhashable keys
            if key in seen:
                line = key_node.start_mark.line + 1
                self.duplicate_keys.append(f"file: duplicate key '{key}' (line {line})")
            seen.add(key)
        return super().construct_mapping(node, deep)


def _file_error(message: str) -> ConsultationFileError:
    return ConsultationFileError([f"file: {message}"])


def _decode(data: bytes | str) -> str:
    """Return the file as text, without a byte-order mark."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _file_error(f"not UTF-8 text (line {line}); save the file as UTF-8") from None


# What PyYAML is reading when a quote or bracket is never closed, and how staff call it.
_OPENINGS = {
    "while scanning a quoted scalar": "a quote opened here is not closed",
    "while parsing a flow sequence": "the [ opened here is not closed",
    "while parsing a flow mapping": "the { opened here is not closed",
}


def _unclosed(exc: yaml.MarkedYAMLError) -> str | None:
    """An unclosed quote or bracket, reported on the line where it opens.

    PyYAML notices only where reading fails: for a quote that is never closed, at the end of
    the file. The line to fix is where it opened (the error's context mark).
    """
    what = _OPENINGS.get(exc.context or "")
    if what is None or exc.context_mark is None:
        return None
    line = exc.context_mark.line + 1
    found = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
    later = f" (reading stopped on line {found})" if found is not None and found != line else ""
    return f"not valid YAML (line {line}): {what}{later}"


def _yaml_error(exc: yaml.YAMLError, text: str) -> ConsultationFileError:
    """Describe a YAML error in one line, with the line number where it was found."""
    if isinstance(exc, yaml.MarkedYAMLError):
        opened = _unclosed(exc)
        if opened is not None:
            return _file_error(opened)
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1})" if mark is not None else ""
        detail = exc.problem or exc.context or "syntax error"
        if exc.context and detail.startswith("but "):  # "expected a single document, but ..."
            detail = f"{exc.context}, {detail}"
        return _file_error(f"not valid YAML{where}: {detail}")
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1
        return _file_error(
            f"not valid YAML (line {line}): character #x{exc.character:04x} not allowed"
        )
    return _file_error(f"not valid YAML: {exc}")


def _load(data: bytes | str) -> tuple[dict[Any, Any], list[str]]:
    """Read the file into a mapping, or raise for problems with the file as a whole.

    Returns:
        The top-level mapping and the duplicate-key problems found while loading.
    """
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        kib = -(-size // 1024)  # round up, so a file just over the limit does not read "256 KB"
        raise _file_error(f"too large ({kib} KB; at most {MAX_FILE_BYTES // 1024} KB)")
    text = _decode(data)
    try:
        loader = _Loader(text)  # checks for characters YAML does not allow
        try:
            document = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text) from None
    except RecursionError:
        raise _file_error("nested too deeply") from None
    if document is None:
        raise _file_error("is empty")
    if not isinstance(document, dict):
        raise _file_error("must be a mapping with slug, title and questions")
    return document, loader.duplicate_keys


# --- shared checks -------------------------------------------------------------------------


@dataclass
class _Context:
    """What the checks share while walking one file."""

    problems: list[str]
    language: str = DEFAULT_LANGUAGE  # the consultation's first language
    question_ids: frozenset[str] = frozenset()  # every question id in the file
    positions: dict[str, int] = field(default_factory=dict)  # ids seen so far -> index
    questions: dict[str, QuestionSpec] = field(default_factory=dict)  # earlier valid questions

    def add(self, path: str, message: str) -> None:
        """Record a problem at `path`."""
        self.problems.append(f"{path}: {message}")


def _join(path: str, name: object) -> str:
    return f"{path}.{name}" if path else str(name)


def _or_list(items: Sequence[str]) -> str:
    """Join `items` for a message: "a, b or c"."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def _quoted(items: Sequence[str]) -> str:
    return ", ".join(f"'{item}'" for item in items)


def _check_fields(raw: dict[Any, Any], allowed: Sequence[str], path: str, ctx: _Context) -> None:
    """Report fields that are not in `allowed`, suggesting the nearest one for typos."""
    for name in raw:
        if name in allowed:
            continue
        close = difflib.get_close_matches(str(name), allowed, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        ctx.add(_join(path, name), f"unknown field{hint}")


def _string(value: str, path: str, limit: int, ctx: _Context) -> str | None:
    """Return `value` stripped, or None after reporting it empty or too long."""
    text = value.strip()
    if not text:
        ctx.add(path, "must not be empty")
        return None
    if len(text) > limit:
        ctx.add(path, f"at most {limit} characters (has {len(text)})")
        return None
    return text


def _text(value: object, path: str, limit: int, ctx: _Context) -> Text:
    """Check a required text field: a string, or a mapping of language code to string."""
    if value is None:
        ctx.add(path, "required")
        return {}
    if isinstance(value, str):
        checked = _string(value, path, limit, ctx)
        return {ctx.language: checked} if checked is not None else {}
    if not isinstance(value, dict):
        ctx.add(path, "must be text, or languages with texts like {nb: ..., en: ...}")
        return {}
    if not value:
        ctx.add(path, "needs at least one language")
        return {}
    text: Text = {}
    for language, item in value.items():
        item_path = _join(path, language)
        if language not in LANGUAGES:
            # `{nb: Hei, og velkommen}` splits at the comma into a key with no value.
            hint = "; put a text with a comma in quotes" if item is None else ""
            ctx.add(item_path, f"unknown language (use {_or_list(LANGUAGES)}){hint}")
        elif item is None:
            ctx.add(item_path, "must not be empty")
        elif not isinstance(item, str):
            ctx.add(item_path, "must be text")
        elif (checked := _string(item, item_path, limit, ctx)) is not None:
            text[language] = checked
    if ctx.language not in value:
        ctx.add(path, f"needs a text in {ctx.language}, the consultation's first language")
    return text


def _optional_text(value: object, path: str, limit: int, ctx: _Context) -> Text | None:
    return None if value is None else _text(value, path, limit, ctx)


def _slug(value: object, path: str, ctx: _Context, *, required: bool) -> str | None:
    if value is None:
        if required:
            ctx.add(path, "required")
        return None
    if not isinstance(value, str):
        ctx.add(path, "must be text")
        return None
    if len(value) > MAX_SLUG_LENGTH:
        ctx.add(path, f"at most {MAX_SLUG_LENGTH} characters (has {len(value)})")
        return None
    if not _SLUG_RE.fullmatch(value):
        ctx.add(path, "use lowercase a-z, 0-9 and single hyphens, e.g. holmen-2027")
        return None
    return value


def _key(value: object, path: str, ctx: _Context) -> str | None:
    """Check an id (of a question or an option)."""
    if value is None:
        ctx.add(path, "required")
        return None
    if not isinstance(value, str) or not _KEY_RE.fullmatch(value):
        ctx.add(path, f"use 1-{MAX_KEY_LENGTH} characters: lowercase a-z, 0-9, _ or -")
        return None
    return value


def _as_int(value: object) -> int | None:
    """Return `value` as an integer when it is one (written as a number or digits)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value)
    return None


def _int(value: object, path: str, default: int | None, ctx: _Context) -> int | None:
    if value is None:
        return default
    number = _as_int(value)
    if number is None:
        ctx.add(path, "must be a whole number")
    return number


def _int_between(
    value: object, path: str, low: int, high: int, default: int | None, ctx: _Context
) -> int | None:
    number = _int(value, path, default, ctx)
    if number is not None and not low <= number <= high:
        ctx.add(path, f"must be between {low} and {high}")
        return None
    return number


def _bool(value: object, path: str, default: bool, ctx: _Context) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    ctx.add(path, "must be true or false")
    return default


def _datetime(value: object, path: str, ctx: _Context) -> datetime | None:
    """Check an ISO 8601 time with a UTC offset."""
    if value is None:
        return None
    moment: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            moment = None
    if moment is None:
        ctx.add(path, f"not a date and time; use ISO 8601, e.g. {_EXAMPLE_TIME}")
        return None
    if moment.utcoffset() is None:
        ctx.add(path, f"needs a UTC offset, e.g. {_EXAMPLE_TIME}")
        return None
    return moment


# --- consultation --------------------------------------------------------------------------


def _languages(title: object) -> tuple[str, ...]:
    """Return the title's languages in file order; a plain title is in the default language."""
    if isinstance(title, dict):
        found = tuple(language for language in title if language in LANGUAGES)
        if found:
            return found
    return (DEFAULT_LANGUAGE,)


def parse_consultation_file(data: bytes | str) -> ConsultationSpec:
    """Parse and validate a consultation file.

    Args:
        data: The file's content, as uploaded (bytes) or already decoded.

    Returns:
        The validated consultation.

    Raises:
        ConsultationFileError: The file breaks one or more rules; `problems` lists them all.
    """
    raw, problems = _load(data)
    languages = _languages(raw.get("title"))
    ctx = _Context(problems, language=languages[0])
    _check_fields(raw, _TOP_FIELDS, "", ctx)
    slug = _slug(raw.get("slug"), "slug", ctx, required=True)
    title = _text(raw.get("title"), "title", TITLE_LIMIT, ctx)
    intro = _optional_text(raw.get("intro"), "intro", INTRO_LIMIT, ctx)
    opens = _datetime(raw.get("opens"), "opens", ctx)
    closes = _datetime(raw.get("closes"), "closes", ctx)
    if opens is not None and closes is not None and closes <= opens:
        ctx.add("closes", "must be after opens")
    arena = _slug(raw.get("arena"), "arena", ctx, required=False)
    access = _access(raw.get("access", "open"), ctx)
    questions = _questions(raw.get("questions"), ctx)
    if ctx.problems:
        raise ConsultationFileError(ctx.problems)
    return ConsultationSpec(
        slug=slug or "",
        title=title,
        intro=intro,
        opens=opens,
        closes=closes,
        arena=arena,
        languages=languages,
        questions=questions,
        access=access,
    )


def _access(value: object, ctx: _Context) -> str:
    """Who may answer: ``open`` (the default) or ``code``."""
    if value not in ACCESS_VALUES:
        ctx.add("access", f"must be one of {', '.join(ACCESS_VALUES)}")
        return "open"
    return str(value)


# --- questions -----------------------------------------------------------------------------


def _list(
    value: object, path: str, items: str, low: int, high: int, ctx: _Context
) -> list[Any] | None:
    """A required list of ``items``; a count outside ``low``..``high`` is reported, not fatal.

    None when there is no list to check further (reported too).
    """
    if value is None:
        ctx.add(path, "required")
        return None
    if not isinstance(value, list):
        ctx.add(path, f"must be a list of {items}")
        return None
    if len(value) < low:
        ctx.add(path, f"needs at least {low}")
    elif len(value) > high:
        ctx.add(path, f"at most {high}")
    return value


def _questions(value: object, ctx: _Context) -> tuple[QuestionSpec, ...]:
    path = "questions"
    value = _list(value, path, "questions", MIN_QUESTIONS, MAX_QUESTIONS, ctx)
    if value is None:
        return ()
    ctx.question_ids = frozenset(
        item["id"] for item in value if isinstance(item, dict) and isinstance(item.get("id"), str)
    )
    specs: list[QuestionSpec] = []
    for index, item in enumerate(value):
        item_path = f"{path}[{index}]"
        if not isinstance(item, dict):
            ctx.add(item_path, "must be a mapping with id, type and text")
            continue
        key = _key(item.get("id"), f"{item_path}.id", ctx)
        duplicate = key is not None and key in ctx.positions
        if key is not None and duplicate:
            first = ctx.positions[key]
            ctx.add(f"{item_path}.id", f"duplicate id '{key}' (also questions[{first}])")
        known_problems = len(ctx.problems)
        spec = _question(item, item_path, key or "", ctx)
        if key is None or duplicate:
            continue
        # Registered only after parsing, so a show_if cannot point at its own question.
        ctx.positions[key] = index
        if spec is not None and len(ctx.problems) == known_problems:
            # Only a clean question can be branched on; a broken one would make every
            # show_if that refers to it repeat its problem in other words.
            ctx.questions[key] = spec
            specs.append(spec)
    return tuple(specs)


def _question_type(value: object, path: str, ctx: _Context) -> QuestionType | None:
    if value is None:
        ctx.add(path, "required")
        return None
    if isinstance(value, str) and value in set(QuestionType):
        return QuestionType(value)
    ctx.add(path, f"unknown type '{value}' (use {_or_list(list(QuestionType))})")
    return None


def _question(raw: dict[Any, Any], path: str, key: str, ctx: _Context) -> QuestionSpec | None:
    """Check one question; returns None when its type is unusable (already reported)."""
    _check_fields(raw, _QUESTION_FIELDS, path, ctx)
    kind = _question_type(raw.get("type"), f"{path}.type", ctx)
    text = _text(raw.get("text"), f"{path}.text", QUESTION_TEXT_LIMIT, ctx)
    required = _bool(raw.get("required"), f"{path}.required", True, ctx)
    show_if = _show_if(raw.get("show_if"), f"{path}.show_if", ctx)
    if kind is None:
        return None
    for name, kinds in _TYPE_FIELDS.items():
        if name in raw and kind not in kinds:
            ctx.add(_join(path, name), f"not allowed for {kind} questions")
    options: tuple[OptionSpec, ...] = ()
    if kind in _CHOICE_TYPES:
        options = _options(raw.get("options"), f"{path}.options", ctx)
    elif kind is QuestionType.YES_NO:
        options = (OptionSpec("yes", {}), OptionSpec("no", {}))
    spec = QuestionSpec(key, kind, text, required, options, show_if=show_if)
    return _with_type_fields(spec, raw, path, ctx)


def _with_type_fields(
    spec: QuestionSpec, raw: dict[Any, Any], path: str, ctx: _Context
) -> QuestionSpec:
    """The question with the fields only its type has, checked (the others stay None)."""
    if spec.type is QuestionType.MULTIPLE_CHOICE:
        limit = _max_choices(raw.get("max_choices"), f"{path}.max_choices", spec.options, ctx)
        return replace(spec, max_choices=limit)
    if spec.type is QuestionType.SCALE:
        scale_min, scale_max = _scale_range(raw, path, ctx)
        min_label, max_label = _labels(raw.get("labels"), f"{path}.labels", ctx)
        return replace(
            spec,
            scale_min=scale_min,
            scale_max=scale_max,
            min_label=min_label,
            max_label=max_label,
        )
    if spec.type is QuestionType.FREE_TEXT:
        max_length = _int_between(
            raw.get("max_length"),
            f"{path}.max_length",
            1,
            MAX_FREE_TEXT_LENGTH,
            DEFAULT_FREE_TEXT_LENGTH,
            ctx,
        )
        return replace(spec, max_length=max_length)
    return spec


def _options(value: object, path: str, ctx: _Context) -> tuple[OptionSpec, ...]:
    """Check the options of a choice question."""
    value = _list(value, path, "options, each with id and text", MIN_OPTIONS, MAX_OPTIONS, ctx)
    if value is None:
        return ()
    options: list[OptionSpec] = []
    positions: dict[str, int] = {}
    for index, item in enumerate(value):
        item_path = f"{path}[{index}]"
        if not isinstance(item, dict):
            ctx.add(item_path, "must be a mapping with id and text")
            continue
        _check_fields(item, _OPTION_FIELDS, item_path, ctx)
        key = _key(item.get("id"), f"{item_path}.id", ctx)
        text = _text(item.get("text"), f"{item_path}.text", OPTION_TEXT_LIMIT, ctx)
        if key is None:
            continue
        if key in positions:
            ctx.add(f"{item_path}.id", f"duplicate id '{key}' (also options[{positions[key]}])")
            continue
        positions[key] = index
        options.append(OptionSpec(key, text))
    return tuple(options)


def _max_choices(
    value: object, path: str, options: tuple[OptionSpec, ...], ctx: _Context
) -> int | None:
    # With too few options that problem is already reported; don't add a confusing range.
    high = len(options) if len(options) >= MIN_OPTIONS else MAX_OPTIONS
    return _int_between(value, path, 1, high, None, ctx)


def _scale_range(raw: dict[Any, Any], path: str, ctx: _Context) -> tuple[int, int]:
    low = _int(raw.get("min"), f"{path}.min", DEFAULT_SCALE_MIN, ctx)
    high = _int(raw.get("max"), f"{path}.max", DEFAULT_SCALE_MAX, ctx)
    if low is not None and low < 0:
        ctx.add(f"{path}.min", "must be 0 or more")
    if low is not None and high is not None:
        if high <= low:
            ctx.add(f"{path}.max", "must be greater than min")
        elif high - low + 1 > MAX_SCALE_STEPS:
            ctx.add(f"{path}.max", f"at most {MAX_SCALE_STEPS} steps (max - min at most 10)")
    return (
        DEFAULT_SCALE_MIN if low is None else low,
        DEFAULT_SCALE_MAX if high is None else high,
    )


def _labels(value: object, path: str, ctx: _Context) -> tuple[Text | None, Text | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict):
        ctx.add(path, "must be a mapping with min and/or max")
        return None, None
    _check_fields(value, _LABEL_FIELDS, path, ctx)
    return (
        _optional_text(value.get("min"), f"{path}.min", LABEL_LIMIT, ctx),
        _optional_text(value.get("max"), f"{path}.max", LABEL_LIMIT, ctx),
    )


# --- show_if -------------------------------------------------------------------------------


def _show_if(value: object, path: str, ctx: _Context) -> ShowIf | None:
    """Check a branching rule against the questions before this one."""
    if value is None:
        return None
    if not isinstance(value, dict):
        ctx.add(path, "must be a mapping like {question: use, in: [yes]}")
        return None
    _check_fields(value, _SHOW_IF_FIELDS, path, ctx)
    target = _show_if_target(value.get("question"), f"{path}.question", ctx)
    values = _show_if_values(value.get("in"), f"{path}.in", ctx)
    if target is None or values is None:
        return None
    if target.type is QuestionType.SCALE:
        values = [str(number) if (number := _as_int(v)) is not None else v for v in values]
        allowed = [str(n) for n in range(target.scale_min or 0, (target.scale_max or 0) + 1)]
        choices = f"{target.scale_min}-{target.scale_max}"
    else:
        allowed = [option.key for option in target.options]
        choices = ", ".join(allowed)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        noun = "value" if len(unknown) == 1 else "values"
        ctx.add(f"{path}.in", f"unknown {noun} {_quoted(unknown)} for '{target.key}' ({choices})")
        return None
    return ShowIf(target.key, tuple(dict.fromkeys(values)))


def _show_if_target(value: object, path: str, ctx: _Context) -> QuestionSpec | None:
    """Return the earlier question a show_if refers to, or None (reported unless broken)."""
    if value is None:
        ctx.add(path, "required")
        return None
    if not isinstance(value, str):
        ctx.add(path, "must be the id of an earlier question")
        return None
    target = ctx.questions.get(value)
    if target is None:
        if value in ctx.positions:
            return None  # an earlier question with its own problems, already reported
        if value in ctx.question_ids:
            ctx.add(path, f"'{value}' must come before this question")
        else:
            ctx.add(path, f"no question with id '{value}'")
        return None
    if target.type not in _BRANCHABLE_TYPES:
        ctx.add(path, f"'{value}' is a {target.type} question; use a choice, yes_no or scale one")
        return None
    return target


def _show_if_values(value: object, path: str, ctx: _Context) -> list[str] | None:
    if value is None:
        ctx.add(path, "required")
        return None
    if not isinstance(value, list) or not value:
        ctx.add(path, "must be a non-empty list, e.g. [yes]")
        return None
    if not all(isinstance(item, str) for item in value):
        ctx.add(path, "must list option ids or scale values")
        return None
    return [item.strip() for item in value]


# --- shared with the other files staff write (arenas, background questions) ---------------


def load_yaml_file(data: bytes | str, refused: type[FileRefused]) -> tuple[object, _Context]:
    """The file's YAML document, and a context holding its duplicate keys as problems.

    Raises:
        FileRefused: (of the class ``refused``) a file too large, not UTF-8, not YAML, or
            nested too deeply.
    """
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        raise refused([f"file: too large (at most {MAX_FILE_BYTES // 1024} KB)"])
    try:
        text = _decode(data)
        loader = _Loader(text)
        try:
            document = loader.get_single_data()
        finally:
            loader.dispose()
    except ConsultationFileError as error:
        raise refused(error.problems) from None
    except yaml.YAMLError as error:
        raise refused(_yaml_error(error, text).problems) from None
    except RecursionError:
        raise refused(["file: nested too deeply"]) from None
    return document, _Context(problems=list(loader.duplicate_keys))


def language_text(value: object, path: str, limit: int, ctx: _Context) -> Text:
    """Text in the default language, or ``{language: text}`` in any of :data:`LANGUAGES`."""
    if isinstance(value, str):
        checked = _string(value, path, limit, ctx)
        return {DEFAULT_LANGUAGE: checked} if checked is not None else {}
    if not isinstance(value, dict) or not value:
        ctx.add(path, "must be text, or languages with texts like {nb: ..., en: ...}")
        return {}
    text: Text = {}
    for code, item in value.items():
        item_path = f"{path}.{code}"
        if code not in LANGUAGES:
            ctx.add(item_path, f"unknown language (use {', '.join(LANGUAGES)})")
        elif not isinstance(item, str):
            ctx.add(item_path, "must be text")
        elif (checked := _string(item, item_path, limit, ctx)) is not None:
            text[code] = checked
    return text
