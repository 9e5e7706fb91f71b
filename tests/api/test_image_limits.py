"""Bounded image work per request, in both dialects: the count of image URLs is checked before anything is fetched,
fetches run a few at a time, and fetching stops once the request's images pass their byte budget."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from quarry.server import create_app
from quarry.settings import ImageSettings, Settings
from tests.api.conftest import HAIKU, KEY
from tests.conftest import png

_IMAGE_BYTES = 300 * 1024  # each big image the server sends: a real PNG, padded
_BUDGET = 1024 * 1024  # the test gateway's images.max_total_bytes: the fourth image passes it
_MAX_IMAGES = 6
_CONCURRENCY = 2


@dataclass
class Counter:
    """What the image server saw: requests served and the most it was serving at once."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    served: int = 0
    in_flight: int = 0
    most_at_once: int = 0

    def reset(self) -> None:
        with self.lock:
            self.served = self.in_flight = self.most_at_once = 0


@pytest.fixture(scope="module")
def counter() -> Counter:
    return Counter()


@pytest.fixture(scope="module")
def images(serve: Any, counter: Counter) -> str:
    small = png(2, 2)
    big = small + b"\0" * (_IMAGE_BYTES - len(small))

    async def image(request: Request) -> Response:
        with counter.lock:
            counter.served += 1
            counter.in_flight += 1
            counter.most_at_once = max(counter.most_at_once, counter.in_flight)
        try:
            await asyncio.sleep(0.05)  # long enough for unbounded fetches to overlap
            return Response(big if request.path_params["size"] == "big" else small, media_type="image/png")
        finally:
            with counter.lock:
                counter.in_flight -= 1

    url: str = serve(Starlette(routes=[Route("/{size}/{n}.png", image)])).url
    return url


@pytest.fixture(scope="module")
def bounded_gateway(serve: Any, aws_environment: None, images: str) -> str:
    settings = Settings(
        backend="bedrock",
        api_key=KEY,  # type: ignore[arg-type]
        images=ImageSettings(
            allow_hosts=["127.0.0.1"],
            max_per_request=_MAX_IMAGES,
            max_total_bytes=_BUDGET,
            fetch_concurrency=_CONCURRENCY,
        ),
    )
    url: str = serve(create_app(settings), lifespan="on").url
    return url


@pytest.fixture
def oa(bounded_gateway: str, counter: Counter) -> Iterator[openai.OpenAI]:
    counter.reset()
    with openai.OpenAI(base_url=f"{bounded_gateway}/v1", api_key=KEY, max_retries=0) as made:
        yield made


@pytest.fixture
def an(bounded_gateway: str, counter: Counter) -> Iterator[anthropic.Anthropic]:
    counter.reset()
    with anthropic.Anthropic(base_url=bounded_gateway, api_key=KEY, max_retries=0) as made:
        yield made


def _openai(client: openai.OpenAI, urls: list[str]) -> str:
    parts: list[Any] = [{"type": "text", "text": "How many?"}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in urls]
    answer = client.chat.completions.create(model=HAIKU, messages=[{"role": "user", "content": parts}])
    return answer.choices[0].message.content or ""


def _anthropic(client: anthropic.Anthropic, urls: list[str]) -> str:
    parts: list[Any] = [{"type": "text", "text": "How many?"}]
    parts += [{"type": "image", "source": {"type": "url", "url": url}} for url in urls]
    answer = client.messages.create(model=HAIKU, max_tokens=64, messages=[{"role": "user", "content": parts}])
    return "".join(block.text for block in answer.content if block.type == "text")


def _urls(images: str, count: int, size: str = "big") -> list[str]:
    return [f"{images}/{size}/{n}.png" for n in range(count)]


def test_openai_images_within_limits_are_fetched_a_few_at_a_time(
    oa: openai.OpenAI, images: str, counter: Counter
) -> None:
    assert f"{_MAX_IMAGES} images" in _openai(oa, _urls(images, _MAX_IMAGES, "small"))
    assert counter.served == _MAX_IMAGES
    assert counter.most_at_once <= _CONCURRENCY


def test_anthropic_images_within_limits_are_fetched_a_few_at_a_time(
    an: anthropic.Anthropic, images: str, counter: Counter
) -> None:
    assert f"{_MAX_IMAGES} images" in _anthropic(an, _urls(images, _MAX_IMAGES, "small"))
    assert counter.served == _MAX_IMAGES
    assert counter.most_at_once <= _CONCURRENCY


def test_openai_too_many_image_urls_are_refused_before_any_fetch(
    oa: openai.OpenAI, images: str, counter: Counter
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        _openai(oa, _urls(images, _MAX_IMAGES + 1))
    assert caught.value.body["code"] == "too_many_images"  # type: ignore[index]
    assert "QUARRY_IMAGES__MAX_PER_REQUEST" in caught.value.message
    assert counter.served == 0


def test_anthropic_too_many_image_urls_are_refused_before_any_fetch(
    an: anthropic.Anthropic, images: str, counter: Counter
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        _anthropic(an, _urls(images, _MAX_IMAGES + 1))
    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "QUARRY_IMAGES__MAX_PER_REQUEST" in caught.value.message
    assert counter.served == 0


def test_openai_fetching_stops_once_the_image_bytes_pass_the_budget(
    oa: openai.OpenAI, images: str, counter: Counter
) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        _openai(oa, _urls(images, _MAX_IMAGES))
    assert caught.value.status_code == 413
    assert "QUARRY_IMAGES__MAX_TOTAL_BYTES" in caught.value.message
    # The fourth image passes the budget; at most the fetches already running when it did finish.
    assert 4 <= counter.served <= 4 + _CONCURRENCY - 1
    assert counter.served < _MAX_IMAGES
    assert counter.most_at_once <= _CONCURRENCY


def test_anthropic_fetching_stops_once_the_image_bytes_pass_the_budget(
    an: anthropic.Anthropic, images: str, counter: Counter
) -> None:
    with pytest.raises(anthropic.APIStatusError) as caught:
        _anthropic(an, _urls(images, _MAX_IMAGES))
    assert caught.value.status_code == 413
    assert caught.value.body["error"]["type"] == "request_too_large"  # type: ignore[index]
    assert "QUARRY_IMAGES__MAX_TOTAL_BYTES" in caught.value.message
    assert counter.served < _MAX_IMAGES
