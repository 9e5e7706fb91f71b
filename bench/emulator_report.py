"""Markdown table of an emulator benchmark run (`bench/run_emulator.sh`), judged against the issue's targets.

Reads the tab-separated lines the run script writes, one per benchmark:
label, client exit status, server CPU share, command, JSON result line (`emulator_load.py` or `wrk_converse.lua`).
Exits 1 if a benchmark had errors or missed its target.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

CONVERSE_TARGET = 2_000  # requests/s, non-streaming Converse, one server core
STREAM_TARGET = 50_000  # events/s, ConverseStream, one server core


def row(label: str, status: str, server_cpu: str, command: str, result: dict[str, Any]) -> tuple[str, bool]:
    """One table row, and whether the benchmark passed."""
    errors = result.get("errors", 0) + result.get("non_2xx", 0) + result.get("socket_errors", 0)
    if "events_per_s" in result:
        value, target, unit = result["events_per_s"], STREAM_TARGET, "events/s"
        figure = f"{value:,.0f} events/s ({result['streams_per_s']:,.1f} streams/s)"
        latency = result["stream_ms"]
    else:
        value, target, unit = result.get("requests_per_s", 0), CONVERSE_TARGET, "req/s"
        figure = f"{value:,.0f} req/s"
        latency = result.get("latency_ms", {})
    passed = errors == 0 and status == "0" and value >= target
    cells = [
        label,
        figure,
        f">= {target:,} {unit}",
        "yes" if passed else "**NO**",
        f"{latency.get('p50')} / {latency.get('p99')}",
        server_cpu,
        str(result.get("client_cpu", "-")),
        str(errors),
        f"`{command}`",
    ]
    return "| " + " | ".join(cells) + " |", passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="tab-separated results written by run_emulator.sh")
    parser.add_argument("--server-command", required=True, help="how the emulator was started")
    args = parser.parse_args()

    rows: list[str] = []
    raw: list[str] = []
    ok = True
    for line in args.results.read_text(encoding="utf-8").splitlines():
        label, status, server_cpu, command, result_json = line.split("\t", 4)
        text, passed = row(label, status, server_cpu, command, json.loads(result_json))
        rows.append(text)
        raw.append(result_json)
        ok &= passed

    print(f"\nServer: `{args.server_command}`\n")
    print("| Benchmark | Result | Target | Pass | p50 / p99 ms | Server CPU | Client CPU | Errors | Command |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(
        "\nLatency is per request for Converse and per whole stream for ConverseStream."
        " CPU is the share of one core used during the run (warm-up included)."
    )
    print("\nRaw results:\n")
    print("\n".join(raw))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
