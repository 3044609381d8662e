"""The decision on the privacy notice, wherever it is asked, and coming back after /stop.

The welcome with its consent buttons is shown by ``/start``, an arena's link
(``/start a_<slug>``) and a volunteer centre's link (``/start v_<centre>``); all take the answer
the same way here, then each carries on to where the person wanted to go.
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
from handlers.views.volunteer import NeedTexts
from models import signups
from models.centres import list_centres
from models.followups import resume_messages
from models.participant import Participant, record_privacy_decision


async def resume(scene: Scene, participant: Participant) -> Outgoing | None:
    """Bring back someone who sent /stop; a line saying so, or None if they had not."""
    runtime = scene.runtime
    policy = runtime.reminder_policy()
    if await resume_messages(
        scene.session, participant, scene.now, EventTexts(runtime.timezone), policy
    ):
        centres = {c.id or 0: c for c in await list_centres(scene.session)}
        texts = NeedTexts(runtime.timezone, centres)
        await signups.restore_reminders(scene.session, participant, scene.now, texts, policy)
        return reminders.resumed()
    return None


#: Where a person goes after saying yes: what follows the thanks.
CarryOn = Callable[[Scene, Participant], Awaitable[list[Outgoing]]]


async def take_consent(
    scene: Scene, data: cb.GiveConsent | cb.ArenaConsent | cb.CentreConsent, carry_on: CarryOn
) -> Reply:
    """Store the decision on the notice; after a yes, carry on where the person wanted to go."""
    reply, person = await _record(scene, data)
    if person is not None:
        reply.send += await carry_on(scene, person)
    return reply


async def _record(
    scene: Scene, data: cb.GiveConsent | cb.ArenaConsent | cb.CentreConsent
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
