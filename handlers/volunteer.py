"""Volunteering for residents: ``/volunteer``, ``/start v_<centre>``, and answering needs.

The volunteer profile has its own consent, asked in plain words after the privacy notice; it
is set up section by section (what, where, when, languages) with buttons that tick and untick,
and changed or ended the same way. Invitations to needs (sent by the outbox) carry the yes and
no buttons; after a yes the volunteer chooses what the coordinator may see of them, and after
their time they say how it went with one tap. A phone number is the one typed input: the text
router gives it to :func:`take_phone`.
"""

from __future__ import annotations

from functools import partial

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import Update

from handlers import callbacks as cb
from handlers.common import Reply, Scene, answer, callback_data
from handlers.consent import resume, take_consent
from handlers.context import BotContext
from handlers.i18n import current_language
from handlers.privacy import consented
from handlers.views import volunteer as views
from handlers.views.outgoing import Outgoing
from handlers.views.privacy import welcome
from models import needs, signups, volunteers
from models.centres import Centre, all_districts, all_tags, district_of, find_centre, list_centres
from models.needs import Answer, Need, NeedRefused, Share
from models.participant import Participant, has_consented
from models.volunteers import ChoiceKind

ANSWERS = {"yes": Answer.YES, "no": Answer.NO}
SECTIONS = {kind.value: kind for kind in ChoiceKind}


async def _texts(session: AsyncSession, scene: Scene) -> views.NeedTexts:
    centres = {c.id or 0: c for c in await list_centres(session)}
    return views.NeedTexts(scene.runtime.timezone, centres)


# ---------------------------------------------------------------------- the profile


async def volunteer_command(update: Update, context: BotContext) -> None:
    """``/volunteer``: the person's profile, or the invitation to make one."""
    await answer(update, context, _volunteer)


async def _volunteer(scene: Scene) -> Reply:
    person = await consented(scene.session, scene.participant)
    return Reply(send=[await _profile_or_intro(scene, person, None)])


async def _profile_or_intro(scene: Scene, person: Participant, centre: Centre | None) -> Outgoing:
    profile = await volunteers.profile_of(scene.session, person.id or 0)
    if profile is None:
        return views.intro(centre)
    return await _card(scene, profile)


async def _card(scene: Scene, profile: volunteers.VolunteerProfile) -> Outgoing:
    """The profile with its choices and the person's coming needs."""
    session, zone = scene.session, scene.runtime.timezone
    chosen = await volunteers.choices_of(session, profile)
    coming = await signups.commitments(session, profile.participant_id, scene.now, zone)
    return views.profile_card(
        chosen,
        all_tags(await list_centres(session)),
        [views.Commitment(need, signup) for need, signup in coming],
        zone,
        complete=volunteers.is_complete(chosen),
    )


async def volunteer_link(scene: Scene, slug: str, source: str | None) -> Reply:
    """``/start v_<centre>``: the centre's call for volunteers (after the privacy notice)."""
    centre = await find_centre(scene.session, slug)
    person = scene.participant
    missing = [views.centre_not_found()] if centre is None else []
    if person is None or not await has_consented(scene.session, person):
        centre_id = centre.id or 0 if centre is not None else 0
        return Reply(send=[*missing, welcome(source=source or "", centre_id=centre_id)])
    reply = Reply(send=missing)
    resumed = await resume(scene, person)
    if resumed is not None:
        reply.send.append(resumed)
    reply.send.append(await _profile_or_intro(scene, person, centre))
    return reply


async def on_centre_consent(update: Update, context: BotContext) -> None:
    """The privacy notice from a centre's link: after a yes, the centre's call."""
    data = cb.CentreConsent.unpack(callback_data(update))
    await answer(update, context, lambda scene: take_consent(scene, data, partial(_linked, data)))


async def _linked(data: cb.CentreConsent, scene: Scene, person: Participant) -> list[Outgoing]:
    centre = await scene.session.get(Centre, data.centre_id)
    return [await _profile_or_intro(scene, person, centre)]


async def on_consent(update: Update, context: BotContext) -> None:
    """Yes or no to the volunteer profile; a yes goes on to its first section."""
    data = cb.VolunteerConsent.unpack(callback_data(update))
    if data.granted not in (0, 1):
        raise cb.InvalidCallback("unknown answer")
    await answer(update, context, lambda scene: _decide(scene, data))


async def _decide(scene: Scene, data: cb.VolunteerConsent) -> Reply:
    person = await consented(scene.session, scene.participant)
    if not data.granted:
        await volunteers.decline(scene.session, person, scene.now)
        return Reply(edit=views.declined())
    centre = await scene.session.get(Centre, data.centre_id) if data.centre_id else None
    profile = await volunteers.start_profile(
        scene.session, person, centre.id if centre else None, scene.now
    )
    return Reply(edit=await _section(scene, profile, ChoiceKind.TAG))


async def on_edit(update: Update, context: BotContext) -> None:
    """Show a section of the profile, tick or untick a choice, or end volunteering."""
    data = cb.VolunteerEdit.unpack(callback_data(update))
    if data.section not in (*SECTIONS, "card", "end", "end!"):
        raise cb.InvalidCallback("unknown section")
    await answer(update, context, lambda scene: _edit(scene, data))


async def _edit(scene: Scene, data: cb.VolunteerEdit) -> Reply:
    person = await consented(scene.session, scene.participant)
    profile = await volunteers.profile_of(scene.session, person.id or 0)
    if profile is None:
        return Reply(edit=views.no_profile())
    if data.section == "card":
        return Reply(edit=await _card(scene, profile))
    if data.section in ("end", "end!"):
        return await _end(scene, person, confirmed=data.section == "end!")
    kind = SECTIONS[data.section]
    if data.value:
        value = await _option(scene.session, kind, data.value)
        await volunteers.toggle(scene.session, profile, kind, value, scene.now)
    return Reply(edit=await _section(scene, profile, kind))


async def _options(session: AsyncSession, kind: ChoiceKind) -> list[tuple[str, str]]:
    """What a section offers: (value, label) pairs."""
    if kind == ChoiceKind.TAG:
        code = current_language()
        return [(t.id, t.name_in(code)) for t in all_tags(await list_centres(session))]
    if kind == ChoiceKind.DISTRICT:
        return [(d, d) for d in all_districts(await list_centres(session))]
    if kind == ChoiceKind.SLOT:
        return views.slot_options()
    return views.language_options()


async def _option(session: AsyncSession, kind: ChoiceKind, key: str) -> str:
    """The value a button's key stands for; a key that is not an option is refused."""
    values = [value for value, _label in await _options(session, kind)]
    found = district_of(key, values) if kind == ChoiceKind.DISTRICT else key
    if found is None or found not in values:
        raise cb.InvalidCallback("not an option")
    return found


async def _section(
    scene: Scene, profile: volunteers.VolunteerProfile, kind: ChoiceKind
) -> Outgoing:
    chosen = await volunteers.choices_of(scene.session, profile)
    return views.section(kind, await _options(scene.session, kind), chosen[kind])


async def _end(scene: Scene, person: Participant, *, confirmed: bool) -> Reply:
    """Ask, then end volunteering: places given back, profile deleted, consent withdrawn."""
    session, zone = scene.session, scene.runtime.timezone
    if not confirmed:
        coming = await signups.commitments(session, person.id or 0, scene.now, zone)
        return Reply(edit=views.end_question(len(coming)))
    texts = await _texts(session, scene)
    policy = scene.runtime.reminder_policy()
    await signups.withdraw_everywhere(session, person, scene.now, texts, policy)
    await volunteers.end_profile(session, person.id or 0, scene.now)
    return Reply(edit=views.ended())


# ---------------------------------------------------------------------- answering a need


async def on_answer(update: Update, context: BotContext) -> None:
    """Yes or no to a need; the invitation shows the answer in place."""
    data = cb.NeedAnswer.unpack(callback_data(update))
    choice = ANSWERS.get(data.answer)
    if choice is None:
        raise cb.InvalidCallback("unknown answer")
    await answer(update, context, lambda scene: _answer(scene, data.need_id, choice))


async def _answer(scene: Scene, need_id: int, choice: Answer) -> Reply:
    person = await consented(scene.session, scene.participant)
    texts = await _texts(scene.session, scene)
    try:
        result = await signups.answer(
            scene.session,
            need_id,
            person,
            choice,
            scene.now,
            texts,
            scene.runtime.reminder_policy(),
        )
    except NeedRefused as refused:
        return Reply(notice=views.refused(refused.reason))
    standing = views.standing_of(result.signup, result.position)
    card = await _need_card(scene, result.need, standing)
    return Reply(edit=card, notice=views.answer_notice(standing))


async def _need_card(scene: Scene, need: Need, standing: views.Standing) -> Outgoing:
    centre = await scene.session.get(Centre, need.centre_id)
    return views.need_card(need, centre, scene.runtime.timezone, standing)


async def on_share(update: Update, context: BotContext) -> None:
    """What the volunteer lets the coordinator see: name and username, a phone, or nothing."""
    data = cb.NeedShare.unpack(callback_data(update))
    if data.how not in Share.__members__.values():
        raise cb.InvalidCallback("unknown choice")
    user = update.effective_user
    assert user is not None
    who = (user.first_name or "", user.username)
    await answer(update, context, lambda scene: _share(scene, data, *who))


async def _share(scene: Scene, data: cb.NeedShare, first_name: str, username: str | None) -> Reply:
    person = await consented(scene.session, scene.participant)
    how = Share(data.how)
    try:
        signup = await signups.share_contact(
            scene.session,
            data.need_id,
            person.id or 0,
            how,
            first_name=first_name,
            username=username,
            now=scene.now,
        )
    except NeedRefused as refused:
        return Reply(notice=views.refused(refused.reason))
    need = await scene.session.get(Need, signup.need_id)
    assert need is not None
    position = await signups.waiting_position(scene.session, signup)
    card = await _need_card(scene, need, views.standing_of(signup, position))
    send = [views.phone_prompt()] if how == Share.PHONE else []
    return Reply(edit=card, send=send, notice=views.share_notice(how))


async def take_phone(scene: Scene, text: str) -> Reply | None:
    """A phone number typed after "Type a phone number"; None when none is awaited."""
    person = scene.participant
    phone = signups.clean_phone(text)
    # Someone answering a consultation types its answers: while one is in progress only a
    # phone number itself goes to a waiting sign-up (and other text costs no query).
    if person is None or (person.active_response_id is not None and phone is None):
        return None
    signup = await signups.waiting_for_phone(scene.session, person.id or 0, scene.now)
    if signup is None:
        return None
    if phone is None:
        return Reply(send=[views.phone_wrong()])
    await signups.take_phone(scene.session, signup, phone, scene.now)
    need = await scene.session.get(Need, signup.need_id)
    assert need is not None
    return Reply(send=[views.phone_saved(need, phone)])


async def on_feedback(update: Update, context: BotContext) -> None:
    """How it went: one tap, stored; the message shows it."""
    data = cb.NeedFeedback.unpack(callback_data(update))
    if data.value not in needs.Feedback.__members__.values():
        raise cb.InvalidCallback("unknown feedback")
    await answer(update, context, lambda scene: _feedback(scene, data))


async def _feedback(scene: Scene, data: cb.NeedFeedback) -> Reply:
    person = await consented(scene.session, scene.participant)
    value = needs.Feedback(data.value)
    try:
        await signups.give_feedback(scene.session, data.need_id, person.id or 0, value, scene.now)
    except NeedRefused as refused:
        return Reply(notice=views.refused(refused.reason))
    need = await scene.session.get(Need, data.need_id)
    assert need is not None
    centre = await scene.session.get(Centre, need.centre_id)
    return Reply(edit=views.feedback_card(need, centre, value), notice=views.feedback_notice())
