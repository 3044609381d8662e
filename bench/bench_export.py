"""Benchmark: exporting 100,000 responses as CSV, xlsx and JSON, for time and peak memory.

Builds the consultation of :mod:`bench.bench_results` with 100,000 responses (about 920,000
answers; written texts have a moderation review, 80 % approved), then runs each export in a
fresh subprocess. The subprocess first loads everything an
export needs and runs a small query, then records its resident memory ("idle"), exports, and
records the peak (``VmHWM`` from ``/proc/self/status``). The difference is what the export
itself costs; streaming should keep it flat, whatever the number of responses.

Beside the export the subprocess runs a task that sleeps 5 ms at a time and notes how late
each wake-up is: the event loop's stalls, which is what a resident's reply would wait for
while the export runs in the same process (``loop stall`` p95 and max).

    .venv/bin/python -m bench.bench_export                      # a temporary SQLite file
    .venv/bin/python -m bench.bench_export --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench

The schema in the target database is dropped and created again: never point it at real data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from bench.bench_results import bench_engine, populate
from handlers.manage import EXPORT_BATCH

FORMATS = ("csv", "xlsx", "json")


def memory_kib() -> dict[str, int]:
    """This process's current and peak resident memory, in KiB."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


async def child(
    url: str, consultation_id: int, fmt: str, output: Path, batch_size: int
) -> dict[str, Any]:
    """Export once in this process and measure it."""
    # Everything the export uses is loaded before "idle" is measured, openpyxl included, so
    # the difference is the export's working memory, not its code.
    import openpyxl  # noqa: F401
    from sqlalchemy import text

    from bot.db import create_engine, create_sessionmaker
    from models.export import Format, write_export

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
        idle = memory_kib()
        # The loop's stalls without an export first: what the machine's load alone causes.
        quiet: list[float] = []
        watching = asyncio.create_task(watch_loop(quiet))
        await asyncio.sleep(3)
        watching.cancel()
        stalls: list[float] = []
        watching = asyncio.create_task(watch_loop(stalls))
        began = time.perf_counter()
        async with create_sessionmaker(engine)() as session, session.begin():
            with output.open("wb") as out:
                rows = await write_export(
                    session, consultation_id, cast(Format, fmt), out, batch_size=batch_size
                )
        seconds = time.perf_counter() - began
        watching.cancel()
        peak = memory_kib()
    finally:
        await engine.dispose()
    return {
        "format": fmt,
        "rows": rows,
        "seconds": round(seconds, 2),
        "idle_rss_mib": round(idle["VmRSS"] / 1024, 1),
        "idle_peak_mib": round(idle["VmHWM"] / 1024, 1),
        "peak_mib": round(peak["VmHWM"] / 1024, 1),
        "export_mib": round((peak["VmHWM"] - idle["VmRSS"]) / 1024, 1),
        "stall_p95_ms": round(sorted(stalls)[int(len(stalls) * 0.95)] * 1000, 1),
        "stall_max_ms": round(max(stalls) * 1000, 1),
        "quiet_p95_ms": round(sorted(quiet)[int(len(quiet) * 0.95)] * 1000, 1),
        "quiet_max_ms": round(max(quiet) * 1000, 1),
    }


async def watch_loop(stalls: list[float], tick: float = 0.005) -> None:
    """Note how much later than asked each short sleep wakes: the event loop's stalls."""
    while True:
        began = time.perf_counter()
        await asyncio.sleep(tick)
        stalls.append(time.perf_counter() - began - tick)


async def main(args: argparse.Namespace) -> None:
    """Build the data, export it in each format in a subprocess, print a summary."""
    async with bench_engine(args.database_url) as (engine, url):
        print(f"database: {engine.dialect.name} ({url.split('@')[-1]})")
        consultation_id, counts = await populate(engine, responses=args.responses)
        print(
            f"inserted {counts.responses:,} responses, {counts.answers:,} answers, "
            f"{counts.choices:,} answer choices, {counts.reviews:,} text reviews "
            f"in {counts.seconds:.1f} s"
        )
        with tempfile.TemporaryDirectory(prefix="medvirk-export-") as folder:
            for fmt in args.formats:
                output = Path(folder) / f"bench.{fmt}"
                command = [
                    sys.executable,
                    "-m",
                    "bench.bench_export",
                    "--child",
                    url,
                    str(consultation_id),
                    fmt,
                    str(output),
                    str(args.batch_size),
                ]
                process = await asyncio.create_subprocess_exec(
                    *command, stdout=asyncio.subprocess.PIPE
                )
                stdout, _ = await process.communicate()
                if process.returncode != 0:
                    raise SystemExit(f"the {fmt} export failed")
                result = json.loads(stdout)
                print(
                    f"{fmt:5}: {result['rows']:,} rows in {result['seconds']:.1f} s, "
                    f"{result['bytes'] / 1e6:.1f} MB; RSS idle {result['idle_rss_mib']} MiB, "
                    f"peak {result['peak_mib']} MiB, export +{result['export_mib']} MiB; "
                    f"loop stall p95 {result['stall_p95_ms']} ms, max {result['stall_max_ms']} ms "
                    f"(without an export: p95 {result['quiet_p95_ms']} ms, "
                    f"max {result['quiet_max_ms']} ms)"
                )


def parse_args() -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument(
        "--batch-size", type=int, default=EXPORT_BATCH, help="responses read at a time"
    )
    return parser.parse_args()


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--child":
        _, _, url, consultation, fmt, output, batch = sys.argv
        report = asyncio.run(child(url, int(consultation), fmt, Path(output), int(batch)))
        report["bytes"] = Path(output).stat().st_size
        print(json.dumps(report))
    else:
        asyncio.run(main(parse_args()))
