"""Callback data as small typed classes packed into ``prefix:field:field``.

Everything a button needs is in its data, checked against the database when pressed, so buttons
keep working after a restart and on any replica (no arbitrary-callback-data cache). Telegram
allows 64 bytes; packing more raises, and parsing anything unexpected raises ``ValueError``.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Self

MAX_BYTES = 64
# The largest id of a row (32-bit integer columns on PostgreSQL).
MAX_ID = 2**31 - 1


class InvalidCallback(ValueError):
    """Callback data this bot did not make: stale, garbled or forged."""


@dataclasses.dataclass(frozen=True)
class CallbackData:
    """Base class: subclasses declare ``prefix`` and int or str fields."""

    prefix: ClassVar[str]

    def pack(self) -> str:
        """Return the string to put in ``callback_data``."""
        parts = [self.prefix, *(str(getattr(self, f.name)) for f in dataclasses.fields(self))]
        if any(":" in part for part in parts[1:]):
            raise ValueError("a field contains ':'")
        data = ":".join(parts)
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
        return data

    @classmethod
    def pattern(cls) -> str:
        """The regular expression a ``CallbackQueryHandler`` routes on."""
        return f"^{cls.prefix}:"

    @classmethod
    def unpack(cls, data: str | None) -> Self:
        """Parse ``data``; raise ``ValueError`` for anything this class did not pack."""
        if data is None:
            raise InvalidCallback("no data")
        prefix, *values = data.split(":")
        fields = dataclasses.fields(cls)
        if prefix != cls.prefix or len(values) != len(fields):
            raise InvalidCallback(f"not {cls.__name__}")
        converted: list[int | str] = []
        for f, value in zip(fields, values, strict=True):
            if f.type in (int, "int"):
                if not value.isdecimal() or len(value) > 12:  # int() refuses "²"
                    raise InvalidCallback(f"{f.name} is not a number")
                if int(value) > MAX_ID:  # a forged id the database's integers cannot hold
                    raise InvalidCallback(f"{f.name} is out of range")
                converted.append(int(value))
            else:
                converted.append(value)
        return cls(*converted)


@dataclasses.dataclass(frozen=True)
class GiveConsent(CallbackData):
    """Accept (1) or decline (0) the privacy notice; carries the deep link through."""

    prefix: ClassVar[str] = "p"
    granted: int
    language: str
    consultation_id: int
    source: str


@dataclasses.dataclass(frozen=True)
class PickLanguage(CallbackData):
    """Switch the language."""

    prefix: ClassVar[str] = "l"
    language: str


@dataclasses.dataclass(frozen=True)
class OpenConsultation(CallbackData):
    """Start or resume a consultation from the list."""

    prefix: ClassVar[str] = "c"
    consultation_id: int


@dataclasses.dataclass(frozen=True)
class ReadIn(CallbackData):
    """Answer a consultation in one of its languages; carries the deep link's source through."""

    prefix: ClassVar[str] = "cl"
    consultation_id: int
    language: str
    source: str


@dataclasses.dataclass(frozen=True)
class RemindOpening(CallbackData):
    """Send me a message when this consultation opens."""

    prefix: ClassVar[str] = "co"
    consultation_id: int


@dataclasses.dataclass(frozen=True)
class Choose(CallbackData):
    """Pick an option of a single-choice or yes/no question."""

    prefix: ClassVar[str] = "a"
    question_id: int
    option_id: int


@dataclasses.dataclass(frozen=True)
class Toggle(CallbackData):
    """Tick or untick an option of a multiple-choice question."""

    prefix: ClassVar[str] = "t"
    question_id: int
    option_id: int


@dataclasses.dataclass(frozen=True)
class Done(CallbackData):
    """Confirm the ticked options."""

    prefix: ClassVar[str] = "d"
    question_id: int


@dataclasses.dataclass(frozen=True)
class Rate(CallbackData):
    """Pick a value on a scale."""

    prefix: ClassVar[str] = "n"
    question_id: int
    value: int


@dataclasses.dataclass(frozen=True)
class Skip(CallbackData):
    """Pass over a question that is not required."""

    prefix: ClassVar[str] = "k"
    question_id: int


@dataclasses.dataclass(frozen=True)
class Back(CallbackData):
    """Go to the previous question."""

    prefix: ClassVar[str] = "b"
    question_id: int


@dataclasses.dataclass(frozen=True)
class Edit(CallbackData):
    """Change one answer from the summary."""

    prefix: ClassVar[str] = "e"
    question_id: int


@dataclasses.dataclass(frozen=True)
class PreviewOnly(CallbackData):
    """A button in a staff preview: shows what citizens will see, does nothing."""

    prefix: ClassVar[str] = "v"
    consultation_id: int


@dataclasses.dataclass(frozen=True)
class ManageList(CallbackData):
    """Staff: the list of consultations."""

    prefix: ClassVar[str] = "ml"
    page: int


@dataclasses.dataclass(frozen=True)
class ManageOne(CallbackData):
    """Staff: one consultation with its actions."""

    prefix: ClassVar[str] = "mo"
    consultation_id: int


@dataclasses.dataclass(frozen=True)
class SetStatus(CallbackData):
    """Staff: open (``open``), close (``closed``) or open as a native poll (``poll``)."""

    prefix: ClassVar[str] = "ms"
    consultation_id: int
    status: str


@dataclasses.dataclass(frozen=True)
class ShowResults(CallbackData):
    """Staff: results and charts of a consultation."""

    prefix: ClassVar[str] = "mr"
    consultation_id: int


@dataclasses.dataclass(frozen=True)
class ExportAs(CallbackData):
    """Staff: export a consultation as csv, xlsx or json."""

    prefix: ClassVar[str] = "mx"
    consultation_id: int
    format: str


@dataclasses.dataclass(frozen=True)
class PrivacyChoice(CallbackData):
    """The person's data: ``data``, ``delete``, ``delete-yes``, ``withdraw``, ``withdraw-yes``."""

    prefix: ClassVar[str] = "pv"
    action: str


@dataclasses.dataclass(frozen=True)
class Moderate(CallbackData):
    """Moderators: decide on a text (``approve``, ``flag``, a reject reason) or switch buttons.

    ``reasons`` shows the reject reasons, ``back`` the decisions again. ``version`` is the
    text's version the buttons were made for: a button never acts on a newer state.
    """

    prefix: ClassVar[str] = "md"
    item_id: int
    version: int
    choice: str


@dataclasses.dataclass(frozen=True)
class UndoDecision(CallbackData):
    """Moderators: take back their own decision on a text."""

    prefix: ClassVar[str] = "mu"
    item_id: int
    version: int


@dataclasses.dataclass(frozen=True)
class ExportAllTexts(CallbackData):
    """Staff: export with every free text and its moderation status (not only approved)."""

    prefix: ClassVar[str] = "mxa"
    consultation_id: int
    format: str


@dataclasses.dataclass(frozen=True)
class BroadcastControl(CallbackData):
    """Staff: a confirmed broadcast: ``show``, ``pause``, ``resume``, ``cancel``, ``cancel!``."""

    prefix: ClassVar[str] = "bx"
    broadcast_id: int
    action: str


@dataclasses.dataclass(frozen=True)
class ArenaToggle(CallbackData):
    """Join (1) or leave (0) an arena.

    ``where`` is the message the button is on, re-rendered after the tap: ``l`` the /arenas
    list, ``o`` the offer at the end of a consultation, ``c`` an arena's own card.
    """

    prefix: ClassVar[str] = "ar"
    arena_id: int
    join: int
    where: str


@dataclasses.dataclass(frozen=True)
class ArenaConsent(CallbackData):
    """Accept (1) or decline (0) the privacy notice from an arena's link; carries it through."""

    prefix: ClassVar[str] = "pa"
    granted: int
    language: str
    arena_id: int
    source: str


@dataclasses.dataclass(frozen=True)
class Finished(CallbackData):
    """An offer on the message that ends a consultation: ``f`` hear what came of it, ``a``
    join its arena; ``value`` 1 yes, 0 no. The whole message is shown again after the tap."""

    prefix: ClassVar[str] = "fin"
    consultation_id: int
    offer: str
    value: int


@dataclasses.dataclass(frozen=True)
class FollowUp(CallbackData):
    """Hear (1) or not (0) what came of a consultation; ``where``: ``o`` offer, ``l`` list."""

    prefix: ClassVar[str] = "fu"
    consultation_id: int
    wanted: int
    where: str


@dataclasses.dataclass(frozen=True)
class RsvpChoice(CallbackData):
    """Answer an invitation: ``yes``, ``maybe``, ``no``, or ``wait`` (the waiting list)."""

    prefix: ClassVar[str] = "rv"
    event_id: int
    answer: str


@dataclasses.dataclass(frozen=True)
class EventAdmin(CallbackData):
    """Staff, on a published event: ``show``, ``csv``, ``cancel``, ``cancel!``, ``list``."""

    prefix: ClassVar[str] = "ex"
    event_id: int
    action: str


@dataclasses.dataclass(frozen=True)
class WizardStart(CallbackData):
    """Staff: open a wizard about ``ref`` (a consultation to broadcast, an arena's event…)."""

    prefix: ClassVar[str] = "ws"
    wizard: str
    ref: int
    arg: str


@dataclasses.dataclass(frozen=True)
class WizardButton(CallbackData):
    """Staff: a button of an open wizard: ``choice`` (with ``arg``) on the dialog's subject.

    Every wizard has ``back`` and ``drop``; the others are the step's own (handlers/wizards).
    """

    prefix: ClassVar[str] = "w"
    wizard: str
    subject: int
    choice: str
    arg: str


@dataclasses.dataclass(frozen=True)
class ShowLink(CallbackData):
    """Send a consultation's full link and its QR code (from /manage)."""

    prefix: ClassVar[str] = "mq"
    consultation_id: int


@dataclasses.dataclass(frozen=True)
class ShowFlags(CallbackData):
    """List the texts moderators flagged for staff that nobody has handled yet (/manage)."""

    prefix: ClassVar[str] = "mf"
    page: int


@dataclasses.dataclass(frozen=True)
class FlagAction(CallbackData):
    """Staff act on a flagged text: ``handled`` (keep it out) or ``approve`` (into results)."""

    prefix: ClassVar[str] = "fa"
    item_id: int
    version: int
    action: str


@dataclasses.dataclass(frozen=True)
class BackgroundOffer(CallbackData):
    """Residents, background questions: ``start``, ``no`` (not now), ``card`` (see them),
    ``del`` (delete my answers), ``draw0`` (never draw me) or ``draw1`` (you may draw me)."""

    prefix: ClassVar[str] = "bo"
    action: str


@dataclasses.dataclass(frozen=True)
class ResidentWelcome(CallbackData):
    """A staff member asks for the residents' welcome, to answer consultations themselves."""

    prefix: ClassVar[str] = "rw"
    language: str


@dataclasses.dataclass(frozen=True)
class BackgroundAnswer(CallbackData):
    """Residents: a band of a background question (``option_id`` 0: "prefer not to say")."""

    prefix: ClassVar[str] = "bg"
    question_id: int
    option_id: int


@dataclasses.dataclass(frozen=True)
class FocusReply(CallbackData):
    """Residents drawn for a focus group: ``yes``, ``no`` or ``never`` (never draw me)."""

    prefix: ClassVar[str] = "fr"
    group_id: int
    answer: str


@dataclasses.dataclass(frozen=True)
class CentreConsent(CallbackData):
    """Accept (1) or decline (0) the privacy notice from a centre's link (``v_<centre>``)."""

    prefix: ClassVar[str] = "pc"
    granted: int
    language: str
    centre_id: int
    source: str


@dataclasses.dataclass(frozen=True)
class VolunteerConsent(CallbackData):
    """Yes (1) or no (0) to the volunteer text: a profile for volunteer centres' needs."""

    prefix: ClassVar[str] = "vc"
    granted: int
    centre_id: int


@dataclasses.dataclass(frozen=True)
class VolunteerEdit(CallbackData):
    """The volunteer profile: show a ``section`` (``card``, ``tag``, ``district``, ``slot``,
    ``language``, ``end``, ``end!``), or with ``value`` tick or untick that choice in it."""

    prefix: ClassVar[str] = "vp"
    section: str
    value: str


@dataclasses.dataclass(frozen=True)
class NeedAnswer(CallbackData):
    """A volunteer answers an invitation to a need: ``yes`` or ``no``."""

    prefix: ClassVar[str] = "na"
    need_id: int
    answer: str


@dataclasses.dataclass(frozen=True)
class FocusAdmin(CallbackData):
    """Staff, on a drawn focus group: ``show`` (its composition), ``csv`` (the draw record)."""

    prefix: ClassVar[str] = "fg"
    group_id: int
    action: str


@dataclasses.dataclass(frozen=True)
class NeedShare(CallbackData):
    """What a volunteer shares with the coordinator: ``name``, ``phone``, ``none``."""

    prefix: ClassVar[str] = "ns"
    need_id: int
    how: str


@dataclasses.dataclass(frozen=True)
class NeedFeedback(CallbackData):
    """How it went, one tap: ``good``, ``ok``, ``bad``."""

    prefix: ClassVar[str] = "nf"
    need_id: int
    value: str


@dataclasses.dataclass(frozen=True)
class NeedAdmin(CallbackData):
    """Coordinators, on a need: ``show``, ``list``, ``close``, ``close!``, ``cancel``,
    ``cancel!``; with need 0, ``needs`` or ``stats`` (the CSV exports)."""

    prefix: ClassVar[str] = "nx"
    need_id: int
    action: str
