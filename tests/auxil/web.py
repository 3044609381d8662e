"""A resident of the web chat, over real HTTP: opens pages, presses buttons by label, types.

It reads the page as a browser would (the forms and their hidden fields) and posts them, with
its own cookie jar: two residents are two browsers. ``htmx=True`` sends what htmx sends and
reads the fragments; otherwise forms are posted as without JavaScript (redirect, then the page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import aiohttp


@dataclass
class Form:
    """A form of the page: where it goes, its hidden fields, its buttons (label, name, value)."""

    action: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str, str]] = field(default_factory=list)
    options: list[tuple[str, str, str]] = field(default_factory=list)  # label, name, value


@dataclass
class Message:
    """A message as the page shows it."""

    id: int
    sender: str
    text: str = ""
    forms: list[Form] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)

    @property
    def buttons(self) -> list[str]:
        """The labels of its buttons."""
        return [label for form in self.forms for label, _, _ in form.buttons]


class _PageParser(HTMLParser):
    """Collects the chat's messages, every form, and the page's other parts we read."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.messages: list[Message] = []
        self.forms: list[Form] = []
        self.inputs: dict[str, str] = {}  # by id: hidden inputs outside forms (#last-id)
        self.texts: dict[str, list[str]] = {"status": [], "announcer": [], "title": [], "h1": []}
        self._message: Message | None = None
        self._form: Form | None = None
        self._button: list[str] | None = None
        self._button_attrs: dict[str, str] = {}
        self._label: list[str] | None = None
        self._label_input: dict[str, str] | None = None
        self._link: tuple[str, list[str]] | None = None
        self._in: list[tuple[str, int]] = []  # the named parts we are in, with their depth
        self._depth = 0
        self._message_depth = -1

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag not in ("input", "meta", "link", "br", "img"):
            self._depth += 1
        classes = attrs.get("class", "").split()
        if tag == "li" and "message" in classes:
            number = attrs.get("id", "m-0")[2:]
            sender = next((c for c in classes if c != "message"), "")
            self._message = Message(int(number) if number.isdecimal() else 0, sender)
            self._message_depth = self._depth
        if attrs.get("id") in ("status", "announcer") or tag in ("title", "h1"):
            self._in.append((attrs.get("id") or tag, self._depth))
        if tag == "form":
            self._form = Form(attrs.get("action", ""))
        if tag == "input" and attrs.get("type") == "hidden":
            if self._form is not None:
                self._form.fields[attrs.get("name", "")] = attrs.get("value", "")
            elif attrs.get("id"):
                self.inputs[attrs["id"]] = attrs.get("value", "")
        if tag == "input" and attrs.get("type") in ("radio", "checkbox"):
            self._label_input = attrs
        if tag == "label":
            self._label = []
        if tag == "button":
            self._button = []
            self._button_attrs = attrs
        if tag == "a" and self._message is not None:
            self._link = (attrs.get("href", ""), [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            label = " ".join("".join(self._button).split())
            if self._form is not None:
                self._form.buttons.append(
                    (
                        label,
                        self._button_attrs.get("name", ""),
                        self._button_attrs.get("value", ""),
                    )
                )
            self._button = None
        if tag == "label" and self._label is not None:
            if self._form is not None and self._label_input is not None:
                label = " ".join("".join(self._label).split())
                inp = self._label_input
                self._form.options.append((label, inp.get("name", ""), inp.get("value", "")))
            self._label, self._label_input = None, None
        if tag == "a" and self._link is not None and self._message is not None:
            self._message.links.append((" ".join("".join(self._link[1]).split()), self._link[0]))
            self._link = None
        if tag == "form" and self._form is not None:
            if self._message is not None:
                self._message.forms.append(self._form)
            self.forms.append(self._form)
            self._form = None
        if self._in and self._in[-1][1] == self._depth:
            self._in.pop()
        if tag == "li" and self._message is not None and self._depth == self._message_depth:
            self._message.text = " ".join(self._message.text.split())
            self.messages.append(self._message)
            self._message = None
        if tag not in ("input", "meta", "link", "br", "img"):
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)
        elif self._message is not None:
            self._message.text += data
        if self._label is not None:
            self._label.append(data)
        if self._link is not None:
            self._link[1].append(data)
        for name, _depth in self._in:
            self.texts[name].append(data)


def parse(html: str) -> _PageParser:
    """Read a page or a fragment."""
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser


class WebResident:
    """One browser on the web chat (its own cookies), driven like a person.

    Args:
        base: the server's root URL.
        htmx: act as the page does with JavaScript (fragments) rather than without.
        language: the browser's Accept-Language.
    """

    def __init__(self, base: str, *, htmx: bool = False, language: str = "nb") -> None:
        self.base = base.rstrip("/")
        self.htmx = htmx
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            headers={"Accept-Language": language},
        )
        self.page = parse("")
        self.messages: dict[int, Message] = {}
        self.last_id = 0
        self.status = 0
        self.html = ""

    async def close(self) -> None:
        """Close the browser."""
        await self.http.close()

    async def open(self, path: str = "/chat") -> str:
        """Load a page; the chat's messages are what it shows."""
        async with self.http.get(self.base + path) as response:
            self.status = response.status
            self.html = await response.text()
        self.page = parse(self.html)
        if path.startswith(("/chat", "/c/", "/a/")):
            self.messages = {m.id: m for m in self.page.messages}
            self.last_id = int(self.page.inputs.get("last-id") or 0)
        return self.html

    def form(self, action: str) -> Form:
        """The first form of the page posting to ``action``."""
        for form in self.page.forms:
            if form.action == action:
                return form
        raise AssertionError(f"no form to {action} on the page")

    async def post(self, action: str, data: dict[str, Any] | list[tuple[str, str]]) -> int:
        """Post a form; read the answer as the page would. Returns the HTTP status."""
        headers = {"HX-Request": "true"} if self.htmx else {}
        if self.htmx:
            pairs = list(data.items()) if isinstance(data, dict) else list(data)
            data = [*pairs, ("after", str(self.last_id))]
        async with self.http.post(self.base + action, data=data, headers=headers) as response:
            self.status = response.status
            self.html = await response.text()
            final = str(response.url)
        if self.htmx:
            self._merge(parse(self.html))
        else:
            self.page = parse(self.html)
            if "/chat" in final:
                self.messages = {m.id: m for m in self.page.messages}
                self.last_id = int(self.page.inputs.get("last-id") or 0)
        return self.status

    def _merge(self, fragment: _PageParser) -> None:
        """Apply an htmx answer: messages added or replaced, forms renewed."""
        for message in fragment.messages:
            self.messages[message.id] = message
        if fragment.inputs.get("last-id"):
            self.last_id = int(fragment.inputs["last-id"])
        outside = [f for f in fragment.forms if not any(f in m.forms for m in fragment.messages)]
        kept = [f for f in self.page.forms if not any(f in m.forms for m in self.page.messages)]
        actions = {f.action for f in outside}
        self.page.forms = [f for f in kept if f.action not in actions] + outside
        self.page.messages = sorted(self.messages.values(), key=lambda m: m.id)
        self.page.texts = fragment.texts

    def chat(self) -> list[Message]:
        """The messages shown, oldest first."""
        return sorted(self.messages.values(), key=lambda m: m.id)

    def texts(self) -> list[str]:
        """The text of every message shown."""
        return [m.text for m in self.chat()]

    def last(self) -> str:
        """The newest message's text."""
        chat = self.chat()
        return chat[-1].text if chat else ""

    async def start(self) -> int:
        """Press the page's start button (a consultation's or an arena's link, or "Start")."""
        for form in self.page.forms:
            if form.action == "/chat/send" and "text" in form.fields:
                return await self.post(form.action, {**form.fields})
        raise AssertionError("no start button on the page")

    async def press(self, label: str | re.Pattern[str]) -> int:
        """Press the newest button whose label contains ``label`` (or matches the pattern)."""
        for message in reversed(self.chat()):
            for form in message.forms:
                for text, name, value in form.buttons:
                    found = label.search(text) if isinstance(label, re.Pattern) else label in text
                    if found:
                        return await self.post(form.action, {**form.fields, name: value})
        raise AssertionError(f"no button {label!r}; the chat shows:\n" + "\n".join(self.texts()))

    async def vote(self, *labels: str) -> int:
        """Tick these options of the newest poll and vote."""
        for message in reversed(self.chat()):
            for form in message.forms:
                if form.action == "/chat/vote":
                    picked = [
                        (name, value) for text, name, value in form.options if text in labels
                    ]
                    return await self.post(form.action, [*form.fields.items(), *picked])
        raise AssertionError("no poll in the chat")

    async def send(self, text: str) -> int:
        """Type into the message box and send."""
        composer = next(
            f
            for f in self.page.forms
            if f.action == "/chat/send"
            and "text" not in f.fields
            and all(name != "text" for _, name, _ in f.buttons)
        )
        return await self.post(composer.action, {**composer.fields, "text": text})

    async def menu(self, label: str) -> int:
        """Press a button of the menu (Privacy, My data, …)."""
        for form in self.page.forms:
            for text, name, value in form.buttons:
                if text == label and form.action == "/chat/send":
                    return await self.post(form.action, {**form.fields, name: value})
        raise AssertionError(f"no menu button {label!r}")

    def cookie(self) -> str | None:
        """The session cookie's value."""
        for cookie in self.http.cookie_jar:
            if cookie.key == "medvirk_session":
                return cookie.value
        return None
