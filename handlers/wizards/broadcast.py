"""The broadcast dialog: content → audience → confirm (→ schedule), as a table of steps.

``/broadcast`` starts with the content (an open consultation, or a typed announcement in one or
more languages); "📣 Broadcast" on a consultation in /manage starts at the audience. The
confirmation shows exactly what recipients get, in each language they read, and the count;
sending turns it into the progress message that the delivery worker (``bot/delivery.py``)
edits in place until its report (``handlers/broadcast.py`` has its controls).
"""

from __future__ import annotations

from html import escape

from sqlmodel.ext.asyncio.session import AsyncSession

from handlers import callbacks as cb
from handlers.common import Abort, Reply, Scene
from handlers.i18n import LANGUAGES, _, current_language
from handlers.views import broadcast as views
from handlers.views.outgoing import Outgoing
from handlers.wizard import End, Go, Result, Step, Turn, Typed, Wizard, begin
from handlers.wizards.when import parse_when
from models import outbox
from models.arenas import arenas_with_subscribers
from models.consultation import Consultation, is_open, list_consultations, open_consultations
from models.drafts import open_draft
from models.outbox import (
    ANNOUNCEMENT_LIMIT,
    Audience,
    AudienceKind,
    Broadcast,
    Counts,
)
from models.profile import band_names
from models.representation import underrepresented_bands
from models.roles import Role, audit

MENU_SIZE = 8

Draft = Turn[Broadcast]


def _gone() -> str:
    return _("This draft is no longer open. Send /broadcast to start again.")


def _not_open() -> str:
    return _("Open the consultation first: nobody can answer it now.")


async def _consultation(turn: Draft) -> Consultation | None:
    cid = turn.subject.consultation_id
    return await turn.session.get(Consultation, cid) if cid else None


# ---------------------------------------------------------------------- starting


async def _open(where: Scene, consultation_id: int, _arg: str) -> Reply:
    """Start a draft: with its content chosen when it is a consultation's, else at the content."""
    if not consultation_id:
        draft = await outbox.new_draft(
            where.session, where.user_id, where.chat_id, current_language(), where.now
        )
        return await begin(BROADCAST, where, draft, draft.id, step="content")
    consultation = await where.session.get(Consultation, consultation_id)
    if consultation is None:
        return Reply(notice=_("That consultation no longer exists."))
    if not is_open(consultation, where.now):
        return Reply(notice=_not_open())
    draft = await outbox.new_draft(
        where.session, where.user_id, where.chat_id, current_language(), where.now, consultation.id
    )
    return await begin(BROADCAST, where, draft, draft.id, step="audience")


# ---------------------------------------------------------------------- content


async def _ask_content(turn: Draft) -> Outgoing:
    consultations = (await open_consultations(turn.session, turn.now))[:MENU_SIZE]
    active = []
    for broadcast in (await outbox.active_broadcasts(turn.session))[:MENU_SIZE]:
        cid = broadcast.consultation_id
        active.append((broadcast, await turn.session.get(Consultation, cid) if cid else None))
    return views.content_menu(turn.subject, consultations, active)


async def _pick(turn: Draft, arg: str) -> Result:
    """A consultation's invitation (its id), or an announcement to write (0)."""
    if not arg.isdecimal() or len(arg) > 12:
        raise cb.InvalidCallback("not a consultation")
    draft = turn.subject
    if arg == "0":
        draft.consultation_id = None
        return Go(f"text:{current_language()}")
    consultation = await turn.session.get(Consultation, int(arg))
    if consultation is None or not is_open(consultation, turn.now):
        return Reply(notice=_not_open())
    draft.consultation_id = consultation.id
    draft.text = None
    return Go("audience")


# ---------------------------------------------------------------------- an announcement


async def _ask_text(turn: Draft) -> Outgoing:
    return views.text_prompt(turn.subject, turn.param or current_language())


async def _take_text(turn: Draft, typed: Typed) -> Result:
    if len(typed.text) > ANNOUNCEMENT_LIMIT:
        too_long = _(
            "That is too long: at most {limit} characters. Please shorten it and send it again."
        ).format(limit=ANNOUNCEMENT_LIMIT)
        return Reply(send=[Outgoing(too_long)])
    if not typed.text.strip():
        return Reply(send=[Outgoing(_("Please write the announcement as text."))])
    draft = turn.subject
    code = turn.param or current_language()
    draft.text = {**(draft.text or {}), code: typed.html}
    draft.language = draft.language or code
    saved = Outgoing(_("Saved."))
    if draft.audience is None:
        return Go("audience", said=saved)
    return Go("confirm", said=[saved, *await _previews(turn)])


# ---------------------------------------------------------------------- audience


async def _ask_audience(turn: Draft) -> Outgoing:
    return views.audience_menu(turn.subject)


async def _audience(turn: Draft, arg: str) -> Result:
    """Show the kinds (no argument), a kind's choices (``kind``), or take ``kind=ref``."""
    kind_name, _sep, ref = arg.partition("=")
    if not kind_name:
        return Go("audience")
    try:
        kind = AudienceKind(kind_name)
    except ValueError:
        raise cb.InvalidCallback("unknown audience") from None
    if kind != AudienceKind.CONSENTED and not ref:
        choices = await _choices(turn, kind)
        if not choices:
            return Reply(notice=views.no_choices(kind))
        return Reply(edit=views.audience_choices(turn.subject, kind, choices))
    audience = Audience(kind, ref)
    if kind == AudienceKind.MISSING:
        found = await _missing_groups(turn, audience.ref_id)
        if found is None:
            return Reply(notice=views.nobody_missing())
        audience = found
    name = await _audience_name(turn.session, audience)
    if name is None:
        return Reply(notice=_("That choice no longer exists."))
    turn.subject.audience = audience.to_json()
    said = Outgoing(_("Audience: {audience}").format(audience=views.audience_text(audience, name)))
    return Go("confirm", said=[said, *await _previews(turn)])


async def _choices(turn: Draft, kind: AudienceKind) -> list[tuple[str, str]]:
    """What to pick from for an audience of ``kind``: (button label, reference) pairs.

    Each count is the audience's own (consent, reachable, not stopped), so the number on the
    button is the number the confirmation and the report show.
    """
    session = turn.session
    if kind == AudienceKind.ARENA:
        arenas = (await arenas_with_subscribers(session))[:MENU_SIZE]
        named = [(a.name_in(current_language()), str(a.id)) for a, _n in arenas]
    elif kind == AudienceKind.UNFINISHED:
        rows = list(reversed(await list_consultations(session)))[:MENU_SIZE]
        named = [(views.label(Broadcast(), c), str(c.id)) for c, _s, _c in rows]
    elif kind == AudienceKind.MISSING:
        # Counted once the groups are chosen: they depend on the consultation's answers.
        rows = list(reversed(await list_consultations(session)))[:MENU_SIZE]
        return [(views.label(Broadcast(), c), str(c.id)) for c, _started, _done in rows]
    else:
        sources = await outbox.known_sources(session, MENU_SIZE)
        named = [(s, s) for s, _n in sources if _fits(turn.subject, f"{kind}={s}")]
    counted = []
    for name, ref in named:
        size = await outbox.count_audience(session, Audience(kind, ref))
        counted.append((f"{name} ({size})", ref))
    return counted


def _fits(draft: Broadcast, arg: str) -> bool:
    """Whether a button can carry ``arg`` (Telegram allows 64 bytes of callback data)."""
    try:
        BROADCAST.button(draft.id or 0, "audience", arg).pack()
    except ValueError:
        return False
    return True


async def _audience_name(session: AsyncSession, audience: Audience) -> str | None:
    """The name the audience refers to, escaped ("" when none); None when it is gone."""
    if audience.kind == AudienceKind.ARENA:
        arena = await outbox.arena_by_id(session, audience.ref_id)
        return escape(arena.name_in(current_language())) if arena else None
    if audience.kind == AudienceKind.UNFINISHED:
        consultation = await session.get(Consultation, audience.ref_id)
        return views.label(Broadcast(), consultation) if consultation else None
    if audience.kind == AudienceKind.MISSING:
        consultation = await session.get(Consultation, audience.ref_id)
        if consultation is None:
            return None
        bands = await band_names(session, audience.band_ids, current_language())
        return f"{views.label(Broadcast(), consultation)} ({escape(', '.join(bands))})"
    return ""


async def _missing_groups(turn: Draft, consultation_id: int) -> Audience | None:
    """The under-represented groups of the consultation, frozen into the audience; or None."""
    factor = turn.runtime.underrepresented_factor
    bands = await underrepresented_bands(turn.session, consultation_id, factor)
    return outbox.missing_from(consultation_id, bands) if bands else None


# ---------------------------------------------------------------------- confirm


async def _previews(turn: Draft) -> list[Outgoing]:
    """What recipients get, in each language the audience reads."""
    audience = Audience.from_json(turn.subject.audience)
    assert audience is not None
    default = turn.runtime.default_language
    languages = await outbox.audience_languages(turn.session, audience, default)
    consultation = await _consultation(turn)
    return views.preview_messages(turn.subject, consultation, languages or {current_language(): 0})


async def _ask_confirm(turn: Draft) -> Outgoing:
    draft = turn.subject
    audience = Audience.from_json(draft.audience)
    assert audience is not None
    name = await _audience_name(turn.session, audience)
    summary = views.Summary(
        draft=draft,
        consultation=await _consultation(turn),
        audience=views.audience_text(audience, name or "?"),
        size=await outbox.count_audience(turn.session, audience),
        when=draft.scheduled_at if draft.scheduled_at and draft.scheduled_at > turn.now else None,
    )
    return views.confirm_screen(summary, turn.runtime, turn.now)


def _ready(draft: Broadcast) -> bool:
    return draft.audience is not None and outbox.has_content(draft)


async def _send(turn: Draft, _arg: str) -> Result:
    """Confirm: the draft becomes a broadcast, its message the progress message."""
    draft = turn.subject
    if not _ready(draft):
        return Reply(notice=_gone())
    consultation = await _consultation(turn)
    if consultation is not None and not is_open(consultation, turn.now):
        return Reply(notice=_not_open())
    size = await outbox.confirm(turn.session, draft, turn.now, turn.message_id)
    if not size:
        # Rolls the confirmation back: the draft stays a draft.
        raise Abort(Reply(notice=_("Nobody is in this audience. Choose another.")))
    detail = {
        "audience": draft.audience,
        "size": size,
        "scheduled_at": draft.scheduled_at.isoformat() if draft.scheduled_at else None,
        "urgent": draft.urgent,
    }
    await audit(
        turn.session,
        turn.user_id,
        "broadcast.confirm",
        f"broadcast:{draft.id}",
        detail,
        now=turn.now,
    )
    later = draft.scheduled_at is not None and draft.scheduled_at > turn.now
    progress = views.progress_message(draft, consultation, Counts(), turn.runtime, turn.now)
    return End(Reply(edit=progress, notice=_("Scheduled.") if later else _("Sending.")))


async def _now(turn: Draft, _arg: str) -> Result:
    if not _ready(turn.subject):
        return Reply(notice=_gone())
    turn.subject.scheduled_at = None
    return Go("confirm")


async def _urgent(turn: Draft, _arg: str) -> Result:
    if not _ready(turn.subject):
        return Reply(notice=_gone())
    turn.subject.urgent = not turn.subject.urgent
    return Go("confirm")


async def _later(turn: Draft, _arg: str) -> Result:
    return Go("schedule") if _ready(turn.subject) else Reply(notice=_gone())


async def _fallback(turn: Draft, code: str) -> Result:
    """Choose the text that readers of a language it was not written in get."""
    if not turn.subject.text or code not in turn.subject.text:
        raise cb.InvalidCallback("not a language of the announcement")
    turn.subject.language = code
    return Go("confirm", said=await _previews(turn))


async def _another_language(turn: Draft, code: str) -> Result:
    if code not in LANGUAGES or not turn.subject.text:
        raise cb.InvalidCallback("not a language to add")
    return Go(f"text:{code}")


# ---------------------------------------------------------------------- schedule


async def _ask_schedule(turn: Draft) -> Outgoing:
    return views.schedule_prompt(turn.subject, turn.runtime.timezone)


async def _take_time(turn: Draft, typed: Typed) -> Result:
    when = parse_when(typed.text, turn.now, turn.runtime.timezone)
    if when is None:
        return Reply(send=[await _ask_schedule(turn)])
    if when <= turn.now:
        return Reply(send=[Outgoing(_("That time has passed. Please write a later one."))])
    turn.subject.scheduled_at = when
    return Go("confirm")


BROADCAST: Wizard[Broadcast] = Wizard(
    name="broadcast",
    key=views.WIZARD_KEY,
    role=Role.STAFF,
    steps={
        "content": Step(ask=_ask_content, buttons={"pick": _pick}),
        "text": Step(ask=_ask_text, text=_take_text),
        "audience": Step(ask=_ask_audience, buttons={"audience": _audience}),
        "confirm": Step(
            ask=_ask_confirm,
            buttons={
                "send": _send,
                "now": _now,
                "urgent": _urgent,
                "schedule": _later,
                "lang": _another_language,
                "fallback": _fallback,
                "audience": _audience,
            },
        ),
        "schedule": Step(ask=_ask_schedule, text=_take_time),
    },
    load=lambda session, draft_id: open_draft(session, Broadcast, draft_id),
    gone=_gone,
    opener=_open,
)
