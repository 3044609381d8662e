"""The multi-step staff dialogs, one module each, as tables of steps for ``handlers/wizard.py``.

Adding a dialog: write its module here (steps, subject, opener) and list it in :data:`WIZARDS`.
"""

from __future__ import annotations

from typing import Any

from handlers.wizard import Wizard
from handlers.wizards.broadcast import BROADCAST
from handlers.wizards.event import EVENT
from handlers.wizards.newpoll import NEWPOLL
from handlers.wizards.outcome import OUTCOME
from handlers.wizards.reason import REASON
from handlers.wizards.upload import UPLOAD

WIZARDS: tuple[Wizard[Any], ...] = (BROADCAST, EVENT, OUTCOME, NEWPOLL, UPLOAD, REASON)
