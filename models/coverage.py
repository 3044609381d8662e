"""How much of a consultation is written in a language: each text that a resident reads counts.

``medvirk languages`` shows it per open consultation and UI language, so staff see which
languages a consultation still lacks before they announce it to a group.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.base import Text
from models.consultation import ConsultationView


@dataclass(frozen=True)
class Coverage:
    """Texts of a consultation written in one language, of all its texts."""

    language: str
    written: int
    total: int

    @property
    def complete(self) -> bool:
        """Every text has this language."""
        return self.total > 0 and self.written == self.total


def texts_of(view: ConsultationView) -> list[Text]:
    """Every text a resident can read in the consultation: title, intro, questions, labels,
    options."""
    consultation = view.consultation
    texts: list[Text | None] = [consultation.title, consultation.intro]
    for item in view.questions:
        question = item.question
        texts += [question.text, question.min_label, question.max_label]
        texts += [option.text for option in item.options]
    return [text for text in texts if text]


def coverage(view: ConsultationView, language: str) -> Coverage:
    """How many of the consultation's texts are written in ``language``."""
    texts = texts_of(view)
    written = sum(1 for text in texts if (text.get(language) or "").strip())
    return Coverage(language, written, len(texts))
