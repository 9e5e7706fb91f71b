"""One gatherer of images and documents for every dialect."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from quarry.api._core import Media
from quarry.errors import InvalidRequest


class _Loader:
    """Stands in for the app's SSRF-guarded fetcher: answers from a table and records what it was asked."""

    def __init__(self, answers: dict[str, tuple[str, bytes]]) -> None:
        self.answers, self.asked = answers, list[str]()

    async def __call__(self, url: str) -> tuple[str, bytes]:
        self.asked.append(url)
        return self.answers[url]


@pytest.mark.parametrize(
    ("media_type", "fmt"), [("image/jpeg", "jpeg"), ("image/png", "png"), ("image/gif", "gif"), ("image/webp", "webp")]
)
def test_inline_images(media_type: str, fmt: str) -> None:
    assert Media(_Loader({})).image_data(media_type, "AAAA", "m.0") == {"format": fmt, "source": {"bytes": "AAAA"}}


@pytest.mark.parametrize("media_type", ["image/bmp", None, 3])
def test_other_images_are_refused(media_type: Any) -> None:
    with pytest.raises(InvalidRequest, match="images must be base64") as caught:
        Media(_Loader({})).image_data(media_type, "AAAA", "messages.0.content.1")
    assert caught.value.param == "messages.0.content.1.source"


@pytest.mark.parametrize(
    ("title", "source", "expected"),
    [
        (
            "Q3 report.pdf",
            {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
            {"format": "pdf", "name": "Q3 report pdf", "source": {"bytes": "JVBE"}},
        ),
        (
            None,
            {"type": "text", "data": "hello"},
            {"format": "txt", "name": "document 1", "source": {"bytes": base64.b64encode(b"hello").decode()}},
        ),
        ("a/b\\c__d", {"type": "text", "data": ""}, {"format": "txt", "name": "a b c d", "source": {"bytes": ""}}),
    ],
)
def test_documents(title: Any, source: dict[str, Any], expected: dict[str, Any]) -> None:
    assert Media(_Loader({})).document(title, source, "d") == expected


def test_other_documents_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="base64 PDF or plain text"):
        Media(_Loader({})).document("x", {"type": "url", "url": "https://example.com/x.pdf"}, "d")


async def test_images_behind_urls_are_fetched_when_resolved() -> None:
    loader = _Loader({"https://a/1": ("png", b"one"), "https://a/2": ("webp", b"two")})
    media = Media(loader)
    first, second = media.image_url("https://a/1"), media.image_url("https://a/2")
    assert loader.asked == []
    await media.resolve()
    assert loader.asked == ["https://a/1", "https://a/2"]
    assert first == {"format": "png", "source": {"bytes": base64.b64encode(b"one").decode()}}
    assert second["format"] == "webp"


async def test_a_fetched_image_of_another_format_is_refused() -> None:
    media = Media(_Loader({"https://a/1": ("tiff", b"x")}))
    media.image_url("https://a/1")
    with pytest.raises(InvalidRequest, match="`tiff`"):
        await media.resolve()
