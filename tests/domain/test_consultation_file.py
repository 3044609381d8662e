"""Tests for parsing and validating consultation files (pure functions, no database)."""

from __future__ import annotations

import pickle
import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from models.consultation_file import (
    LANGUAGES,
    MAX_FILE_BYTES,
    ConsultationFileError,
    ConsultationSpec,
    OptionSpec,
    QuestionType,
    ShowIf,
    parse_consultation_file,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
OSLO_WINTER = timezone(timedelta(hours=1))

MISSING: Any = object()
"""A field value meaning "leave this field out"."""

TWO_OPTIONS = [{"id": "a", "text": "A"}, {"id": "b", "text": "B"}]

# Questions 0-3 of every generated file, so a new question (index 4) can branch on them.
BASE_QUESTIONS: list[dict[str, Any]] = [
    {
        "id": "use",
        "type": "single_choice",
        "text": {"nb": "Ville du brukt sentralen?", "en": "Would you use the centre?"},
        "options": [
            {"id": "weekly", "text": {"nb": "Hver uke", "en": "Every week"}},
            {"id": "sometimes", "text": {"nb": "Av og til", "en": "Sometimes"}},
            {"id": "never", "text": {"nb": "Aldri", "en": "Never"}},
        ],
    },
    {"id": "agree", "type": "scale", "text": "Kommunen bør prioritere frivillighet."},
    {"id": "going", "type": "yes_no", "text": "Kommer du?"},
    {"id": "idea", "type": "free_text", "text": "Har du andre ideer?", "required": False},
]

NEW_QUESTION_EXTRAS: dict[str, dict[str, Any]] = {
    "single_choice": {"options": TWO_OPTIONS},
    "multiple_choice": {"options": TWO_OPTIONS},
    "scale": {},
    "yes_no": {},
    "free_text": {},
}


def _apply(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = {**base, **changes}
    return {name: value for name, value in merged.items() if value is not MISSING}


def document(**changes: Any) -> dict[str, Any]:
    """Return a valid consultation as a dict, with top-level `changes` applied."""
    base = {
        "slug": "holmen-2027",
        "title": {"nb": "Ny frivilligsentral", "en": "New volunteer centre"},
        "questions": BASE_QUESTIONS,
    }
    return _apply(base, changes)


def new_question(kind: str = "single_choice", **changes: Any) -> dict[str, Any]:
    """Return a valid question of type `kind` with id q5, with `changes` applied."""
    base = {"id": "q5", "type": kind, "text": "Nytt spørsmål?", **NEW_QUESTION_EXTRAS[kind]}
    return _apply(base, changes)


def dump(doc: object) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


def problems_of(data: bytes | str) -> list[str]:
    with pytest.raises(ConsultationFileError) as info:
        parse_consultation_file(data)
    return info.value.problems


# --- the rules, one problem each -------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"slug": MISSING}, "slug: required", id="slug-missing"),
        pytest.param(
            {"slug": "Holmen_2027"},
            "slug: use lowercase a-z, 0-9 and single hyphens, e.g. holmen-2027",
            id="slug-pattern",
        ),
        pytest.param(
            {"slug": "holmen--2027"},
            "slug: use lowercase a-z, 0-9 and single hyphens, e.g. holmen-2027",
            id="slug-double-hyphen",
        ),
        pytest.param({"slug": "a" * 41}, "slug: at most 40 characters (has 41)", id="slug-long"),
        pytest.param({"titel": "T"}, "titel: unknown field (did you mean title?)", id="typo"),
        pytest.param({"title": MISSING}, "title: required", id="title-missing"),
        pytest.param({"title": "   "}, "title: must not be empty", id="title-blank"),
        pytest.param(
            {"title": "x" * 201}, "title: at most 200 characters (has 201)", id="title-long"
        ),
        pytest.param({"title": {}}, "title: needs at least one language", id="title-no-language"),
        pytest.param(
            {"title": {"nb": "Tittel", "de": "Titel"}},
            "title.de: unknown language (use nb, nn, en, pl, uk, lt, ar, so or ti)",
            id="title-unknown-language",
        ),
        pytest.param(
            {"title": ["a", "b"]},
            "title: must be text, or languages with texts like {nb: ..., en: ...}",
            id="title-list",
        ),
        pytest.param(
            {"intro": "x" * 2001}, "intro: at most 2000 characters (has 2001)", id="intro-long"
        ),
        pytest.param(
            {"intro": {"en": "Only English"}},
            "intro: needs a text in nb, the consultation's first language",
            id="intro-missing-first-language",
        ),
        pytest.param({"intro": {"nb": ""}}, "intro.nb: must not be empty", id="intro-empty"),
        pytest.param(
            {"opens": "2027-01-10T08:00:00"},
            "opens: needs a UTC offset, e.g. 2027-01-10T08:00:00+01:00",
            id="opens-naive",
        ),
        pytest.param(
            {"closes": "next monday"},
            "closes: not a date and time; use ISO 8601, e.g. 2027-01-10T08:00:00+01:00",
            id="closes-not-a-time",
        ),
        pytest.param(
            {"opens": "2027-01-31T08:00:00+01:00", "closes": "2027-01-10T08:00:00+01:00"},
            "closes: must be after opens",
            id="closes-before-opens",
        ),
        pytest.param(
            {"opens": "2027-01-10T08:00:00+01:00", "closes": "2027-01-10T07:00:00Z"},
            "closes: must be after opens",
            id="closes-equals-opens",
        ),
        pytest.param(
            {"arena": "Frivillighet"},
            "arena: use lowercase a-z, 0-9 and single hyphens, e.g. holmen-2027",
            id="arena-pattern",
        ),
        pytest.param({"questions": MISSING}, "questions: required", id="questions-missing"),
        pytest.param({"questions": []}, "questions: needs at least 1", id="questions-empty"),
        pytest.param(
            {"questions": [{"id": f"q{i}", "type": "yes_no", "text": "Ja?"} for i in range(51)]},
            "questions: at most 50",
            id="questions-too-many",
        ),
        pytest.param(
            {"questions": "use"}, "questions: must be a list of questions", id="questions-text"
        ),
    ],
)
def test_top_level_rule(changes: dict[str, Any], expected: str) -> None:
    assert problems_of(dump(document(**changes))) == [expected]


def _q(kind: str, expected: str, test_id: str, **changes: Any) -> Any:
    return pytest.param(new_question(kind, **changes), expected, id=test_id)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        pytest.param(
            "just text", "questions[4]: must be a mapping with id, type and text", id="not-mapping"
        ),
        _q("yes_no", "questions[4].id: required", "id-missing", id=MISSING),
        _q(
            "yes_no",
            "questions[4].id: use 1-32 characters: lowercase a-z, 0-9, _ or -",
            "id-pattern",
            id="Bad Id",
        ),
        _q(
            "yes_no",
            "questions[4].id: use 1-32 characters: lowercase a-z, 0-9, _ or -",
            "id-long",
            id="x" * 33,
        ),
        _q(
            "yes_no",
            "questions[4].id: duplicate id 'use' (also questions[0])",
            "id-duplicate",
            id="use",
        ),
        _q("yes_no", "questions[4].type: required", "type-missing", type=MISSING),
        _q(
            "yes_no",
            "questions[4].type: unknown type 'poll' (use single_choice, multiple_choice, scale,"
            " yes_no or free_text)",
            "type-unknown",
            type="poll",
        ),
        _q("yes_no", "questions[4].text: required", "text-missing", text=MISSING),
        _q(
            "yes_no",
            "questions[4].text: at most 1000 characters (has 1001)",
            "text-long",
            text="x" * 1001,
        ),
        _q(
            "yes_no",
            "questions[4].text: needs a text in nb, the consultation's first language",
            "text-missing-first-language",
            text={"en": "Only English"},
        ),
        _q(
            "yes_no",
            "questions[4].required: must be true or false",
            "required-not-bool",
            required="maybe",
        ),
        _q(
            "single_choice",
            "questions[4].optoins: unknown field (did you mean options?)",
            "field-typo",
            optoins=[],
        ),
        _q("single_choice", "questions[4].options: required", "options-missing", options=MISSING),
        _q(
            "single_choice",
            "questions[4].options: needs at least 2",
            "options-too-few",
            options=TWO_OPTIONS[:1],
        ),
        _q(
            "multiple_choice",
            "questions[4].options: at most 12",
            "options-too-many",
            options=[{"id": f"o{i}", "text": f"Valg {i}"} for i in range(13)],
        ),
        _q(
            "single_choice",
            "questions[4].options: must be a list of options, each with id and text",
            "options-not-list",
            options="a, b",
        ),
        _q(
            "single_choice",
            "questions[4].options[1]: must be a mapping with id and text",
            "option-not-mapping",
            options=[TWO_OPTIONS[0], "B"],
        ),
        _q(
            "single_choice",
            "questions[4].options[1].id: use 1-32 characters: lowercase a-z, 0-9, _ or -",
            "option-id-pattern",
            options=[TWO_OPTIONS[0], {"id": "B", "text": "B"}],
        ),
        _q(
            "single_choice",
            "questions[4].options[1].id: duplicate id 'a' (also options[0])",
            "option-id-duplicate",
            options=[TWO_OPTIONS[0], {"id": "a", "text": "B"}],
        ),
        _q(
            "single_choice",
            "questions[4].options[1].text: required",
            "option-text-missing",
            options=[TWO_OPTIONS[0], {"id": "b"}],
        ),
        _q(
            "single_choice",
            "questions[4].options[1].text: at most 100 characters (has 101)",
            "option-text-long",
            options=[TWO_OPTIONS[0], {"id": "b", "text": "x" * 101}],
        ),
        _q(
            "single_choice",
            "questions[4].options[1].text: needs a text in nb, the consultation's first language",
            "option-text-missing-first-language",
            options=[TWO_OPTIONS[0], {"id": "b", "text": {"en": "B"}}],
        ),
        _q(
            "single_choice",
            "questions[4].options[1].label: unknown field",
            "option-unknown-field",
            options=[TWO_OPTIONS[0], {"id": "b", "text": "B", "label": "B"}],
        ),
        _q(
            "scale",
            "questions[4].options: not allowed for scale questions",
            "options-on-scale",
            options=TWO_OPTIONS,
        ),
        _q(
            "yes_no",
            "questions[4].options: not allowed for yes_no questions",
            "options-on-yes-no",
            options=TWO_OPTIONS,
        ),
        _q(
            "multiple_choice",
            "questions[4].max_choices: must be between 1 and 2",
            "max-choices-zero",
            max_choices=0,
        ),
        _q(
            "multiple_choice",
            "questions[4].max_choices: must be between 1 and 2",
            "max-choices-above-options",
            max_choices=3,
        ),
        _q(
            "multiple_choice",
            "questions[4].max_choices: must be a whole number",
            "max-choices-not-int",
            max_choices="two",
        ),
        _q(
            "single_choice",
            "questions[4].max_choices: not allowed for single_choice questions",
            "max-choices-on-single",
            max_choices=1,
        ),
        _q("scale", "questions[4].min: must be 0 or more", "scale-min-negative", min=-1),
        _q("scale", "questions[4].min: must be a whole number", "scale-min-float", min=1.5),
        _q("scale", "questions[4].max: must be greater than min", "scale-empty", min=5, max=5),
        _q("scale", "questions[4].max: must be greater than min", "scale-reversed", max=0),
        _q(
            "scale",
            "questions[4].max: at most 11 steps (max - min at most 10)",
            "scale-too-many-steps",
            min=0,
            max=11,
        ),
        _q(
            "scale",
            "questions[4].labels: must be a mapping with min and/or max",
            "labels-not-mapping",
            labels="Uenig - enig",
        ),
        _q(
            "scale",
            "questions[4].labels.maks: unknown field",
            "labels-unknown-field",
            labels={"min": "Uenig", "maks": "Enig"},
        ),
        _q(
            "scale",
            "questions[4].labels.min: at most 50 characters (has 51)",
            "label-long",
            labels={"min": "x" * 51},
        ),
        _q(
            "scale",
            "questions[4].labels.max: needs a text in nb, the consultation's first language",
            "label-missing-first-language",
            labels={"max": {"en": "Agree"}},
        ),
        _q(
            "free_text",
            "questions[4].min: not allowed for free_text questions",
            "min-on-text",
            min=1,
        ),
        _q(
            "yes_no",
            "questions[4].labels: not allowed for yes_no questions",
            "labels-on-yes-no",
            labels={"min": "Nei"},
        ),
        _q(
            "free_text",
            "questions[4].max_length: must be between 1 and 4000",
            "max-length-zero",
            max_length=0,
        ),
        _q(
            "free_text",
            "questions[4].max_length: must be between 1 and 4000",
            "max-length-huge",
            max_length=4001,
        ),
        _q(
            "scale",
            "questions[4].max_length: not allowed for scale questions",
            "max-length-on-scale",
            max_length=100,
        ),
        _q(
            "yes_no",
            "questions[4].show_if: must be a mapping like {question: use, in: [yes]}",
            "show-if-text",
            show_if="use",
        ),
        _q(
            "yes_no",
            "questions[4].show_if.question: required",
            "show-if-question-missing",
            show_if={"in": ["weekly"]},
        ),
        _q(
            "yes_no",
            "questions[4].show_if.in: required",
            "show-if-in-missing",
            show_if={"question": "use"},
        ),
        _q(
            "yes_no",
            "questions[4].show_if.in: must be a non-empty list, e.g. [yes]",
            "show-if-in-empty",
            show_if={"question": "use", "in": []},
        ),
        _q(
            "yes_no",
            "questions[4].show_if.in: must be a non-empty list, e.g. [yes]",
            "show-if-in-scalar",
            show_if={"question": "use", "in": "weekly"},
        ),
        _q(
            "yes_no",
            "questions[4].show_if.in: must list option ids or scale values",
            "show-if-in-nested",
            show_if={"question": "use", "in": [["weekly"]]},
        ),
        _q(
            "yes_no",
            "questions[4].show_if.values: unknown field",
            "show-if-unknown-field",
            show_if={"question": "use", "in": ["weekly"], "values": ["never"]},
        ),
        _q(
            "yes_no",
            "questions[4].show_if.question: no question with id 'nope'",
            "show-if-unknown-question",
            show_if={"question": "nope", "in": ["weekly"]},
        ),
        _q(
            "yes_no",
            "questions[4].show_if.question: 'q5' must come before this question",
            "show-if-itself",
            show_if={"question": "q5", "in": ["yes"]},
        ),
        _q(
            "yes_no",
            "questions[4].show_if.question: 'idea' is a free_text question; use a choice,"
            " yes_no or scale one",
            "show-if-free-text",
            show_if={"question": "idea", "in": ["x"]},
        ),
        _q(
            "yes_no",
            "questions[4].show_if.in: unknown value 'daily' for 'use' (weekly, sometimes, never)",
            "show-if-unknown-option",
            show_if={"question": "use", "in": ["weekly", "daily"]},
        ),
        _q(
            "yes_no",
            "questions[4].show_if.in: unknown value 'maybe' for 'going' (yes, no)",
            "show-if-yes-no-value",
            show_if={"question": "going", "in": ["maybe"]},
        ),
        _q(
            "yes_no",
            "questions[4].show_if.in: unknown values '0', '6', 'high' for 'agree' (1-5)",
            "show-if-scale-out-of-range",
            show_if={"question": "agree", "in": [0, 5, 6, "high"]},
        ),
    ],
)
def test_question_rule(question: object, expected: str) -> None:
    doc = document(questions=[*BASE_QUESTIONS, question])
    assert problems_of(dump(doc)) == [expected]


# --- every problem is listed -----------------------------------------------------------------


def test_lists_every_problem_in_file_order() -> None:
    text = """\
slug: Holmen 2027
title: {nb: Ny frivilligsentral, de: Neues Zentrum}
opens: 2027-01-10T08:00:00
questions:
  - id: use
    type: single_choice
    text: Ville du brukt sentralen?
    optoins: [{id: a, text: A}]
  - id: use
    type: scale
    text: Hvor enig er du?
    min: 3
    max: 1
  - id: idea
    type: free_text
    text: Ideer?
    show_if: {question: later, in: [yes]}
  - id: later
    type: yes_no
    text: Senere?
"""
    assert problems_of(text) == [
        "slug: use lowercase a-z, 0-9 and single hyphens, e.g. holmen-2027",
        "title.de: unknown language (use nb, nn, en, pl, uk, lt, ar, so or ti)",
        "opens: needs a UTC offset, e.g. 2027-01-10T08:00:00+01:00",
        "questions[0].optoins: unknown field (did you mean options?)",
        "questions[0].options: required",
        "questions[1].id: duplicate id 'use' (also questions[0])",
        "questions[1].max: must be greater than min",
        "questions[2].show_if.question: 'later' must come before this question",
    ]


def test_duplicate_keys_are_listed_with_other_problems() -> None:
    text = """\
slug: holmen-2027
title: Tittel
title: Annen tittel
questions:
  - {id: a, id: b, type: yes_no}
"""
    assert problems_of(text) == [
        "file: duplicate key 'title' (line 3)",
        "file: duplicate key 'id' (line 5)",
        "questions[0].text: required",
    ]


def test_show_if_on_a_broken_question_reports_only_that_question() -> None:
    doc = document(
        questions=[
            {"id": "use", "type": "single_choice", "text": "Bruk?", "options": "none"},
            {
                "id": "q2",
                "type": "yes_no",
                "text": "Ja?",
                "show_if": {"question": "use", "in": ["a"]},
            },
        ]
    )
    assert problems_of(dump(doc)) == [
        "questions[0].options: must be a list of options, each with id and text"
    ]


def test_comma_inside_a_flow_mapping_gets_a_hint() -> None:
    text = "slug: a\ntitle: {nb: Hei, og velkommen}\nquestions: [{id: q, type: yes_no, text: Q}]\n"
    assert problems_of(text) == [
        "title.og velkommen: unknown language (use nb, nn, en, pl, uk, lt, ar, so or ti);"
        " put a text with a comma in quotes"
    ]


# --- the file as a whole ---------------------------------------------------------------------


def test_not_yaml_reports_the_line() -> None:
    text = (
        "slug: holmen-2027\ntitle: Tittel\nquestions:\n  - id: q\n    type: [yes_no\n  text: x\n"
    )
    (problem,) = problems_of(text)
    # The bracket opened on line 5 is never closed; line 6 is only where that showed.
    assert problem.startswith("file: not valid YAML (line 5): ")
    assert "[" in problem


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            'slug: x\ntitle: t\nintro: "unclosed\nquestions:\n  - id: a\n    type: free_text\n'
            "    text: hi\n",
            3,
            "quote",
        ),
        ("slug: x\ntitle: 'abc\nintro: b\n", 2, "quote"),
        ("slug: x\ntitle: {nb: a\nintro: b\n", 2, "{"),
    ],
    ids=["double quote", "single quote", "brace"],
)
def test_an_unclosed_quote_or_bracket_is_reported_where_it_opens(
    text: str, line: int, words: str
) -> None:
    (problem,) = problems_of(text)
    assert problem.startswith(f"file: not valid YAML (line {line}): ")
    assert words in problem


def test_oversized_file_is_refused_before_parsing() -> None:
    assert problems_of(b"#" * (MAX_FILE_BYTES + 1)) == ["file: too large (257 KB; at most 256 KB)"]


def test_size_is_counted_in_utf8_bytes() -> None:
    text = "# " + "ø" * (MAX_FILE_BYTES // 2)  # fewer characters than the limit, more bytes
    assert problems_of(text) == ["file: too large (257 KB; at most 256 KB)"]


def test_file_of_exactly_the_limit_is_accepted() -> None:
    text = dump(document())
    padded = text + "#" * (MAX_FILE_BYTES - len(text.encode()) - 1) + "\n"
    assert len(padded.encode()) == MAX_FILE_BYTES
    assert parse_consultation_file(padded.encode()).slug == "holmen-2027"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"", "file: is empty", id="empty"),
        pytest.param(b"# only a comment\n", "file: is empty", id="comment-only"),
        pytest.param(
            b"- slug\n- title\n",
            "file: must be a mapping with slug, title and questions",
            id="list",
        ),
        pytest.param(
            b"slug: a\ntitle: \xff\n",
            "file: not UTF-8 text (line 2); save the file as UTF-8",
            id="not-utf8",
        ),
        pytest.param(
            b"slug: a\ntitle: \x07\n",
            "file: not valid YAML (line 2): character #x0007 not allowed",
            id="control-character",
        ),
        pytest.param(b"[" * 20_000, "file: nested too deeply", id="deep-nesting"),
        pytest.param(
            b"slug: a\n---\nslug: b\n",
            "file: not valid YAML (line 2): expected a single document in the stream,"
            " but found another document",
            id="two-documents",
        ),
    ],
)
def test_file_level_problem(data: bytes, expected: str) -> None:
    assert problems_of(data) == [expected]


def test_python_tags_are_refused() -> None:
    (problem,) = problems_of("slug: a\ntitle: !!python/object/apply:os.system [echo hi]\n")
    assert problem.startswith("file: not valid YAML (line 2): could not determine a constructor")


def test_byte_order_mark_is_ignored() -> None:
    data = "\ufeff".encode() + dump(document()).encode()
    assert parse_consultation_file(data).slug == "holmen-2027"


def test_error_is_a_value_error_with_a_one_line_message() -> None:
    with pytest.raises(ValueError, match="2 problems") as info:
        parse_consultation_file(dump(document(slug=MISSING, title=MISSING)))
    assert isinstance(info.value, ConsultationFileError)
    assert "\n" not in str(info.value)
    assert "slug: required; title: required" in str(info.value)
    copy = pickle.loads(pickle.dumps(info.value))  # noqa: S301 - our own object
    assert copy.problems == info.value.problems


# --- YAML's guesses do not leak into the schema ------------------------------------------------


def test_bare_yes_and_no_stay_ids() -> None:
    text = """\
slug: holmen-2027
title: Tittel
questions:
  - id: going
    type: yes_no
    text: Kommer du?
    required: no
  - id: how
    type: single_choice
    text: Hvordan?
    options:
      - {id: yes, text: Ja}
      - {id: no, text: Nei}
      - {id: on, text: På}
      - {id: off, text: Av}
      - {id: 010, text: Ti}
    show_if: {question: going, in: [yes]}
  - id: why
    type: free_text
    text: Hvorfor?
    show_if: {question: how, in: [no, off, 010]}
"""
    spec = parse_consultation_file(text)
    going, how, why = spec.questions
    assert going.required is False
    assert going.options == (OptionSpec("yes", {}), OptionSpec("no", {}))
    assert [option.key for option in how.options] == ["yes", "no", "on", "off", "010"]
    assert how.show_if == ShowIf("going", ("yes",))
    assert why.show_if == ShowIf("how", ("no", "off", "010"))


def test_bare_timestamps_are_checked_not_converted() -> None:
    text = dump(document()) + "opens: 2027-01-10T08:00:00\ncloses: 2027-01-31\n"
    assert problems_of(text) == [
        "opens: needs a UTC offset, e.g. 2027-01-10T08:00:00+01:00",
        "closes: needs a UTC offset, e.g. 2027-01-10T08:00:00+01:00",
    ]


def test_timestamps_keep_their_offset() -> None:
    text = dump(document()) + "opens: 2027-01-10T08:00:00+01:00\ncloses: 2027-01-31T22:59:00Z\n"
    spec = parse_consultation_file(text)
    assert spec.opens == datetime(2027, 1, 10, 8, tzinfo=OSLO_WINTER)
    assert spec.opens is not None
    assert spec.opens.utcoffset() == timedelta(hours=1)
    assert spec.closes == datetime(2027, 1, 31, 22, 59, tzinfo=UTC)


def test_loader_does_not_change_pyyaml_defaults() -> None:
    assert yaml.safe_load("a: yes\nb: 2027-01-10") == {
        "a": True,
        "b": date(2027, 1, 10),
    }


def test_question_mark_inside_a_flow_mapping() -> None:
    text = "slug: a\ntitle: {nb: Kommer du?, en: Are you coming?}\nquestions:\n"
    text += "  - {id: q, type: yes_no, text: {nb: Hva synes du?, en: What do you think?}}\n"
    spec = parse_consultation_file(text)
    assert spec.title == {"nb": "Kommer du?", "en": "Are you coming?"}
    assert spec.questions[0].text == {"nb": "Hva synes du?", "en": "What do you think?"}


# --- what a valid file becomes ---------------------------------------------------------------

# The example from DESIGN.md's "Consultation file" contract, verbatim.
CONTRACT_EXAMPLE = """\
slug: holmen-frivilligsentral          # [a-z0-9-], unique
title: {nb: Ny frivilligsentral på Holmen, en: New volunteer centre at Holmen}
intro: {nb: "Tre korte spørsmål om …"} # optional; any text field is a string or {lang: text}
opens: 2027-01-10T08:00:00+01:00       # optional; ISO 8601 with offset
closes: 2027-01-31T23:59:00+01:00      # optional
arena: frivillighet                    # optional arena slug: offered as opt-in at the end
questions:
  - id: use                            # unique within the file
    type: single_choice                # single_choice | multiple_choice | scale | yes_no | free_text
    text: {nb: Ville du brukt en frivilligsentral på Holmen?, en: Would you use …?}
    options:
      - {id: weekly, text: {nb: Hver uke, en: Every week}}
      - {id: sometimes, text: {nb: Av og til, en: Sometimes}}
      - {id: never, text: {nb: Aldri, en: Never}}
  - id: activities
    type: multiple_choice
    text: Hva burde sentralen tilby?
    max_choices: 3                     # optional
    options: [{id: homework, text: Leksehjelp}, {id: language, text: Språkkafé}, {id: trips, text: Turgrupper}]
    show_if: {question: use, in: [weekly, sometimes]}   # optional branching
  - id: agree
    type: scale
    min: 1
    max: 5
    labels: {min: Helt uenig, max: Helt enig}
    text: Kommunen bør prioritere frivillighet.
  - id: idea
    type: free_text
    required: false
    max_length: 1000
    text: Har du andre ideer?
"""  # noqa: E501 - verbatim


def test_contract_example_parses() -> None:
    spec = parse_consultation_file(CONTRACT_EXAMPLE)
    assert spec == ConsultationSpec(
        slug="holmen-frivilligsentral",
        title={"nb": "Ny frivilligsentral på Holmen", "en": "New volunteer centre at Holmen"},
        intro={"nb": "Tre korte spørsmål om …"},
        opens=datetime(2027, 1, 10, 8, tzinfo=OSLO_WINTER),
        closes=datetime(2027, 1, 31, 23, 59, tzinfo=OSLO_WINTER),
        arena="frivillighet",
        languages=("nb", "en"),
        questions=spec.questions,
    )
    use, activities, agree, idea = spec.questions
    assert use.text["en"] == "Would you use …?"
    assert [o.key for o in use.options] == ["weekly", "sometimes", "never"]
    assert activities.options[1] == OptionSpec("language", {"nb": "Språkkafé"})
    assert activities.max_choices == 3
    assert activities.show_if == ShowIf("use", ("weekly", "sometimes"))
    assert (agree.scale_min, agree.scale_max) == (1, 5)
    assert (agree.min_label, agree.max_label) == ({"nb": "Helt uenig"}, {"nb": "Helt enig"})
    assert (idea.required, idea.max_length) == (False, 1000)


def test_defaults() -> None:
    doc = document(
        title="Tittel",
        questions=[
            {"id": "c", "type": "multiple_choice", "text": "C", "options": TWO_OPTIONS},
            {"id": "s", "type": "scale", "text": "S"},
            {"id": "y", "type": "yes_no", "text": "Y"},
            {"id": "f", "type": "free_text", "text": "F"},
        ],
    )
    spec = parse_consultation_file(dump(doc))
    assert spec.languages == ("nb",)
    assert (spec.intro, spec.opens, spec.closes, spec.arena) == (None, None, None, None)
    choice, scale, yes_no, free = spec.questions
    assert all(question.required for question in spec.questions)
    assert all(question.show_if is None for question in spec.questions)
    assert choice.type is QuestionType.MULTIPLE_CHOICE
    assert choice.max_choices is None
    assert (scale.scale_min, scale.scale_max, scale.min_label, scale.max_label) == (
        1,
        5,
        None,
        None,
    )
    assert (scale.options, scale.max_length, scale.max_choices) == ((), None, None)
    assert yes_no.options == (OptionSpec("yes", {}), OptionSpec("no", {}))
    assert (yes_no.scale_min, yes_no.max_length) == (None, None)
    assert (free.max_length, free.options, free.scale_max) == (1000, (), None)


def test_plain_text_belongs_to_the_first_language() -> None:
    doc = document(
        title={"nn": "Tittel", "en": "Title"},
        intro="Velkomen",
        questions=[{"id": "q", "type": "yes_no", "text": {"nn": "Kjem du?", "nb": "Kommer du?"}}],
    )
    spec = parse_consultation_file(dump(doc))
    assert spec.languages == ("nn", "en")
    assert spec.intro == {"nn": "Velkomen"}
    assert list(spec.questions[0].text) == ["nn", "nb"]  # file order is kept


def test_texts_are_stripped() -> None:
    doc = document(title={"nb": "  Tittel\n", "en": "Title"})
    assert parse_consultation_file(dump(doc)).title == {"nb": "Tittel", "en": "Title"}


def test_scale_show_if_values_are_normalised() -> None:
    doc = document(
        questions=[
            {"id": "s", "type": "scale", "text": "S", "min": 0, "max": 10},
            {
                "id": "f",
                "type": "free_text",
                "text": "F",
                "show_if": {"question": "s", "in": [9, "08", 9]},
            },
        ]
    )
    assert parse_consultation_file(dump(doc)).questions[1].show_if == ShowIf("s", ("9", "8"))


@pytest.mark.parametrize("name", ["holmen-frivilligsentral.yaml", "dialogarena-mangfold.yaml"])
def test_examples_parse(name: str) -> None:
    spec = parse_consultation_file((EXAMPLES / name).read_bytes())
    assert spec.slug == name.removesuffix(".yaml")
    assert spec.languages == ("nb", "en")
    assert spec.intro is not None
    for question in spec.questions:
        assert set(question.text) == {"nb", "en"}
        for option in question.options:
            assert question.type is QuestionType.YES_NO or set(option.text) == {"nb", "en"}


def test_holmen_example_uses_every_type() -> None:
    spec = parse_consultation_file((EXAMPLES / "holmen-frivilligsentral.yaml").read_bytes())
    assert {question.type for question in spec.questions} == set(QuestionType)
    assert 5 <= len(spec.questions) <= 7
    assert sum(question.show_if is not None for question in spec.questions) == 1
    assert spec.arena == "frivillighet"
    assert spec.opens is not None
    assert spec.opens.year == 2027
    assert spec.opens.utcoffset() == timedelta(hours=1)


def test_dialogarena_example() -> None:
    spec = parse_consultation_file((EXAMPLES / "dialogarena-mangfold.yaml").read_bytes())
    assert spec.arena == "dialogarena"
    assert 4 <= len(spec.questions) <= 6
    assert QuestionType.FREE_TEXT in {question.type for question in spec.questions}


def test_languages_constant() -> None:
    assert LANGUAGES[0] == "nb"


def test_full_example_in_the_docs_parses() -> None:
    docs = (ROOT / "docs" / "consultation-format.md").read_text(encoding="utf-8")
    example = re.search(r"## A full example\n\n```yaml\n(.*?)```", docs, re.DOTALL)
    assert example is not None
    spec = parse_consultation_file(example.group(1))
    assert {question.type for question in spec.questions} == set(QuestionType)
