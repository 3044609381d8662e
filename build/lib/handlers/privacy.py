"""The person's privacy: the consent check, /privacy, /mydata, /delete, withdrawal, retention.

Consent is versioned (``PRIVACY_NOTICE_VERSION``): when the notice changes, the next action
that would store something shows the notice again and waits for a new yes.
"""

from __future__ import annotations

import logging

from sqlmodel.ext.asyncio.session import AsyncSession
from telegram import InputFile, Update

from handlers import callbacks as cb
from handlers.common import Abort, Reply, Scene, answer, callback_data, deliver, run
from handlers.context import BotContext
from handlers.i18n import current_language
from handlers.views import privacy as views
from models import privacy
from models.participant import Participant, has_consented, latest_consent

logger = logging.getLogger(__name__)


async def consented(session: AsyncSession, participant: Participant | None) -> Participant:
    """Return the participant if they accept the current notice; else ask them (and abort)."""
    if participant is not None and await has_consented(session, participant):
        return participant
    consent = await latest_consent(session, participant) if participant else None
    if consent is not None and consent.granted and consent.withdrawn_at is None:
        # They agreed to an older version: show the new one before storing anything more.
        raise Abort(Reply(send=[views.welcome(changed=True)]))
    raise Abort(Reply(send=[views.consent_needed()]))


async def show_privacy(update: Update, context: BotContext) -> None:
    """Explain what is stored, why and for how long, with the person's consent status."""
    await answer(update, context, _privacy)


async def _privacy(scene: Scene) -> Reply:
    person, runtime = scene.participant, scene.runtime
    consent = await latest_consent(scene.session, person) if person else None
    message = views.privacy_message(
        scene.user_id,
        consent,
        known=person is not None,
        consented=await has_consented(scene.session, person),
        contact=runtime.privacy_contact,
        free_text_days=runtime.free_text_retention_days,
        inactive_months=runtime.inactive_retention_months,
    )
    return Reply(send=[message])


async def my_data(update: Update, context: BotContext) -> None:
    """Send everything stored about the person as a JSON file."""
    await _send_my_data(update, context)


async def _send_my_data(update: Update, context: BotContext) -> None:
    """Gather the data in the update's transaction; send the file once it committed."""
    document: list[bytes] = []
    reply = await run(update, context, lambda scene: _my_data(scene, document))
    await deliver(update, context, reply)
    if document:
        chat_id = update.effective_chat.id if update.effective_chat else 0
        await context.bot.send_document(
            chat_id,
            InputFile(document[0], filename="medvirk-my-data.json"),
            caption=views.data_caption(),
        )


async def _my_data(scene: Scene, document: list[bytes]) -> Reply:
    if scene.participant is None:
        return Reply(send=[views.nothing_stored()])
    data = await privacy.personal_data(scene.session, scene.participant, current_language())
    document.append(views.data_document(data))
    return Reply()


async def delete_data(update: Update, context: BotContext) -> None:
    """Ask before erasing everything about the person."""
    await answer(update, context, _ask_delete)


async def _ask_delete(scene: Scene) -> Reply:
    if scene.participant is None:
        return Reply(send=[views.nothing_stored()])
    return Reply(send=[views.confirm_delete()])


async def on_privacy_choice(update: Update, context: BotContext) -> None:
    """Handle the buttons of /privacy, /delete and withdrawal."""
    data = cb.PrivacyChoice.unpack(callback_data(update))
    if data.action == "data":
        await _send_my_data(update, context)
        return
    await answer(update, context, lambda scene: _choose(scene, data.action))


async def _choose(scene: Scene, action: str) -> Reply:
    """Ask to confirm an erasure or a withdrawal, or carry it out."""
    person = scene.participant
    if person is None:
        return Reply(edit=views.nothing_stored())
    if action == "delete":
        return Reply(send=[views.confirm_delete()])
    if action == "delete-yes":
        await privacy.erase(scene.session, person, scene.now)
        return Reply(edit=views.erased())
    if action == "withdraw":
        return Reply(send=[views.confirm_withdraw()])
    if action == "withdraw-yes":
        await privacy.withdraw_consent(scene.session, person, scene.now)
        return Reply(edit=views.withdrawn(), send=[views.confirm_delete()])
    if action == "keep":
        return Reply(edit=views.unchanged())
    raise cb.InvalidCallback("unknown privacy action")


async def apply_retention(context: BotContext) -> None:
    """Delete old free texts and inactive people, as the retention settings say (a job)."""
    runtime = context.runtime
    now = runtime.clock()
    async with runtime.sessionmaker() as session, session.begin():
        texts = await privacy.expire_free_texts(session, now, runtime.free_text_retention_days)
        people = await privacy.erase_inactive(session, now, runtime.inactive_retention_months)
    if texts or people:
        logger.info(
            "Retention: deleted %d free-text answers and %d inactive people", texts, people
        )
