"""The "you said, we did" dialog: text → document (optional) → confirm and send.

Staff open it from ``/outcome`` for a closed consultation. The text may carry links and
formatting; the document (a decision as a PDF, say) is sent after it. Only people who answered
and asked to hear what came of it get it, through the outbox.
"""

from __future__ import annotations

from handlers.common import Reply, Scene
from handlers.i18n import _, current_language
from handlers.views import outcomes as views
from handlers.views.outgoing import Outgoing
from handlers.wizard import Attachment, End, Go, Result, Step, Turn, Typed, Wizard, begin
from models.consultation import Consultation
from models.drafts import open_draft
from models.followups import (
    OUTCOME_LIMIT,
    Outcome,
    OutcomeProblem,
    count_outcome_audience,
    is_closed,
    new_outcome_draft,
    publish_outcome,
)
from models.roles import Role, audit

Draft = Turn[Outcome]


def _gone() -> str:
    return _("This draft is no longer open. Send /outcome to start again.")


def _still_open() -> str:
    return _("Close the consultation first: people can still answer it.")


async def _consultation(turn: Draft) -> Consultation:
    consultation = await turn.session.get(Consultation, turn.subject.consultation_id)
    assert consultation is not None
    return consultation


async def _open(where: Scene, consultation_id: int, _arg: str) -> Reply:
    """Start an outcome draft for the consultation; ask for the text."""
    consultation = await where.session.get(Consultation, consultation_id)
    if consultation is None:
        return Reply(notice=_("That consultation no longer exists."))
    if not is_closed(consultation, where.now):
        return Reply(notice=_still_open())
    draft = await new_outcome_draft(
        where.session,
        consultation.id or 0,
        where.user_id,
        where.chat_id,
        current_language(),
        where.now,
    )
    return await begin(OUTCOME, where, draft, draft.id)


async def _ask_text(turn: Draft) -> Outgoing:
    title = views.title_of(await _consultation(turn), current_language())
    return views.text_prompt(turn.subject, title)


async def _take_text(turn: Draft, typed: Typed) -> Result:
    if not typed.text.strip():
        return Reply(send=[Outgoing(_("Please write it as text.")), await _ask_text(turn)])
    if len(typed.text) > OUTCOME_LIMIT:
        too_long = _(
            "That is too long: at most {limit} characters. Please shorten it and send it again."
        ).format(limit=OUTCOME_LIMIT)
        return Reply(send=[Outgoing(too_long)])
    turn.subject.text = typed.html
    return Go(said=Outgoing(_("Saved.")))


async def _ask_document(turn: Draft) -> Outgoing:
    return views.document_prompt(turn.subject)


async def _take_document(turn: Draft, document: Attachment) -> Result:
    turn.subject.document_file_id = document.file_id
    turn.subject.document_name = (document.name or "document")[:200]
    return Go()


async def _no_document(turn: Draft, _arg: str) -> Result:
    return Go(said=Outgoing(_("No document.")))


async def _ask_confirm(turn: Draft) -> list[Outgoing]:
    consultation = await _consultation(turn)
    size = await count_outcome_audience(turn.session, consultation)
    preview = views.outcome_payloads(turn.subject, consultation, current_language())[0]
    return views.confirm_screen(turn.subject, preview, size)


async def _send(turn: Draft, _arg: str) -> Result:
    draft = turn.subject
    consultation = await _consultation(turn)
    try:
        count = await publish_outcome(
            turn.session,
            draft,
            consultation,
            turn.now,
            lambda code: views.outcome_payloads(draft, consultation, code),
            turn.runtime.default_language,
        )
    except OutcomeProblem as problem:
        text = _still_open() if problem.code == "open" else _("Please write the text first.")
        return Reply(notice=text)
    detail = {"outcome": draft.id, "recipients": count}
    await audit(
        turn.session, turn.user_id, "outcome.publish", consultation.slug, detail, now=turn.now
    )
    return End(Reply(edit=views.sent(count)))


OUTCOME: Wizard[Outcome] = Wizard(
    name="outcome",
    key=views.WIZARD_KEY,
    role=Role.STAFF,
    steps={
        "text": Step(ask=_ask_text, text=_take_text),
        "document": Step(
            ask=_ask_document, document=_take_document, buttons={"skip": _no_document}
        ),
        "confirm": Step(ask=_ask_confirm, buttons={"send": _send}),
    },
    load=lambda session, draft_id: open_draft(session, Outcome, draft_id),
    gone=_gone,
    opener=_open,
)
