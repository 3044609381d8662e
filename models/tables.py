"""Every table, imported in one place so the metadata is complete for migrations and tests."""

from models.consultation import Consultation, Option, Question
from models.participant import Consent, Participant
from models.response import Answer, AnswerChoice, Response

__all__ = [
    "Answer",
    "AnswerChoice",
    "Consent",
    "Consultation",
    "Option",
    "Participant",
    "Question",
    "Response",
]
