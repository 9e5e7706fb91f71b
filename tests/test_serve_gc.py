"""The collector's settings once `quarry serve` is ready: start-up's objects frozen, fewer young collections."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from quarry.cli._gc import settle_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_settled_collector_freezes_start_up_and_collects_young_objects_less_often() -> None:
    settle_gc()
    assert gc.get_freeze_count() > 0
    young, middle, old = gc.get_threshold()
    assert young >= 10_000
    # A burst of streams fills the young generation with live objects: the middle one is walked rarely.
    assert middle >= 50
    assert old >= 10
