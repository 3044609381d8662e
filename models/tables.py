"""Every table, imported in one place so the metadata is complete for migrations and tests."""

from models.consultation import Consultation, Option, Question
from models.participant import Consent, Participant
from models.polls import PollMessage
from models.pseudonym import InstanceSecret
from models.response import Answer, AnswerChoice, Response
from models.roles import AuditLog, RoleGrant
from models.updates import ProcessedUpdate

__all__ = [
    "Answer",
    "AnswerChoice",
    "AuditLog",
    "Consent",
    "Consultation",
    "InstanceSecret",
    "Option",
    "Participant",
    "PollMessage",
    "ProcessedUpdate",
    "Question",
    "Response",
    "RoleGrant",
]
