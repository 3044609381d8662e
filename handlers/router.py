"""The one text router: a typed message, or a document, goes to the one owner waiting for it.

It is decided once, from the database, inside the update's own transaction:

1. a dialog (``handlers/wizard.py``) the person touched within the text window whose step
   takes this kind of input: a staff wizard's step, or a moderator's typed reason for
   rejecting a text;
2. otherwise, for a document from staff: the upload of a consultation file;
3. otherwise, for text, a volunteer's phone number, asked for within the last minutes
   (``handlers/volunteer.py``; while a consultation is in progress, only text that is a phone
   number);
4. otherwise, when a closed consultation asked the person for the one-time code from their
   letter (within the hour, and nothing else opened since): the code;
5. otherwise the consultation the person is answering: a free-text question, or a digit or
   yes/no typed instead of pressing a button. With nothing in progress, it answers politely
   what can be done.
"""

from __future__ import annotations

from telegram import Document, Update
from telegram.error import TelegramError

from handlers import consult, volunteer, wizard
from handlers.common import Reply, Scene, answer
from handlers.context import BotContext
from handlers.wizard import Attachment, Typed
from handlers.wizards.upload import UPLOAD, wanted
from models.access_codes import waiting_prompt
from models.roles import Role, has_role


async def on_text(update: Update, context: BotContext) -> None:
    """Give typed text to its owner."""
    message = update.effective_message
    assert message is not None
    typed = Typed(message.text or "", message.text_html if message.text else "")
    await answer(update, context, lambda scene: route_text(update, scene, typed))


async def route_text(update: Update, scene: Scene, typed: Typed) -> Reply:
    """The owner of typed text: a waiting dialog, a phone number, a code, else the consultation."""
    dialog = await wizard.waiting(scene.session, scene.user_id, scene.now, "text")
    if dialog is not None:
        return await wizard.take(update, scene, dialog, typed)
    phone = await volunteer.take_phone(scene, typed.text)
    if phone is not None:
        return phone
    prompt = await waiting_prompt(scene.session, scene.participant, scene.now)
    if prompt is not None:
        return await consult.take_code(scene, prompt, typed.text)
    return await consult.take_text(scene, typed.text)


async def on_document(update: Update, context: BotContext) -> None:
    """Give a document to its owner; a consultation file is downloaded first."""
    message = update.effective_message
    assert message is not None
    assert message.document is not None
    attachment = await _attachment(message.document)
    await answer(update, context, lambda scene: route_document(update, scene, attachment))


async def route_document(update: Update, scene: Scene, attachment: Attachment) -> Reply:
    """The owner of a document: a waiting dialog, a staff upload, else "I read text only"."""
    dialog = await wizard.waiting(scene.session, scene.user_id, scene.now, "document")
    if dialog is not None:
        return await wizard.take(update, scene, dialog, attachment)
    admins = scene.runtime.admin_ids
    if await has_role(scene.session, scene.user_id, Role.STAFF, admins):
        return await wizard.start_with(UPLOAD, update, scene, attachment)
    return await consult.attachment_reply(scene)


async def _attachment(document: Document) -> Attachment:
    """The document; a consultation file's content is fetched before the transaction.

    Fetching it for anyone who sends a small ``.yaml`` file costs a download now and then,
    and keeps the network out of the update's transaction.
    """
    name, size = document.file_name or "", document.file_size or 0
    content = None
    if wanted(name, size):
        try:
            file = await document.get_file()
            content = bytes(await file.download_as_bytearray())
        except TelegramError:
            content = None  # the upload says it could not download the file
    return Attachment(document.file_id, name, size, content)
