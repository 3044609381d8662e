"""Fuzzing: thousands of random and malformed updates through the real webhook and handlers.

Each example POSTs one update to ``/telegram`` of a running bot (sandbox as Telegram, the
test database behind it), the state carrying over from example to example, so sequences
build up: people consent, answer, go back, press stale and forged buttons, send huge texts,
edit messages, write from groups and channels, and Telegram resends old updates. Some
updates are broken on purpose: a field removed, or a value of the wrong type.

After every update: the webhook answered 200 (nothing failed, nothing to redeliver), nothing
was logged at ERROR, and no message to a person shows a traceback. At the end, and every so
often on the way, the database's invariants hold.

``FUZZ_EXAMPLES`` sets the number of examples (default 1500, well under a minute).
"""

from __future__ import annotations

import copy
import itertools
import logging
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import Settings
from handlers import callbacks as cb
from sandbox import Sandbox
from tests.auxil.consultations import add_consultation
from tests.auxil.updates import JSON, add_scales, press_update, text_update, user_json
from tests.runtime.conftest import Webhook

pytestmark = pytest.mark.postgres

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1500"))
PEOPLE = [7001, 7002, 7003, 7004, 7005]
ADMIN = 7006
COMMANDS = [
    "/start",
    "/start c_scales",
    "/start c_park__library",
    "/start c_nope",
    "/start a_arena",
    "/start c_park__" + "x" * 80,
    "/start@medvirk_bot",
    "/help",
    "/consultations",
    "/cancel",
    "/language",
    "/privacy",
    "/mydata",
    "/delete",
    "/manage",
    "/newpoll",
    "/results",
    "/export",
    "/export park json",
    "/grant 7001 staff",
    "/revoke 7001 staff",
    "/grant",
    "/nonsense",
]
TYPED = ["1", "3", "5", "9", "10", "0", "-1", "ja", "Nei", "yes.", " 4 ", "", "٣", "½", "²"]
TYPED += ["9" * 5000, "/grant 99999999999999999999 staff", "/grant ² staff", "n:²:1"]
# Poison for the database: a NUL (PostgreSQL refuses it) and a lone surrogate (unencodable).
TYPED += ["svar\x00", "\x00", "et \ud800 surrogat", "5\udfff"]
TRACEBACK_WORDS = ("Traceback", "Exception", "Error:", 'File "')


class ErrorRecords(logging.Handler):
    """Collects every record at ERROR or above."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass(repr=False)
class Fuzz:
    """The running bot and what the strategies draw from."""

    webhook: Webhook
    sandbox: Sandbox
    db: async_sessionmaker[AsyncSession]
    buttons: list[str]
    errors: ErrorRecords
    update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    sent: list[JSON] = field(default_factory=list)
    examples: int = 0

    def __repr__(self) -> str:
        # Hypothesis prints the arguments of a failing example; the update itself is in the
        # assertion message.
        return f"Fuzz(after {self.examples} examples)"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """One fuzzed person is an admin, so staff commands run too."""
    return settings.model_copy(update={"admin_ids": frozenset({ADMIN})})


@pytest.fixture
async def fuzz(
    sandbox: Sandbox, webhook: Webhook, db: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Fuzz]:
    """The bot with two consultations, six people who each got a first message."""
    async with db() as session:
        await add_scales(session)
        await add_consultation(session)
        questions = list(await session.exec(text("SELECT id FROM question")))  # type: ignore[call-overload]
        options = list(await session.exec(text("SELECT id, question_id FROM option")))  # type: ignore[call-overload]
        consultations = list(await session.exec(text("SELECT id FROM consultation")))  # type: ignore[call-overload]
    question_ids = [row[0] for row in questions]
    buttons: list[str] = []
    for (cid,) in consultations:
        buttons += [
            cb.OpenConsultation(cid).pack(),
            cb.GiveConsent(1, "nb", cid, "poster").pack(),
            cb.GiveConsent(0, "en", cid, "").pack(),
        ]
    for qid in question_ids:
        buttons += [cb.Rate(qid, v).pack() for v in (1, 4, 9, 12)]
        buttons += [cb.Skip(qid).pack(), cb.Back(qid).pack(), cb.Edit(qid).pack()]
        buttons += [cb.Done(qid).pack()]
    for oid, qid in options:
        buttons += [cb.Choose(qid, oid).pack(), cb.Toggle(qid, oid).pack()]
    buttons += [cb.PickLanguage(lang).pack() for lang in ("nb", "nn", "en", "de")]
    buttons += [cb.GiveConsent(1, "nb", 0, "").pack(), cb.ManageList(0).pack()]

    errors = ErrorRecords()
    logging.getLogger().addHandler(errors)
    first = []
    for person in [*PEOPLE, ADMIN]:
        sandbox.add_user(person, "Fuzz")
        # A first bot message, so every later button press has a message to sit on.
        first.append(text_update(person, person, "/help"))
        assert await webhook.post(first[-1]) == 200
    try:
        yield Fuzz(webhook, sandbox, db, buttons, errors, sent=first)
    finally:
        logging.getLogger().removeHandler(errors)
    await check_invariants(db)
    assert_no_traceback_shown(sandbox)
    # A fuzzer that only made junk would prove little: people must have got somewhere.
    async with db() as session:
        answers = (await session.exec(text("SELECT count(*) FROM answer"))).scalar_one()  # type: ignore[call-overload]
    assert answers > 0, "no fuzzed person answered anything"


# ---------------------------------------------------------------- strategies

# "tap" presses a button the person sees; "press" sends any data, known or forged.
KINDS = ["text"] * 6 + ["tap"] * 6 + ["press"] * 3
KINDS += ["edited", "group", "group", "sticker", "poll_answer", "member", "resend"]
# Ids past 64 bits, and a button press without its message (an inline message's button).
KINDS += ["huge_id", "no_message"]
texts = st.one_of(
    st.sampled_from(COMMANDS),
    st.sampled_from(TYPED),
    st.sampled_from(TYPED),
    st.text(max_size=40),
    st.builds(lambda c, n: c * n, st.sampled_from("aø🙂/1 "), st.integers(3000, 20000)),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)
# A value of another type, for when the drawn one happens to have the original's type.
OTHER_TYPE = {str: 1, int: "1", bool: "true", float: "1.5", dict: [], list: {}, type(None): 0}


@dataclass(frozen=True)
class Plan:
    """One update to make, drawn without looking at the bot's state (so draws replay alike).

    ``button`` is an index into the known buttons or raw (maybe forged) data; ``mutation`` is
    (which field, remove it?, a replacement of another type) or None.
    """

    kind: str
    person: int
    text: str
    button: int | str
    poll_id: str
    votes: list[int]
    group_type: str
    back: int
    mutation: tuple[int, bool, Any] | None


plans = st.builds(
    Plan,
    kind=st.sampled_from(KINDS),
    person=st.sampled_from([*PEOPLE, ADMIN]),
    text=texts,
    button=st.one_of(
        st.integers(0, 10_000),
        st.text(max_size=70),
        st.from_regex(r"[a-z]{1,2}(:[0-9a-z]{1,7}){0,4}", fullmatch=True),
    ),
    poll_id=st.sampled_from(["5000001", "nope", ""]),
    votes=st.lists(st.integers(0, 12), max_size=3),
    group_type=st.sampled_from(["group", "supergroup", "channel"]),
    back=st.integers(1, 50),
    mutation=st.one_of(
        st.none(), st.none(), st.none(), st.tuples(st.integers(0, 999), st.booleans(), json_values)
    ),
)


def visible_buttons(sandbox: Sandbox, person: int) -> list[str]:
    """The callback data of the buttons on the person's newest message that has some."""
    for message in reversed(sandbox.messages(person)):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        data = [b["callback_data"] for row in rows for b in row if "callback_data" in b]
        if data:
            return data
    return []


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


def mutate(update: JSON, which: int, remove: bool, replacement: Any) -> JSON:
    """Break one field: remove it, or give it a value of another JSON type."""
    update = copy.deepcopy(update)
    paths = [p for p in _paths(update) if p != ("update_id",)]
    path = paths[which % len(paths)]
    parent: Any = update
    for key in path[:-1]:
        parent = parent[key]
    original = parent[path[-1]]
    if isinstance(parent, dict) and remove:
        del parent[path[-1]]
    else:
        if type(replacement) is type(original):
            replacement = OTHER_TYPE[type(original)]
        parent[path[-1]] = replacement
    return update


async def make_update(plan: Plan, fuzz: Fuzz) -> JSON:
    """The update a plan describes, in the bot's current state."""
    if plan.kind == "resend":  # Telegram delivers an old update again
        return fuzz.sent[-min(plan.back, len(fuzz.sent))]
    update_id = next(fuzz.update_ids)
    person = plan.person
    if plan.kind == "huge_id":
        return text_update(2**63 + update_id, person, plan.text)
    if plan.kind in ("tap", "press", "no_message"):
        button = plan.button
        shown = visible_buttons(fuzz.sandbox, person) if plan.kind == "tap" else []
        if isinstance(button, int):
            choices = shown or fuzz.buttons
            data = choices[button % len(choices)]
        else:
            data = button
        message_id = fuzz.sandbox.messages(person)[-1]["message_id"]
        query_id = await fuzz.sandbox.press(person, data, message_id)
        update = press_update(update_id, person, data, message_id, query_id=query_id)
        if plan.kind == "no_message":
            del update["callback_query"]["message"]
            update["callback_query"]["inline_message_id"] = "inline"
    elif plan.kind == "poll_answer":
        update = {
            "update_id": update_id,
            "poll_answer": {
                "poll_id": plan.poll_id,
                "user": user_json(person),
                "option_ids": plan.votes,
            },
        }
    elif plan.kind == "member":
        update = {
            "update_id": update_id,
            "my_chat_member": {
                "chat": {"id": person, "type": "private", "first_name": "Fuzz"},
                "from": user_json(person),
                "date": int(time.time()),
                "old_chat_member": {"status": "member", "user": user_json(123456)},
                "new_chat_member": {
                    "status": "kicked",
                    "user": user_json(123456),
                    "until_date": 0,
                },
            },
        }
    else:
        # Through the sandbox, so that the message exists there (a reply may quote it).
        if plan.kind == "sticker":
            message = await fuzz.sandbox.send_sticker(person)
        else:
            message = await fuzz.sandbox.send_text(person, plan.text)
        message = copy.deepcopy(message)
        update = {"update_id": update_id, "message": message}
        if plan.kind == "edited":
            update["edited_message"] = update.pop("message")
            message["edit_date"] = message["date"]
        elif plan.kind == "group":
            # The sandbox has private chats only; a group borrows a person's chat id so that
            # the bot's answer lands. What matters to the bot is the chat type.
            message["chat"] = {"id": person, "type": plan.group_type, "title": "Lag"}
            if plan.group_type == "channel":
                del message["from"]
                update["channel_post"] = update.pop("message")
    if plan.mutation is not None:
        update = mutate(update, *plan.mutation)
    return update


# ---------------------------------------------------------------- checks


async def check_invariants(db: async_sessionmaker[AsyncSession]) -> None:
    """What must hold in the database whatever people sent."""
    queries = {
        "two answers to one question in one response": """
            SELECT count(*) FROM (SELECT response_id, question_id FROM answer
            GROUP BY response_id, question_id HAVING count(*) > 1) AS twice""",
        "an answer to a question of another consultation": """
            SELECT count(*) FROM answer a JOIN response r ON r.id = a.response_id
            JOIN question q ON q.id = a.question_id
            WHERE q.consultation_id != r.consultation_id""",
        "a scale answer outside its scale": """
            SELECT count(*) FROM answer a JOIN question q ON q.id = a.question_id
            WHERE a.number IS NOT NULL AND (a.number < q.scale_min OR a.number > q.scale_max)""",
        "a chosen option of another question": """
            SELECT count(*) FROM answerchoice c JOIN answer a ON a.id = c.answer_id
            JOIN option o ON o.id = c.option_id WHERE o.question_id != a.question_id""",
        "a response of someone who never consented": """
            SELECT count(*) FROM response r WHERE NOT EXISTS (SELECT 1 FROM consent c
            WHERE c.participant_id = r.participant_id AND c.granted)""",
        "language or source kept without consent": """
            SELECT count(*) FROM participant p WHERE (p.language IS NOT NULL
            OR p.source IS NOT NULL) AND NOT EXISTS (SELECT 1 FROM consent c
            WHERE c.participant_id = p.id AND c.granted)""",
        "a current question of another consultation": """
            SELECT count(*) FROM response r JOIN question q ON q.id = r.current_question_id
            WHERE q.consultation_id != r.consultation_id""",
    }
    async with db() as session:
        broken = {
            name: count
            for name, query in queries.items()
            if (count := (await session.exec(text(query))).scalar_one())  # type: ignore[call-overload]
        }
    assert not broken, broken


def assert_no_traceback_shown(sandbox: Sandbox) -> None:
    """No message to anyone shows a traceback or an exception."""
    for person in [*PEOPLE, ADMIN]:
        for message in sandbox.messages(person):
            shown = str(message.get("text") or message.get("caption") or "")
            assert not any(word in shown for word in TRACEBACK_WORDS), shown


@examples(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis folder in the tree; a failure prints its example
    # The bot's state carries over between examples, so an example cannot be replayed alike:
    # report the first failure as it happened instead of shrinking it.
    phases=[Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one bot for all examples, on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@pytest.mark.filterwarnings("ignore:Generating overly large repr")  # a failing huge text
@given(plan=plans)
async def test_random_and_malformed_updates_never_break_the_bot(fuzz: Fuzz, plan: Plan) -> None:
    update = await make_update(plan, fuzz)
    status = await fuzz.webhook.post(update)
    fuzz.sent.append(update)
    fuzz.examples += 1
    failures = [
        f"{r.name}: {r.getMessage()} ({r.exc_info[1] if r.exc_info else ''})"
        for r in fuzz.errors.records
    ]
    fuzz.errors.records.clear()
    shown = str(update)[:2000]
    assert status == 200, f"the webhook answered {status} to {shown}: {failures}"
    assert not failures, f"{shown}: {failures}"
    if fuzz.examples % 250 == 0:
        await check_invariants(fuzz.db)
        assert_no_traceback_shown(fuzz.sandbox)
