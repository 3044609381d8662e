"""Result charts: valid PNGs of a phone-friendly size, drawn off the event loop."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from handlers.i18n import language
from handlers.views import charts
from handlers.views.charts import render_chart, render_chart_async, result_charts
from models.consultation_file import QuestionType
from models.results import ConsultationResults, QuestionResult, Tally

ROOT = Path(__file__).parents[2]
LONG = (
    "Leksehjelp for barn og unge på ettermiddagen, også i helgene og i skoleferiene, "
    "med frivillige fra nærmiljøet"
)


def _size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        image.verify()  # raises on a broken file
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        return image.size


def _chart(labels: list[str], counts: list[int] | None = None) -> bytes:
    counts = counts if counts is not None else [3] * len(labels)
    return render_chart(
        "Ny park", "Ville du brukt parken?", labels, counts, 10, subtitle="10 svar"
    )


def test_a_chart_is_a_png_as_wide_as_a_phone_shows_it() -> None:
    width, height = _size(_chart(["Ofte", "Av og til", "Aldri"]))
    assert width == 1080
    # As tall as its content: three short options are about square, more grow downwards.
    assert 0.7 * width < height < 1.5 * width
    assert _size(_chart(["Ofte", "Av og til", "Aldri", "Vet ikke", "Annet"]))[1] > width


def test_long_labels_wrap_and_make_the_chart_taller() -> None:
    short = _size(_chart(["Leksehjelp", "Språkkafé"]))
    long = _size(_chart([LONG, "Språkkafé"]))
    assert long[0] == short[0] == 1080
    assert long[1] > short[1]


def test_a_dozen_options_still_fit_in_a_telegram_photo() -> None:
    width, height = _size(_chart([f"{LONG} {i}" for i in range(12)]))
    # Telegram: width + height at most 10000, ratio at most 20.
    assert width + height <= 10_000
    assert height / width <= 20


def test_awkward_text_draws_without_warnings() -> None:
    # "$" would start TeX, an emoji is missing from the font, nobody answered: each of these
    # would warn (and warnings fail the tests) or raise if not handled.
    png = render_chart(
        "Budsjett 🌳", "Hva koster $5 og $10?", ["$5 🙂", "100 %", ""], [0, 0, 0], 0, subtitle=""
    )
    assert _size(png)[0] == 1080


def test_labels_and_counts_must_pair_up() -> None:
    with pytest.raises(ValueError, match="one count per label"):
        render_chart("t", "q", ["a", "b"], [1], 1, subtitle="")


def test_value_text_gives_counts_and_shares() -> None:
    assert charts.format_value(2, 5) == "2 (40 %)"
    assert charts.format_value(1, 1000) == "1 (<1 %)"
    assert charts.format_value(0, 0) == "0 (0 %)"


async def test_rendering_runs_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    draw = charts.render_chart

    def spy(*args: object, **kwargs: object) -> bytes:
        threads.append(threading.current_thread())
        return draw(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(charts, "render_chart", spy)
    png = await render_chart_async("Ny park", "Q?", ["a"], [1], 1, subtitle="1")
    assert threads
    assert threads[0] is not threading.main_thread()
    assert png == draw("Ny park", "Q?", ["a"], [1], 1, subtitle="1")


def _question(
    key: str, kind: QuestionType, text: str, answered: int, counts: dict[str, int], **more: Any
) -> QuestionResult:
    tallies = [Tally(k, more.pop(k, {}), n, 100 * n / answered) for k, n in counts.items()]
    return QuestionResult(
        question_id=len(key),
        key=key,
        position=0,
        type=kind,
        text={"nb": text},
        answered=answered,
        skipped=0,
        stopped_here=0,
        tallies=tallies,
        **more,
    )


def _results() -> ConsultationResults:
    questions = [
        _question(
            "use",
            QuestionType.SINGLE_CHOICE,
            "Ville du brukt parken?",
            5,
            {"often": 2, "never": 3},
            often={"nb": "Ofte"},
            never={"nb": "Aldri"},
        ),
        _question(
            "agree",
            QuestionType.SCALE,
            "Kommunen bør prioritere parker.",
            4,
            {"1": 0, "2": 1, "3": 3},
            mean=2.75,
            min_label={"nb": "Helt uenig"},
            max_label={"nb": "Helt enig"},
        ),
        _question("trees", QuestionType.YES_NO, "Flere trær?", 3, {"yes": 2, "no": 1}),
        _question("idea", QuestionType.FREE_TEXT, "Ideer?", 2, {}),
    ]
    return ConsultationResults(
        consultation_id=1,
        slug="park",
        title={"nb": "Ny park"},
        languages=["nb"],
        started=6,
        completed=4,
        questions=questions,
        sources=[],
    )


def test_bars_are_labelled_in_the_readers_language() -> None:
    agree, trees = _results().questions[1:3]
    assert charts.bar_labels(agree, "nb", "nb") == ["1: Helt uenig", "2", "3: Helt enig"]
    with language("nb"):
        assert charts.bar_labels(trees, "nb", "nb") == ["Ja", "Nei"]
    with language("en"):
        assert charts.bar_labels(trees, "en", "nb") == ["Yes", "No"]


async def test_every_question_but_free_text_gets_a_chart(tmp_path: Path) -> None:
    made = await result_charts(_results(), "nb")
    assert [c.question_key for c in made] == ["use", "agree", "trees"]
    for chart in made:
        assert _size(chart.png)[0] == 1080
    # Kept for a look: `pytest --basetemp=out` leaves it in out/.
    (tmp_path / "agree.png").write_bytes(made[1].png)


async def test_the_subtitle_can_be_given() -> None:
    made = await result_charts(_results(), "nb", subtitle=lambda q: f"{q.answered} svar")
    assert len(made) == 3
    assert charts.plain_subtitle(_results().questions[1]) == "n = 4"


def test_charts_never_touch_pyplot() -> None:
    # pyplot keeps every figure in a global registry (a leak in a long-running bot) and picks
    # a GUI backend; the chart module must work without it ever being imported.
    script = (
        "import sys\n"
        "from handlers.views.charts import render_chart\n"
        "render_chart('t', 'q', ['a'], [1], 1, subtitle='s')\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    env = {**os.environ, "MPLBACKEND": ""}
    env.pop("MPLBACKEND")
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True)  # noqa: S603
