"""Who answered, compared with who lives here, as staff read it under /results.

Counts of fewer than five people arrive as None (:mod:`models.representation`) and are shown as
"<5"; the groups that answered below their share are named in plain words ("answered at a third
of their share"); the results re-weighted to match the residents stand next to the raw ones.
"""

from __future__ import annotations

import math
from html import escape

from handlers.i18n import _, current_language
from handlers.views.focus_groups import stratum_label
from models.base import Text, localized
from models.consultation_file import QuestionType
from models.lottery import stratum_key
from models.profile import BackgroundQuestion
from models.representation import (
    BandShare,
    DimensionComparison,
    Representation,
    SourceBands,
    WeightedQuestion,
    Weighting,
)

#: Telegram allows 4096 characters in a message; the rest is in the export.
LIMIT = 4000
FEWER_THAN_FIVE = "&lt;5"


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.0f} %"


def _count(count: int | None) -> str:
    return FEWER_THAN_FIVE if count is None else str(count)


def _text(text: Text) -> str:
    return escape(localized(text, current_language(), next(iter(text), "")))


def fraction_words(ratio: float) -> str:
    """A ratio below one in plain words: "a third", "half", "two thirds" (the nearest)."""
    words = [
        (1 / 10, _("a tenth")),
        (1 / 5, _("a fifth")),
        (1 / 4, _("a quarter")),
        (1 / 3, _("a third")),
        (1 / 2, _("half")),
        (2 / 3, _("two thirds")),
        (3 / 4, _("three quarters")),
    ]
    nearest = min(words, key=lambda w: abs(math.log(max(ratio, 1e-6)) - math.log(w[0])))
    return nearest[1]


def missing_sentence(dimension: DimensionComparison, band: BandShare, label: str) -> str:
    """One under-represented group in plain words."""
    who = f"{_text(band.text)} ({escape(label)})"
    residents = _percent(band.population_share)
    if band.respondents == 0:
        return _("{who}: nobody answered ({residents} of residents)").format(
            who=who, residents=residents
        )
    if band.respondents is None or band.ratio is None:
        return _("{who}: fewer than 5 answered ({residents} of residents)").format(
            who=who, residents=residents
        )
    return _(
        "{who} answered at {fraction} of their share ({respondents} of those who answered, "
        "{residents} of residents)"
    ).format(
        who=who,
        fraction=fraction_words(band.ratio),
        respondents=_percent(band.respondent_share),
        residents=residents,
    )


def _dimension_lines(dimension: DimensionComparison, label: str) -> list[str]:
    lines = [f"<b>{escape(label)}</b>"]
    for band in dimension.bands:
        share = (
            f" ({_percent(band.respondent_share)})" if band.respondent_share is not None else ""
        )
        lines.append(
            "  "
            + _("{band}: {count}{share} · residents {residents}").format(
                band=_text(band.text),
                count=_count(band.respondents),
                share=share,
                residents=_percent(band.population_share),
            )
        )
    if dimension.not_given != 0:
        lines.append("  " + _("not given: {count}").format(count=_count(dimension.not_given)))
    return lines


def _weighting_lines(
    weighting: Weighting,
    respondents: int,
    labels: dict[str, str],
    questions: list[BackgroundQuestion],
) -> list[str]:
    by = " \u00d7 ".join(escape(labels.get(k, k)) for k in weighting.dimensions)
    lines = [
        _("<b>Results weighted to match the residents</b>"),
        _(
            "Weighted by {questions} on {weighted} of {respondents} who answered; "
            "effective sample size {size}."
        ).format(
            questions=by,
            weighted=weighting.weighted,
            respondents=respondents,
            size=f"{weighting.effective_size:.0f}",
        ),
    ]
    if weighting.uncovered:
        cells = ", ".join(
            f"{stratum_label(stratum_key(gap.dimensions, gap.bands), questions)} "
            f"({_percent(gap.population_share)})"
            for gap in weighting.uncovered
        )
        lines.append(_("Nobody answered from: {cells}.").format(cells=cells))
    lines.append(_("<i>answered → weighted</i>"))
    for question in weighting.questions:
        lines += _weighted_question_lines(question)
    return lines


def _weighted_question_lines(question: WeightedQuestion) -> list[str]:
    lines = [f"<b>{_text(question.text)}</b>"]
    if question.type is QuestionType.SCALE:
        if question.raw_mean is not None and question.weighted_mean is not None:
            lines.append(
                "  "
                + _("Average: {raw} → {weighted}").format(
                    raw=f"{question.raw_mean:.1f}", weighted=f"{question.weighted_mean:.1f}"
                )
            )
        return lines
    for option in question.options:
        name = {"yes": _("Yes"), "no": _("No")}.get(option.key) if not option.text else None
        label = escape(name) if name else _text(option.text) or escape(option.key)
        lines.append(f"  {label}: {option.raw_percent:.0f} % → {option.weighted_percent:.0f} %")
    return lines


def _source_lines(
    sources: list[SourceBands], labels: dict[str, str], questions: list[BackgroundQuestion]
) -> list[str]:
    texts = {q.key: {o.key: o.text for o in q.options} for q in questions}
    lines = [_("<b>Who each link reached</b>")]
    for source in sources:
        parts = []
        for key, bands in source.bands.items():
            reached = [
                f"{_text(texts[key][band])} {_count(n)}" for band, n in bands.items() if n != 0
            ]
            if reached:
                parts.append(f"{escape(labels.get(key, key))}: {', '.join(reached)}")
        lines.append(f"• {escape(source.source)} ({source.respondents}): " + "; ".join(parts))
    return lines


def representation_text(found: Representation, questions: list[BackgroundQuestion]) -> str:
    """Respondents against residents per group, the groups missing, and weighted results."""
    labels = {q.key: q.label_in(current_language()) for q in questions}
    parts = [
        _("<b>Who answered, compared with who lives here</b>"),
        "\n".join(
            line
            for d in found.dimensions
            for line in _dimension_lines(d, labels.get(d.key, d.key))
        ),
    ]
    missing = [missing_sentence(d, b, labels.get(d.key, d.key)) for d, b in found.under]
    if missing:
        parts.append("\n".join([_("<b>Groups we are missing</b>"), *[f"• {m}" for m in missing]]))
    else:
        parts.append(
            _("No group answered at less than {fraction} of its share.").format(
                fraction=fraction_words(1 / found.factor)
            )
        )
    if found.weighting is not None:
        parts.append(
            "\n".join(_weighting_lines(found.weighting, found.respondents, labels, questions))
        )
    if found.sources:
        parts.append("\n".join(_source_lines(found.sources, labels, questions)))
    text = "\n\n".join(parts)
    if len(text) > LIMIT:
        text = text[: LIMIT - 100].rsplit("\n", 1)[0] + "\n… " + _("The export has all of it.")
    return text


def no_population() -> str:
    """Background questions without population figures to compare with."""
    return _(
        "There are no population figures to compare who answered with. "
        "Import them with medvirk population import (docs/representation.md)."
    )
