"""Every table, imported in one place so the metadata is complete for migrations and tests."""

from models.answers import Answer, AnswerChoice, Response
from models.arenas import Arena, Subscription
from models.consultation import Consultation, Option, Question
from models.dialogs import Dialog
from models.events import Event, Rsvp
from models.followups import Outcome
from models.moderation import ModerationGroup, ModerationItem
from models.outbox.tables import Broadcast, Delivery
from models.participant import Consent, Participant
from models.polls import PollMessage
from models.pseudonym import InstanceSecret
from models.reminders import FinishReminder
from models.roles import AuditLog, RoleGrant
from models.stops import MessageStop
from models.updates import ProcessedUpdate

__all__ = [
    "Answer",
    "AnswerChoice",
    "Arena",
    "AuditLog",
    "Broadcast",
    "Consent",
    "Consultation",
    "Delivery",
    "Dialog",
    "Event",
    "FinishReminder",
    "InstanceSecret",
    "MessageStop",
    "ModerationGroup",
    "ModerationItem",
    "Option",
    "Outcome",
    "Participant",
    "PollMessage",
    "ProcessedUpdate",
    "Question",
    "Response",
    "RoleGrant",
    "Rsvp",
    "Subscription",
]
