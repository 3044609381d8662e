"""What nine UI languages cost at start-up and on a language's first message.

Each catalogue is a ``.po`` file compiled in memory the first time someone reads that language
(``handlers.i18n``). This measures, in fresh interpreters so nothing is cached:

* importing ``handlers.i18n`` alone (finding the catalogues, no compiling), and importing the
  whole ``handlers`` package as ``medvirk run`` does;
* compiling each catalogue (what the first message in a language waits for, once per process;
  ``medvirk run`` compiles all while it publishes the command menus at start);
* rendering one translated, formatted text (the cost of every message after that).

    .venv/bin/python -m bench.bench_i18n
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

RUNS = 7

IMPORT_I18N = """
import time; t = time.perf_counter()
import handlers.i18n
print(time.perf_counter() - t)
"""

IMPORT_HANDLERS = """
import time; t = time.perf_counter()
import handlers, handlers.i18n
print(time.perf_counter() - t)
"""

COMPILE_EACH = """
import json, time
from handlers.i18n import LANGUAGES, _translations
out = {}
for code in LANGUAGES:
    t = time.perf_counter(); _translations(code); out[code] = time.perf_counter() - t
print(json.dumps(out))
"""

RENDER = """
import time
from handlers.i18n import LANGUAGES, language, load_all, ngettext
load_all()
n = 20000
out = {}
for code in ("nb", "ar"):
    with language(code):
        t = time.perf_counter()
        for i in range(n):
            ngettext("{n} person", "{n} people", i).format(n=i)
        out[code] = (time.perf_counter() - t) / n
import json; print(json.dumps(out))
"""


def _run(code: str) -> str:
    return subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def main() -> None:
    """Print the medians of RUNS fresh interpreters."""
    i18n = statistics.median(float(_run(IMPORT_I18N)) for _ in range(RUNS))
    whole = statistics.median(float(_run(IMPORT_HANDLERS)) for _ in range(RUNS))
    each = [json.loads(_run(COMPILE_EACH)) for _ in range(RUNS)]
    render = json.loads(_run(RENDER))
    print(f"import handlers.i18n alone:        {i18n * 1000:7.1f} ms")
    print(f"import handlers (as medvirk run):  {whole * 1000:7.1f} ms")
    total = 0.0
    for code in each[0]:
        median = statistics.median(run[code] for run in each)
        total += median
        print(f"compile {code}: {median * 1000:6.1f} ms")
    print(f"compile all nine:                  {total * 1000:7.1f} ms")
    for code, seconds in render.items():
        print(f"one plural text formatted ({code}):  {seconds * 1e6:6.2f} µs")


if __name__ == "__main__":
    main()
