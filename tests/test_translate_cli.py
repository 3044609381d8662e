"""``medvirk consultation translate``: the translator's file out, filled in, and back."""

from __future__ import annotations

from pathlib import Path

import polib
import pytest

from tests.test_cli import medvirk

BENCHES = """
slug: benker
title: {nb: Benker i parken, en: Benches in the park}
intro: {nb: "Se kartet på https://kommune.no/benker før du svarer."}
questions:
  - id: where
    type: single_choice
    text: {nb: Hvor vil du ha benker?, en: Where do you want benches?}
    options:
      - {id: pond, text: {nb: Ved dammen, en: By the pond}}
      - {id: play, text: {nb: Ved lekeplassen, en: By the playground}}
  - id: agree
    type: scale
    text: Parken trenger flere benker.
    labels: {min: Helt uenig, max: Helt enig}
  - id: ok
    type: yes_no
    text: Bruker du parken?
"""

POLISH = {
    "title": "Ławki w parku",
    "intro": "Zobacz mapę na https://kommune.no/benker, zanim odpowiesz.",
    "questions.where.text": "Gdzie chcesz ławki?",
    "questions.where.options.pond": "Przy stawie",
    "questions.where.options.play": "Przy placu zabaw",
    "questions.agree.text": "Park potrzebuje więcej ławek.",
    "questions.agree.labels.min": "Zdecydowanie się nie zgadzam",
    "questions.agree.labels.max": "Zdecydowanie się zgadzam",
    "questions.ok.text": "Czy korzystasz z parku?",
}


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    """A database with the benches consultation, and its path."""
    database = tmp_path / "medvirk.db"
    source = tmp_path / "benker.yaml"
    source.write_text(BENCHES, encoding="utf-8")
    result = medvirk("consultation", "import", str(source), database=database)
    assert result.returncode == 0, result.stderr
    return database


def _export(database: Path, target: str = "pl") -> tuple[Path, polib.POFile]:
    out = database.parent / f"benker-{target}.po"
    result = medvirk(
        "consultation",
        "translate",
        "benker",
        "--to",
        target,
        "--output",
        str(out),
        database=database,
    )
    assert result.returncode == 0, result.stderr
    return out, polib.pofile(str(out))


def _fill(po: polib.POFile, out: Path, texts: dict[str, str]) -> None:
    for entry in po:
        entry.msgstr = texts.get(entry.msgctxt, "")
    po.save(str(out))


def test_the_file_has_the_bokmal_texts_a_note_for_each_and_the_button_limits(
    imported: Path,
) -> None:
    _, po = _export(imported)
    assert po.metadata["Language"] == "pl"
    entries = {e.msgctxt: e for e in po}
    # Every text a resident reads, none of the yes/no options (the interface says Yes and No).
    assert set(entries) == set(POLISH)
    assert entries["questions.where.options.play"].msgid == "Ved lekeplassen"
    assert entries["questions.where.options.play"].comment == (
        "question 1 (single choice): option 2 (a button); at most 60 characters "
        "(a button: a longer text is cut)"
    )
    assert "question 2 (scale): what the lowest value means" in (
        entries["questions.agree.labels.min"].comment
    )
    assert all(not e.msgstr for e in po)  # nothing in Polish yet
    # An existing translation is filled in: the English file has the English texts.
    _, english = _export(imported, "en")
    assert {e.msgctxt: e.msgstr for e in english}["questions.where.options.pond"] == "By the pond"


def test_a_filled_in_file_adds_the_language_and_a_new_export_has_it(imported: Path) -> None:
    out, po = _export(imported)
    _fill(po, out, POLISH)
    result = medvirk(
        "consultation", "translate", "benker", "--import", str(out), database=imported
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "benker is now also in pl."
    again = medvirk(
        "consultation",
        "translate",
        "benker",
        "--to",
        "pl",
        "--output",
        str(out),
        database=imported,
    )
    assert "(9 already in pl)" in again.stdout
    assert {e.msgctxt: e.msgstr for e in polib.pofile(str(out))} == POLISH


def test_a_missing_string_and_a_broken_link_are_refused_with_each_problem_named(
    imported: Path,
) -> None:
    out, po = _export(imported)
    broken = dict(POLISH)
    del broken["questions.agree.labels.max"]
    broken["intro"] = "Zobacz mapę, zanim odpowiesz."  # the link is gone
    broken["questions.where.options.play"] = "Przy placu zabaw " * 5  # too long for a button
    _fill(po, out, broken)
    result = medvirk(
        "consultation", "translate", "benker", "--import", str(out), database=imported
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "refused; nothing was stored" in result.stderr
    assert (
        "questions.agree.labels.max (question 2 (scale): what the highest value means): "
        "not translated"
    ) in result.stderr
    assert "intro (the introduction): keep https://kommune.no/benker exactly" in result.stderr
    assert (
        "questions.where.options.play (question 1 (single choice): option 2 (a button)): "
        "at most 60 characters (has 84)" in result.stderr
    )
    # Nothing was added: a new export still has no Polish in it.
    _, fresh = _export(imported)
    assert all(not e.msgstr for e in fresh)


def test_a_string_removed_from_the_file_is_named_as_missing(imported: Path) -> None:
    out, po = _export(imported)
    _fill(po, out, POLISH)
    kept = polib.pofile(str(out))
    kept.remove(next(e for e in kept if e.msgctxt == "questions.ok.text"))
    kept.save(str(out))
    result = medvirk(
        "consultation", "translate", "benker", "--import", str(out), database=imported
    )
    assert result.returncode == 1
    assert "questions.ok.text (question 3 (yes/no): the question): missing from the file" in (
        result.stderr
    )


def test_wrong_use_is_one_plain_line(imported: Path) -> None:
    result = medvirk("consultation", "translate", "benker", database=imported)
    assert result.returncode != 0
    assert "give either --to LANG --output FILE, or --import FILE" in result.stderr
    unknown = medvirk(
        "consultation", "translate", "nope", "--to", "pl", "--output", "x.po", database=imported
    )
    assert unknown.returncode != 0
    assert "no consultation with the slug 'nope'" in unknown.stderr
    assert "Traceback" not in unknown.stderr + result.stderr
