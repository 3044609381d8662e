"""Links people can use: the full ``https://t.me/<bot>?start=…`` link and its QR code.

A deep link opens the bot with a payload (docs/consultation-format.md): ``c_<slug>`` a
consultation, ``a_<slug>`` an arena, and ``__<source>`` after either records where the person
came from (a poster, the library). Staff print the QR code on posters; the source tells in
/results how many came from each.
"""

from __future__ import annotations

import io
import re
from html import escape

import segno

from handlers.i18n import _
from handlers.views.outgoing import Outgoing

# Telegram allows [A-Za-z0-9_-] in a start payload, 64 characters in all.
PAYLOAD_LIMIT = 64
SOURCE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# Pixels per module of the QR code, and the quiet zone around it: about 600 pixels wide for a
# short link, sharp when printed on an A4 poster.
QR_SCALE = 16
QR_BORDER = 4


def payload(kind: str, slug: str, source: str | None = None) -> str:
    """The start payload: ``c_<slug>`` or ``a_<slug>``, then ``__<source>`` when given."""
    return f"{kind}_{slug}" + (f"__{source}" if source else "")


def deep_link(bot_username: str, start: str) -> str:
    """The full link that opens the bot with the start payload ``start``."""
    return f"https://t.me/{bot_username}?start={start}"


def fits(kind: str, slug: str, source: str | None) -> bool:
    """Whether the payload is one Telegram accepts (characters and length)."""
    if source is not None and not SOURCE.match(source):
        return False
    return len(payload(kind, slug, source)) <= PAYLOAD_LIMIT


def qr_png(link: str) -> bytes:
    """The link as a QR code, a black-on-white PNG for posters."""
    buffer = io.BytesIO()
    segno.make(link, error="m", micro=False).save(
        buffer, kind="png", scale=QR_SCALE, border=QR_BORDER
    )
    return buffer.getvalue()


def link_line(link: str) -> str:
    """The link as a line of a staff message: "Link: https://t.me/…"."""
    return _("Link: {link}").format(link=escape(link))


def link_message(title: str, link: str, *, source: str | None) -> Outgoing:
    """The text sent with a QR code: what it opens, the link, and how to make one per source."""
    lines = [f"<b>{escape(title)}</b>", link_line(link)]
    if source:
        lines.append(
            _("People who come through it are counted under {source} in /results.").format(
                source=f"<code>{escape(source)}</code>"
            )
        )
    else:
        lines.append(
            _(
                "For a poster or a place of its own, add a source word: "
                "{example} makes a link and QR code counted apart in /results."
            ).format(example="<code>/link SLUG library</code>")
        )
    return Outgoing("\n".join(lines))


def qr_caption(link: str) -> str:
    """The line under a QR code: the link it holds."""
    return _("QR code for {link}").format(link=escape(link))


def link_usage() -> Outgoing:
    """How to write /link."""
    return Outgoing(
        _(
            "Write /link followed by the name of a consultation or an arena, and if you like a "
            "source word for where the link is put up, for example {example}. You get the full "
            "link and a QR code for a poster."
        ).format(example="<code>/link holmen-frivilligsentral library</code>")
    )


def bad_source() -> Outgoing:
    """A source word Telegram would not take."""
    return Outgoing(
        _(
            "The source word may have letters a-z, digits, - and _ only, and the whole link must "
            "be short: try a shorter word."
        )
    )


def nothing_named() -> Outgoing:
    """No consultation or arena has that name."""
    return Outgoing(_("There is no consultation or arena with that name. See /manage."))
