"""The results of a consultation: the numbers ``/results`` shows, with charts and filters.

The counts come from :func:`models.results.consultation_results`, the function ``/results``
calls, narrowed by the filters (source, language); free texts are the ones staff may read
(approved, or flagged for them), masked, with a search.
"""

from __future__ import annotations

from aiohttp import web

from bot.dashboard.consultations import SOURCE, _consultation
from bot.dashboard.desk import DESK
from bot.dashboard.guard import page
from bot.dashboard.render import bar_chart, show
from handlers.i18n import current_language, own_name
from handlers.views import moderation as views
from handlers.views.charts import bar_labels
from models import moderation as mod
from models.base import localized
from models.channels import Channel
from models.consultation_file import LANGUAGES as CONTENT_LANGUAGES
from models.consultation_file import QuestionType
from models.masking import Part, render
from models.results import ConsultationResults, ResultFilter, consultation_results, source_names
from models.roles import Role


def _filter(request: web.Request) -> ResultFilter:
    """The filters asked for (a source as deep links allow; a language Medvirk speaks; a
    channel it has)."""
    source = request.query.get("source") or None
    language = request.query.get("language") or None
    channel = request.query.get("channel") or None
    return ResultFilter(
        source=source if source and SOURCE.match(source) else None,
        language=language if language in CONTENT_LANGUAGES else None,
        channel=channel if channel in {c.value for c in Channel} else None,
    )


def _page_number(request: web.Request) -> int:
    raw = request.query.get("page", "0")
    return min(int(raw), 10_000) if raw.isdecimal() and len(raw) < 6 else 0


@page(Role.STAFF, "manage.results")
async def results(request: web.Request) -> web.Response:
    """Counts, shares, charts, completion and drop-off, and the free texts, filtered."""
    desk = request.app[DESK]
    status = mod.Status.FLAGGED if request.query.get("texts") == "flagged" else mod.Status.APPROVED
    search = request.query.get("q", "")[:100]
    async with desk.reading() as db:
        consultation = await _consultation(request, db)
        only = _filter(request)
        found = await consultation_results(db, consultation.id or 0, only)
        assert found is not None
        # Unfiltered, the results name every source already; filtered, they are asked for.
        sources = [s.source for s in found.sources]
        if only.narrows:
            sources = await source_names(db, found.consultation_id)
        free = [q.question_id for q in found.questions if q.type is QuestionType.FREE_TEXT]
        within = only.response_ids(found.consultation_id) if only.narrows else None
        texts = await mod.texts_for_staff(
            db, free, status, search, within=within, page=_page_number(request)
        )
    context = {
        "c": consultation,
        "r": found,
        "only": only,
        "sources": sources,
        # The languages people may have answered in: the consultation's, by their own names.
        "languages": consultation.languages,
        "language_names": {code: own_name(code) for code in consultation.languages},
        "charts": _charts(found),
        "texts": texts,
        "shown": [(qid, _masked(parts)) for qid, parts in texts.texts],
        "text_status": status.value,
        "search": search,
        "page": _page_number(request),
        "page_size": mod.TEXTS_PAGE,
        "question_texts": _question_texts(found),
    }
    return show(request, "results.html", context)


def _charts(found: ConsultationResults) -> dict[int, tuple[object, list[str]]]:
    """Each chart question's SVG and bar labels, in the reader's language."""
    language, fallback = current_language(), found.languages[0]
    return {
        q.question_id: (bar_chart(q, language, fallback), bar_labels(q, language, fallback))
        for q in found.questions
        if q.has_chart
    }


def _masked(parts: tuple[Part, ...]) -> str:
    """A text as moderators see it: personal data replaced by its name, in the reader's words."""
    return render(parts, lambda kind: f"[{views.label(kind)}]")


def _question_texts(found: ConsultationResults) -> dict[int, str]:
    language, fallback = current_language(), found.languages[0]
    return {q.question_id: localized(q.text, language, fallback) for q in found.questions}
