"""Result charts: one PNG per choice or scale question, made to be read on a phone.

The picture is 1080 pixels wide, the width Telegram shows a photo at on most phones, with
large type, and as tall as its content: about square for three short options, portrait from
four or five. Each option gets its label on its own line, full width, and below it a
horizontal bar with the count and the share of those who answered. Bars are drawn on a light
track that stands for 100 %, so a glance tells "most" from "a few" even when the bars of a
multiple-choice question add up to more than 100 %.

Drawing uses Matplotlib's object-oriented API on the Agg canvas, never ``pyplot``: no global
figure registry to leak into, no GUI backend, and the DejaVu Sans font that ships inside
Matplotlib (nothing is fetched from the internet). Rendering takes a tenth of a second or so, so
the bot calls :func:`render_chart_async`, which runs it in a worker thread.
"""

from __future__ import annotations

import asyncio
import io
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from handlers.i18n import _
from models.base import localized
from models.consultation_file import QuestionType
from models.results import ConsultationResults, QuestionResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Matplotlib, with NumPy and Pillow, is about 50 MB of a process's memory: it is imported when
# the first chart is drawn or measured (in the functions below), not when the bot starts.

FONT = "DejaVu Sans"
DPI = 180
WIDTH = 6.0  # inches: 1080 pixels at DPI
MARGIN = 0.4
BAR_HEIGHT = 0.42
TITLE_SIZE = 15
QUESTION_SIZE = 21
SUBTITLE_SIZE = 15
LABEL_SIZE = 18
VALUE_SIZE = 17
# Characters per line at each size, for the 5.2 inches between the margins (DejaVu Sans).
TITLE_WRAP = 50
QUESTION_WRAP = 30
LABEL_WRAP = 36
MAX_LABEL_LINES = 4
MAX_QUESTION_LINES = 7
INK = "#1a1a1a"
MUTED = "#555555"
BAR = "#1f5fa8"
TRACK = "#e6ecf3"
# DejaVu Sans's ascent, as a share of the font size.
ASCENT = 0.93
# Room right of the longest bar for "12345 (100 %)".
VALUE_ROOM = 1.9

# Matplotlib is not thread-safe across figures in every corner (text layout caches), and charts
# are rare: one at a time is safe and costs nothing noticeable.
_render_lock = threading.Lock()


@dataclass(frozen=True)
class Chart:
    """A rendered chart and the question it belongs to."""

    question_key: str
    png: bytes


@cache
def _glyphs() -> frozenset[int]:
    """The code points the chart font can draw."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(
        font_manager.FontProperties(family=FONT), fallback_to_default=True
    )
    return frozenset(FT2Font(Path(path)).get_charmap())


def _drawable(text: str) -> str:
    """Drop characters the font lacks (emoji, mostly) instead of drawing empty boxes.

    Matplotlib would also warn once per missing glyph and render, which in the bot means log
    noise for every chart with an emoji in an option.
    """
    glyphs = _glyphs()
    kept = "".join(c for c in text if c in "\n " or ord(c) in glyphs)
    return " ".join(kept.split(" ")).strip()


def _wrap(text: str, width: int, max_lines: int) -> list[str]:
    lines = textwrap.wrap(_drawable(text), width=width, break_long_words=True) or [""]
    if len(lines) > max_lines:
        # Cut, and say so: a tall picture with a whole paragraph per bar reads worse.
        lines = [*lines[: max_lines - 1], lines[max_lines - 1][: width - 2] + " …"]
    return lines


def _line_height(points: float) -> float:
    """The height of one line of text, in inches."""
    return points / 72 * 1.3


def format_value(count: int, total: int) -> str:
    """The text beside a bar: the count and its share of those who answered."""
    share = round(100 * count / total) if total else 0
    if share == 0 and count > 0:
        return f"{count} (<1 %)"
    return f"{count} ({share} %)"


def render_chart(
    title: str,
    question_text: str,
    labels: list[str],
    counts: list[int],
    total: int,
    *,
    subtitle: str,
) -> bytes:
    """Draw one question's results as a PNG with horizontal bars, sized for a phone.

    Args:
        title: The consultation's title, shown small at the top.
        question_text: The question, shown large below it.
        labels: One label per bar, in order from top to bottom; long ones are wrapped.
        counts: How many picked each one.
        total: How many answered the question: the 100 % of every bar.
        subtitle: A line under the question, such as "42 answers".

    Returns:
        The PNG file's bytes.
    """
    if len(labels) != len(counts):
        raise ValueError("one count per label")
    layout = _layout(title, question_text, labels, counts, subtitle)
    figure, axes = _blank_figure(layout.height)
    _draw_texts(axes, layout.texts)
    _draw_bars(axes, layout.bars, total)
    with _render_lock, io.BytesIO() as buffer:
        figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
        return buffer.getvalue()


def _blank_figure(height: float) -> tuple[Figure, Axes]:
    """A white figure of the chart's size, with one axes over the whole of it.

    The axes are in inches with y growing downwards: the layout is drawn as it was computed.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, height), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    axes.set_xlim(0, WIDTH)
    axes.set_ylim(height, 0)
    return figure, axes


@dataclass
class _Layout:
    """Where everything goes, in inches from the top; the figure's height follows from it."""

    texts: list[tuple[float, str, float, str, str]]  # y, text, size, colour, weight
    bars: list[tuple[float, int]]  # top of bar, count
    height: float


def _layout(
    title: str, question_text: str, labels: list[str], counts: list[int], subtitle: str
) -> _Layout:
    """Lay the chart out top-down: title, question, subtitle, then a label and a bar each."""
    y = MARGIN
    texts: list[tuple[float, str, float, str, str]] = []
    for line in _wrap(title, TITLE_WRAP, 2):
        texts.append((y, line, TITLE_SIZE, MUTED, "normal"))
        y += _line_height(TITLE_SIZE)
    y += 0.12
    for line in _wrap(question_text, QUESTION_WRAP, MAX_QUESTION_LINES):
        texts.append((y, line, QUESTION_SIZE, INK, "bold"))
        y += _line_height(QUESTION_SIZE)
    y += 0.06
    texts.append((y, _drawable(subtitle), SUBTITLE_SIZE, MUTED, "normal"))
    y += _line_height(SUBTITLE_SIZE) + 0.3
    bars: list[tuple[float, int]] = []
    for label, count in zip(labels, counts, strict=True):
        for line in _wrap(label, LABEL_WRAP, MAX_LABEL_LINES):
            texts.append((y, line, LABEL_SIZE, INK, "normal"))
            y += _line_height(LABEL_SIZE)
        y += 0.04
        bars.append((y, count))
        y += BAR_HEIGHT + 0.3
    return _Layout(texts, bars, y + MARGIN - 0.2)


def _draw_texts(axes: Axes, texts: list[tuple[float, str, float, str, str]]) -> None:
    for top, text, size, colour, weight in texts:
        # Placed by baseline, not by the top of the ink: "å" reaches higher than "H", and
        # top-aligned lines with and without it would be unevenly spaced.
        axes.text(
            MARGIN,
            top + size / 72 * ASCENT,
            text,
            fontsize=size,
            color=colour,
            fontweight=weight,
            fontfamily=FONT,
            va="baseline",
            ha="left",
            parse_math=False,  # a "$" in an option must not start TeX
        )


def _draw_bars(axes: Axes, bars: list[tuple[float, int]], total: int) -> None:
    """Each bar on its track (100 %), with the count and share right of the track."""
    from matplotlib.patches import Rectangle

    track = WIDTH - 2 * MARGIN - VALUE_ROOM
    for top, count in bars:
        share = count / total if total else 0.0
        axes.add_patch(Rectangle((MARGIN, top), track, BAR_HEIGHT, color=TRACK, linewidth=0))
        if share > 0:
            # At least a sliver, so a single vote out of thousands is still visible.
            length = max(track * min(share, 1.0), 0.04)
            axes.add_patch(Rectangle((MARGIN, top), length, BAR_HEIGHT, color=BAR, linewidth=0))
        axes.text(
            MARGIN + track + 0.12,
            top + BAR_HEIGHT / 2,
            format_value(count, total),
            fontsize=VALUE_SIZE,
            color=INK,
            fontweight="bold",
            fontfamily=FONT,
            va="center_baseline",
            ha="left",
            parse_math=False,
        )


async def render_chart_async(
    title: str,
    question_text: str,
    labels: list[str],
    counts: list[int],
    total: int,
    *,
    subtitle: str,
) -> bytes:
    """Render a chart in a worker thread, so the event loop keeps serving other people."""
    return await asyncio.to_thread(
        render_chart, title, question_text, labels, counts, total, subtitle=subtitle
    )


def bar_labels(question: QuestionResult, language: str, fallback: str) -> list[str]:
    """The label of every bar of a question, in ``language``.

    Yes/no options have no text of their own and get the translated "Yes" and "No"; the ends of
    a scale get their labels (``1: Strongly disagree``).
    """
    labels: list[str] = []
    for tally in question.tallies:
        if question.type is QuestionType.YES_NO:
            labels.append(_("Yes") if tally.key == "yes" else _("No"))
        elif question.type is QuestionType.SCALE:
            first, last = question.tallies[0].key, question.tallies[-1].key
            end = (
                question.min_label
                if tally.key == first
                else question.max_label
                if tally.key == last
                else None
            )
            meaning = localized(end, language, fallback)
            labels.append(f"{tally.key}: {meaning}" if meaning else tally.key)
        else:
            labels.append(tally.label(language, fallback))
    return labels


def plain_subtitle(question: QuestionResult) -> str:
    """A subtitle that needs no translation: ``n = 42``, the number who answered.

    The /results handler passes its own, translated line instead (such as "42 svar · snitt
    3,8"); this keeps the charts usable, and the catalogues untouched, until it does.
    """
    return f"n = {question.answered}"


async def result_charts(
    results: ConsultationResults,
    language: str,
    *,
    subtitle: Callable[[QuestionResult], str] = plain_subtitle,
) -> list[Chart]:
    """Render a chart for every choice, yes/no and scale question, in question order.

    Texts are picked (and translated) here, in the caller's context; only the drawing goes to
    a worker thread.

    Args:
        results: What :func:`models.results.consultation_results` counted.
        language: The reader's language; the consultation's first language fills gaps.
        subtitle: Makes the line under each question, such as "42 answers".
    """
    fallback = results.languages[0]
    title = results.title_in(language)
    charts: list[Chart] = []
    for question in results.questions:
        if not question.has_chart:
            continue
        png = await render_chart_async(
            title,
            localized(question.text, language, fallback),
            bar_labels(question, language, fallback),
            [t.count for t in question.tallies],
            question.answered,
            subtitle=subtitle(question),
        )
        charts.append(Chart(question.key, png))
    return charts
