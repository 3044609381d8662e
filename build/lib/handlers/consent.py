"""The decision on the privacy notice, wherever it is asked, and coming back after /stop.

The welcome with its consent buttons is shown by ``/start`` and by an arena's link
(``/start a_<slug>``); both take the answer the same way here, then each carries on to where
the person wanted to go.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from handlers import callbacks as cb
from handlers.common import Reply, Scene
from handlers.i18n import LANGUAGES, set_language
from handlers.views import privacy as views
from handlers.views import reminders
from handlers.views.events import EventTexts
from handlers.views.outgoing import Outgoing
from models.followups import resume_messages
from models.participant import Participant, record_privacy_decision


async def resume(scene: Scene, participant: Participant) -> Outgoing | None:
    """Bring back someone who sent /stop; a line saying so, or None if they had not."""
    runtime = scene.runtime
    if await resume_messages(
        scene.session,
        participant,
        scene.now,
        EventTexts(runtime.timezone),
        runtime.reminder_policy(),
    ):
        return reminders.resumed()
    return None


#: Where a person goes after saying yes: what follows the thanks.
CarryOn = Callable[[Scene, Participant], Awaitable[list[Outgoing]]]


async def take_consent(
    scene: Scene, data: cb.GiveConsent | cb.ArenaConsent, carry_on: CarryOn
) -> Reply:
    """Store the decision on the notice; after a yes, carry on where the person wanted to go."""
    reply, person = await _record(scene, data)
    if person is not None:
        reply.send += await carry_on(scene, person)
    return reply


async def _record(
    scene: Scene, data: cb.GiveConsent | cb.ArenaConsent
) -> tuple[Reply, Participant | None]:
    """Store the decision; the reply so far, and the person when they agreed.

    The reply is written in the language the welcome was shown in. Consent given again after
    it was withdrawn (which stopped all messages) turns messages back on.
    """
    language = data.language if data.language in LANGUAGES else None
    if language:
        set_language(language)
    if not data.granted:
        await record_privacy_decision(
            scene.session, scene.user_id, scene.chat_id, granted=False, now=scene.now
        )
        return Reply(edit=views.consent_declined()), None
    person = await record_privacy_decision(
        scene.session,
        scene.user_id,
        scene.chat_id,
        granted=True,
        language=language,
        source=data.source or None,
        now=scene.now,
    )
    reply = Reply(edit=views.consent_given())
    resumed = await resume(scene, person)
    if resumed is not None:
        reply.send.append(resumed)
    return reply, person
