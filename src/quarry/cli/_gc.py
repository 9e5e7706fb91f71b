"""The garbage collector's settings for a long-running server process.

With 1,000 paced streams open, CPython's default collector (thresholds 700, 10, 10) spent more of the gateway's CPU
than serving them: a probe of `gc.callbacks` during the slow-stream benchmark counted 12 of 20 CPU seconds in
collections, 8 of them in 15 full ones, each walking every object start-up made (modules, pydantic schemas,
botocore's service models) and every live stream's objects. Start-up's objects live as long as the process, so they
are frozen out of the collector's walks once the app is ready, and the youngest generation is collected after more
allocations, so a busy loop collects less often. Reference counting still frees almost everything at once; cycles
wait a little longer.
"""

from __future__ import annotations

import gc

__all__ = ["settle_gc"]

# Allocations (net of frees) before a young collection: ~14x CPython's 700. Young collections before the middle
# generation is collected: 50, not CPython's 10. When 1,000 streams open at once, each keeps ~200 tracked objects alive
# (tasks, generators, dicts) until it ends, so the young generation fills ~22 times in the burst and every collection
# finds nothing to free; with 10 the middle generation, holding all those survivors, was walked twice in that second
# (48-96 ms of the gateway's ~650 ms of CPU before the last first token). With 50 it waits for ~500,000 net
# allocations. Peak RSS was the same (272 MB) in the same test; (50,000, 20, 20) had peaked once at 371 MB.
# See docs/performance.md.
_THRESHOLDS = (10_000, 50, 10)


def settle_gc() -> None:
    """Once start-up is done: collect what it left, freeze the survivors out of later walks, raise the thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*_THRESHOLDS)
