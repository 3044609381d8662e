"""The residents' web chat: the same conversation as on Telegram, on the municipality's own page.

- :mod:`bot.webchannel.botapi` answers the Bot API calls about web residents' chats by storing
  the messages (:mod:`models.webchat`); :mod:`bot.webchannel.request` is the bot's transport that
  sends each call to its channel, so the handlers never know which channel a person uses.
- :mod:`bot.webchannel.pages` serves the pages (``/``, ``/c/<slug>``, ``/a/<slug>``, ``/chat``)
  and turns a resident's form into an update for the one PTB application.
- :mod:`bot.webchannel.identity` (the signed session cookie, CSRF tokens, the client's address),
  :mod:`bot.webchannel.limits` (requests per session and per address),
  :mod:`bot.webchannel.render` (the bot's HTML made safe for the page) and
  :mod:`bot.webchannel.updates` (the updates a form becomes).

docs/web-channel.md describes it for operators and docs/decisions.md says why it is built so.
"""
