"""Every table, imported in one place so the metadata is complete for migrations and tests."""

from models.access_codes import AccessCode, CodePrompt
from models.answers import Answer, AnswerChoice, Response
from models.arenas import Arena, Subscription
from models.centres import Centre, Coordinator, CoordinatorCentre
from models.consultation import Consultation, Option, Question
from models.dashboard import DashboardLogin, DashboardSession
from models.dialogs import Dialog
from models.events import Event, Rsvp
from models.focus_groups import FocusGroup, FocusMember
from models.followups import Outcome
from models.moderation import ModerationGroup, ModerationItem
from models.needs import Need, Signup
from models.outbox.tables import Broadcast, Delivery
from models.participant import Consent, Participant
from models.polls import PollMessage
from models.population import PopulationCell
from models.profile import ProfileAnswer, ProfileOption, ProfilePrompt, ProfileQuestion
from models.pseudonym import InstanceSecret
from models.reminders import FinishReminder
from models.roles import AuditLog, RoleGrant
from models.stops import MessageStop
from models.updates import ProcessedUpdate
from models.volunteers import VolunteerChoice, VolunteerProfile
from models.webchat import WebMessage, WebRequest

__all__ = [
    "AccessCode",
    "Answer",
    "AnswerChoice",
    "Arena",
    "AuditLog",
    "Broadcast",
    "Centre",
    "CodePrompt",
    "Consent",
    "Consultation",
    "Coordinator",
    "CoordinatorCentre",
    "DashboardLogin",
    "DashboardSession",
    "Delivery",
    "Dialog",
    "Event",
    "FinishReminder",
    "FocusGroup",
    "FocusMember",
    "InstanceSecret",
    "MessageStop",
    "ModerationGroup",
    "ModerationItem",
    "Need",
    "Option",
    "Outcome",
    "Participant",
    "PollMessage",
    "PopulationCell",
    "ProcessedUpdate",
    "ProfileAnswer",
    "ProfileOption",
    "ProfilePrompt",
    "ProfileQuestion",
    "Question",
    "Response",
    "RoleGrant",
    "Rsvp",
    "Signup",
    "Subscription",
    "VolunteerChoice",
    "VolunteerProfile",
    "WebMessage",
    "WebRequest",
]
