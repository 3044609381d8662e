"""Allow ``python -m bot`` as a synonym of the ``medvirk`` command."""

from bot.cli import main

main()
