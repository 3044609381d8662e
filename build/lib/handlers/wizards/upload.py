"""Staff upload a consultation file: it is checked, previewed in every language and saved.

A one-step dialog: the text router starts it when a staff member sends a document that no
other dialog waits for, with the file downloaded before the update's transaction.
"""

from __future__ import annotations

from handlers.common import Reply
from handlers.views import authoring as views
from handlers.views.outgoing import Outgoing
from handlers.wizard import Attachment, End, Result, Step, Turn, Wizard
from models.consultation import ImportRefused, import_consultation, load_consultation
from models.consultation_file import MAX_FILE_BYTES, ConsultationFileError, parse_consultation_file
from models.roles import Role, audit

YAML_SUFFIXES = (".yaml", ".yml")


def wanted(name: str, size: int) -> bool:
    """Whether a file looks like a consultation file worth downloading."""
    return name.lower().endswith(YAML_SUFFIXES) and size <= MAX_FILE_BYTES


async def _ask_file(_turn: Turn[None]) -> Outgoing:
    return views.not_yaml()


async def _take_file(turn: Turn[None], document: Attachment) -> Result:
    """Check the file, store it as a draft consultation and preview it."""
    if not document.name.lower().endswith(YAML_SUFFIXES):
        return End(Reply(send=[views.not_yaml()]))
    if document.size > MAX_FILE_BYTES:
        return End(Reply(send=[views.too_large()]))
    if document.content is None:
        return End(Reply(send=[views.not_downloaded()]))
    try:
        spec = parse_consultation_file(document.content)
    except ConsultationFileError as error:
        return End(Reply(send=[views.file_problems(error.problems)]))
    try:
        consultation, created = await import_consultation(turn.session, spec)
    except ImportRefused as error:
        return End(Reply(send=[views.locked(", ".join(error.keys))]))
    await audit(turn.session, turn.user_id, "consultation.upload", consultation.slug, now=turn.now)
    view = await load_consultation(turn.session, consultation.id or 0)
    assert view is not None
    return End(Reply(send=[*views.preview(view), views.saved(view, created=created)]))


UPLOAD: Wizard[None] = Wizard(
    name="upload",
    key="u",
    role=Role.STAFF,
    steps={"file": Step(ask=_ask_file, document=_take_file)},
    gone=lambda: views.not_yaml().text,
)
