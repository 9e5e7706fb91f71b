"""The gatherer's per-request bounds, without a server: the count, the fetches in flight, the byte budget."""

from __future__ import annotations

import asyncio

import pytest

from quarry.api._core import BoundedLoader, ImageLimits, Media
from quarry.errors import InvalidRequest, PayloadTooLarge


class _Slow:
    """A loader that answers `size` bytes after yielding to the loop, recording the most calls in flight at once."""

    def __init__(self, size: int) -> None:
        self.size, self.calls, self.in_flight, self.most = size, 0, 0, 0

    async def __call__(self, url: str) -> tuple[str, bytes]:
        self.calls += 1
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        for _ in range(5):
            await asyncio.sleep(0)
        self.in_flight -= 1
        return "png", b"\0" * self.size


def test_a_bare_loader_gets_the_default_count() -> None:
    media = Media(_Slow(1))
    for n in range(ImageLimits().max_per_request):
        media.image_url(f"http://x/{n}")
    with pytest.raises(InvalidRequest, match="QUARRY_IMAGES__MAX_PER_REQUEST"):
        media.image_url("http://x/one-more")


async def test_fetches_run_at_most_concurrency_at_once() -> None:
    loader = _Slow(10)
    media = Media(BoundedLoader(loader, ImageLimits(max_per_request=12, max_total_bytes=1000, concurrency=3)))
    images = [media.image_url(f"http://x/{n}") for n in range(12)]
    await media.resolve()
    assert loader.calls == 12
    assert loader.most == 3
    assert all(image["source"]["bytes"] for image in images)


async def test_fetching_stops_once_the_budget_is_passed() -> None:
    loader = _Slow(100)
    media = Media(loader, ImageLimits(max_per_request=20, max_total_bytes=250, concurrency=1))
    for n in range(20):
        media.image_url(f"http://x/{n}")
    with pytest.raises(PayloadTooLarge, match="QUARRY_IMAGES__MAX_TOTAL_BYTES"):
        await media.resolve()
    assert loader.calls == 3  # the third passes 250 bytes; none after it starts
