"""Rendering for the dashboard: templates, times, charts as SVG, QR codes, the bot's messages.

Charts are drawn here as SVG from the same counts ``/results`` shows, with the same bar labels
(:func:`handlers.views.charts.bar_labels`); every chart is followed by a table of its numbers,
so a screen reader reads the same. QR codes are SVG made by ``segno``.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
import segno
from aiohttp import web
from markupsafe import Markup

from bot.dashboard.desk import DESK, PREFIX, VISIT
from handlers.i18n import (
    LANGUAGE_NAMES,
    LANGUAGES,
    current_language,
    direction,
    gettext,
    ngettext,
)
from handlers.views.charts import bar_labels
from handlers.views.manage import status_text
from handlers.views.moderation import decision_label
from handlers.views.outgoing import Outgoing
from models.results import QuestionResult

TEMPLATES = Path(__file__).parent / "templates"
# The tags of Telegram's HTML that the bot's messages use (without attributes); any other "<"
# or ">" is escaped, and so is an "&" that does not start an entity.
_TELEGRAM_TAG = re.compile(r"(</?(?:b|i|u|s|code|pre|blockquote)>)")
_LOOSE_AMPERSAND = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});)")
BAR_HEIGHT = 28
LABEL_WIDTH = 260
CHART_WIDTH = 640


def setup(app: web.Application) -> None:
    """Templates with translations (gettext in the request's language) and helpers."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(telegram_html=telegram_html)
    env.globals.update(
        PREFIX=PREFIX,
        LANGUAGE_NAMES=LANGUAGE_NAMES,
        LANGUAGES=LANGUAGES,
        status_text=status_text,
        zip=zip,
        decided_label=decision_label,
    )


def _context(request: web.Request) -> dict[str, Any]:
    code = current_language()
    desk = request.app[DESK]
    zone = desk.runtime.timezone if desk.runtime is not None else desk.settings.timezone
    return {
        "visit": request.get(VISIT),
        "lang": code,
        "dir": direction(code),
        "path": request.path,
        "sandbox": bool(desk.sandbox_logins),
        "when": lambda moment: local_time(moment, zone),
        "input_time": lambda moment: local_time(moment, zone, "%Y-%m-%dT%H:%M"),
        "zone": zone,
    }


def show(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    """Render a page (or a fragment of one, for htmx) with what every page needs."""
    return aiohttp_jinja2.render_template(
        template, request, {**_context(request), **context}, status=status
    )


def local_time(moment: datetime | None, zone: str, form: str = "%d.%m.%Y %H:%M") -> str:
    """A time as people in the municipality read it: ``15.01.2027 13:00``."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(zone)).strftime(form)


def parse_local(text: str, zone: str) -> datetime | None:
    """A ``datetime-local`` field's value (local time) as an aware time; None when empty.

    Raises:
        ValueError: not a time.
    """
    if not text.strip():
        return None
    return datetime.fromisoformat(text.strip()).replace(tzinfo=ZoneInfo(zone))


def telegram_html(text: str) -> Markup:
    """A bot message (Telegram's HTML, its texts escaped) shown in a page.

    Only the attribute-free formatting tags pass; everything else that could make markup is
    escaped, so a text can never become a tag or an attribute here.
    """
    pieces = _TELEGRAM_TAG.split(text)
    safe = [
        piece
        if index % 2
        else _LOOSE_AMPERSAND.sub("&amp;", piece).replace("<", "&lt;").replace(">", "&gt;")
        for index, piece in enumerate(pieces)
    ]
    return Markup("".join(safe).replace("\n", "<br>"))  # noqa: S704 - built safe above


def message_buttons(message: Outgoing) -> list[list[str]]:
    """The labels of a message's buttons, row by row (a preview shows them inert)."""
    if message.keyboard is None:
        return []
    return [[button.text for button in row] for row in message.keyboard.inline_keyboard]


def qr_svg(url: str, title: str) -> Markup:
    """A QR code of ``url`` as inline SVG, with a title for screen readers."""
    code = segno.make(url, error="m")
    svg = code.svg_inline(scale=4, border=2, dark="#000", light="#fff", title=title)
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S704 - segno's own output


def qr_file(url: str) -> bytes:
    """The QR code of ``url`` as an SVG file to print."""
    code = segno.make(url, error="m")
    out = io.BytesIO()
    code.save(out, kind="svg", scale=10, border=4)
    return out.getvalue()


def bar_chart(question: QuestionResult, language: str, fallback: str) -> Markup:
    """Horizontal bars, one per option or value, each with its count and share, as SVG."""
    labels = bar_labels(question, language, fallback)
    height = BAR_HEIGHT * len(labels) + 8
    longest = max((t.count for t in question.tallies), default=0) or 1
    room = CHART_WIDTH - LABEL_WIDTH - 110
    rows = []
    for index, (label, tally) in enumerate(zip(labels, question.tallies, strict=True)):
        y = 4 + index * BAR_HEIGHT
        width = room * tally.count / longest
        short = label if len(label) <= 38 else label[:37] + "…"
        rows.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 18}" text-anchor="end">{escape(short)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 4}" width="{width:.1f}" height="{BAR_HEIGHT - 8}" '
            f'class="bar"/>'
            f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + 18}">'
            f"{tally.count} ({tally.percent:.0f} %)</text>"
        )
    return Markup(  # noqa: S704 - every text in it is escaped above
        f'<svg class="chart" viewBox="0 0 {CHART_WIDTH} {height}" width="100%" '
        f'aria-hidden="true" focusable="false">{"".join(rows)}</svg>'
    )
