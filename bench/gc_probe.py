"""Any `quarry` command with the garbage collector watched: one line per collection (wall-clock time, generation,
duration, objects freed) appended to a file, to see when collections land and what they cost (e.g. during the
1,000-stream burst of `run_targets.sh`).

    GC_LOG=/tmp/gc.log PYTHONPATH=src .venv/bin/python bench/gc_probe.py serve --backend bedrock ...

The last line with `frozen=0` and gen2 is the collection `settle_gc` makes once the app is ready; what follows is
the served traffic's. Start `bench/gateway_load.py` against it as `bench/gateway_lib.sh` would.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import Any


def main() -> None:
    log = open(os.environ.get("GC_LOG", "gc.log"), "w")  # noqa: SIM115  # open for the process's life
    started = [0.0]

    def watch(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        took_ms = (time.perf_counter() - started[0]) * 1000
        frozen = f" frozen={gc.get_freeze_count()}" if info["generation"] == 2 else ""
        log.write(f"{time.time():.3f}{frozen} gen{info['generation']} {took_ms:.2f}ms collected={info['collected']}\n")
        log.flush()

    gc.callbacks.append(watch)
    sys.argv = ["quarry", *sys.argv[1:]]
    from quarry.cli import main as quarry

    quarry()


if __name__ == "__main__":
    main()
