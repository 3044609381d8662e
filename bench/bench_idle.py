"""Idle memory of ``medvirk run``: resident set size of a bot waiting for updates.

Migrates a new SQLite database (``medvirk db upgrade``), then starts ``python -m bot run``
(long polling) against a sandbox in this process, as a restart in production would, and
samples the process's ``VmRSS`` once a second for 20 s; prints the largest of the last 10.

    .venv/bin/python -m bench.bench_idle                      # with this interpreter
    .venv/bin/python -m bench.bench_idle --python /tmp/prod/bin/python

``--python`` measures another installation: the development environment carries tools (rich
and pygments, for import-linter and pytest) that make httpx import its command line too, about
6 MB that a production install (``pip install .``) does not have.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from sandbox import Sandbox


def rss_mb(pid: int) -> float:
    """The process's resident set size now, in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


async def main(python: str) -> None:
    """Migrate, start the bot, sample its memory, stop it."""
    work = tempfile.mkdtemp(prefix="bench-idle-")
    async with Sandbox() as sandbox:
        env = {
            **os.environ,
            "BOT_TOKEN": sandbox.token,
            "TELEGRAM_API_URL": str(sandbox.url),
            "DATABASE_URL": f"sqlite+aiosqlite:///{work}/medvirk.db",
            "LOG_LEVEL": "WARNING",
            "WEB_PORT": "0",
        }
        upgrade = await asyncio.create_subprocess_exec(
            python, "-m", "bot", "db", "upgrade", env=env, cwd=work
        )
        await upgrade.wait()
        bot = subprocess.Popen([python, "-m", "bot", "run"], env=env, cwd=work)  # noqa: S603, ASYNC220
        try:
            samples = []
            for _ in range(20):
                await asyncio.sleep(1)
                samples.append(rss_mb(bot.pid))
        finally:
            bot.terminate()
            bot.wait(30)
    print(f"{python}: idle resident memory {max(samples[10:]):.1f} MB (max of seconds 11-20)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="the interpreter to measure")
    asyncio.run(main(parser.parse_args().python))
