"""The comparison with the population and the re-weighted results, as tables for exports.

The xlsx export gets two sheets from :func:`comparison_rows` and :func:`weighted_rows`; the
JSON export an object from :func:`representation_json`. Texts are in ``language`` (the
consultation's first). Counts of fewer than five people are already None in the
:class:`~models.representation.Representation`; here they become ``<5`` (sheets) or ``null``
with ``"suppressed": true`` (JSON).
"""

from __future__ import annotations

from typing import Any

from models.base import Text, localized
from models.consultation_file import QuestionType
from models.profile import BackgroundQuestion
from models.representation import (
    DimensionComparison,
    Representation,
    WeightedQuestion,
    Weighting,
)

#: What a suppressed count (1 to 4 people) looks like in a sheet.
FEWER_THAN_FIVE = "<5"
COMPARISON_HEADER = [
    "question",
    "band",
    "band_text",
    "respondents",
    "residents",
    "respondent_share",
    "resident_share",
    "ratio",
    "under_represented",
]
WEIGHTED_HEADER = ["question", "option", "option_text", "raw_percent", "weighted_percent"]


def _text(text: Text, language: str) -> str:
    return localized(text, language, next(iter(text), language)) if text else ""


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _count(value: int | None) -> int | str:
    return FEWER_THAN_FIVE if value is None else value


def comparison_rows(found: Representation, language: str) -> list[list[Any]]:
    """One row per band: respondents against residents; then who gave no band, per question."""
    rows: list[list[Any]] = [COMPARISON_HEADER]
    for dimension in found.dimensions:
        for band in dimension.bands:
            rows.append(
                [
                    dimension.key,
                    band.key,
                    _text(band.text, language),
                    _count(band.respondents),
                    band.population,
                    _round(band.respondent_share),
                    _round(band.population_share),
                    _round(band.ratio, 3),
                    "yes" if band.under else "no",
                ]
            )
        rows.append([dimension.key, None, "(not given)", _count(dimension.not_given)] + [None] * 5)
    return rows


def weighted_rows(found: Representation, language: str) -> list[list[Any]]:
    """How the results were re-weighted, then every option's share raw and re-weighted."""
    weighting = found.weighting
    if weighting is None:
        return [["no population figures: nothing to re-weight"]]
    rows: list[list[Any]] = [
        ["weighted_on", ", ".join(weighting.dimensions)],
        ["method", weighting.method],
        ["respondents_weighted", weighting.weighted],
        ["respondents_not_weighted", weighting.not_weighted],
        ["effective_sample_size", round(weighting.effective_size, 1)],
    ]
    for gap in weighting.uncovered:
        bands = " \u00d7 ".join(_text(t, language) for t in gap.texts)
        rows.append(["no_respondents_in", bands, round(gap.population_share, 4)])
    rows += [[], WEIGHTED_HEADER]
    for question in weighting.questions:
        rows += _question_rows(question, language)
    return rows


def _question_rows(question: WeightedQuestion, language: str) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [
            question.key,
            option.key,
            _text(option.text, language),
            round(option.raw_percent, 1),
            round(option.weighted_percent, 1),
        ]
        for option in question.options
    ]
    if question.type is QuestionType.SCALE:
        rows.append(
            [
                question.key,
                "mean",
                "",
                _round(question.raw_mean, 2),
                _round(question.weighted_mean, 2),
            ]
        )
    return rows


def representation_json(
    found: Representation, questions: list[BackgroundQuestion], language: str
) -> dict[str, Any]:
    """The comparison and the re-weighted results as one JSON object."""
    labels = {q.key: q.label_in(language) for q in questions}
    return {
        "respondents": found.respondents,
        "factor": found.factor,
        "small_cell": "counts of 1 to 4 people are null, with suppressed: true",
        "dimensions": [
            _dimension_json(d, labels.get(d.key, d.key), language) for d in found.dimensions
        ],
        "weighting": _weighting_json(found.weighting, language) if found.weighting else None,
    }


def _dimension_json(dimension: DimensionComparison, label: str, language: str) -> dict[str, Any]:
    return {
        "question": dimension.key,
        "label": label,
        "respondents_with_band": dimension.known,
        "not_given": dimension.not_given,
        "residents": dimension.population,
        "bands": [
            {
                "id": band.key,
                "text": _text(band.text, language),
                "respondents": band.respondents,
                "suppressed": band.respondents is None,
                "residents": band.population,
                "respondent_share": _round(band.respondent_share),
                "resident_share": _round(band.population_share),
                "ratio": _round(band.ratio, 3),
                "under_represented": band.under,
            }
            for band in dimension.bands
        ],
    }


def _weighting_json(weighting: Weighting, language: str) -> dict[str, Any]:
    return {
        "dimensions": list(weighting.dimensions),
        "method": weighting.method,
        "respondents_weighted": weighting.weighted,
        "respondents_not_weighted": weighting.not_weighted,
        "effective_sample_size": round(weighting.effective_size, 2),
        "no_respondents_in": [
            {
                "bands": [_text(t, language) for t in gap.texts],
                "resident_share": round(gap.population_share, 4),
            }
            for gap in weighting.uncovered
        ],
        "questions": [_question_json(q) for q in weighting.questions],
    }


def _question_json(question: WeightedQuestion) -> dict[str, Any]:
    found: dict[str, Any] = {
        "question": question.key,
        "answered": question.answered,
        "effective_sample_size": round(question.effective_size, 2),
        "options": [
            {
                "id": o.key,
                "raw_percent": round(o.raw_percent, 2),
                "weighted_percent": round(o.weighted_percent, 2),
            }
            for o in question.options
        ],
    }
    if question.type is QuestionType.SCALE:
        found["raw_mean"] = _round(question.raw_mean)
        found["weighted_mean"] = _round(question.weighted_mean)
    return found
