"""Images and documents of a request, gathered once for every dialect: inline data checked at once, images behind
URLs fetched (through the app's loader, behind its SSRF guard) when `resolve` is awaited — a bounded number of them,
a few at a time, until their bytes pass the request's budget: one request's images cannot exhaust the process."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from quarry.bedrock import DocumentBlock, ImageBlock, ImageFormat
from quarry.errors import InvalidRequest, PayloadTooLarge

__all__ = ["IMAGE_TYPES", "BoundedLoader", "ImageLimits", "ImageLoader", "Media"]

ImageLoader = Callable[[str], Awaitable[tuple[str, bytes]]]  # url → (format, bytes)
Place = Callable[[ImageFormat, bytes], None]

# The media types Converse takes as images (ImageFormat in botocore's bedrock-runtime service model).
IMAGE_TYPES: dict[str, ImageFormat] = {
    "image/jpeg": "jpeg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
}
_FORMATS: dict[str, ImageFormat] = {fmt: fmt for fmt in IMAGE_TYPES.values()}
# DocumentBlock.name: letters, digits, single spaces, hyphens, parentheses and square brackets.
_DOCUMENT_NAME = re.compile(r"[^A-Za-z0-9 ()\[\]-]+")


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """How many images by URL one request may name, how many bytes they may total, how many are fetched at once.
    The defaults are the settings' (`images.*`)."""

    max_per_request: int = 20
    max_total_bytes: int = 32 * 1024 * 1024
    concurrency: int = 4


class BoundedLoader:
    """An image loader with the limits every `Media` made over it applies."""

    __slots__ = ("_load", "limits")

    def __init__(self, load: ImageLoader, limits: ImageLimits) -> None:
        self._load = load
        self.limits = limits

    def __call__(self, url: str) -> Awaitable[tuple[str, bytes]]:
        return self._load(url)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Media:
    """One request's media; create it per request."""

    def __init__(self, load: ImageLoader, limits: ImageLimits | None = None) -> None:
        self._load = load
        # A bare loader (tests, tools) still gets the default limits: no Media is ever unbounded.
        self._limits = limits or (load.limits if isinstance(load, BoundedLoader) else ImageLimits())
        self._pending: list[tuple[str, Place]] = []
        self._documents = 0

    def fetch(self, url: str, place: Place) -> None:
        """Fetch `url` when resolving and hand its format and bytes to `place`; refused at once past the count."""
        limit = self._limits.max_per_request
        if len(self._pending) >= limit:
            # Counted while the request is read, before anything is fetched.
            raise InvalidRequest(
                f"This request has more than {limit} images by URL; the limit is {limit} per request "
                "(images.max_per_request, QUARRY_IMAGES__MAX_PER_REQUEST).",
                param="messages",
                code="too_many_images",
            )
        self._pending.append((url, place))

    def image_url(self, url: str) -> ImageBlock:
        """A Converse image filled in by `resolve`."""
        image: ImageBlock = {"format": "png", "source": {"bytes": ""}}

        def place(fmt: ImageFormat, data: bytes) -> None:
            image["format"], image["source"] = fmt, {"bytes": _b64(data)}

        self.fetch(url, place)
        return image

    def image_data(self, media_type: object, data: object, where: str) -> ImageBlock:
        """A Converse image from base64 data the caller sent."""
        fmt = IMAGE_TYPES.get(media_type) if isinstance(media_type, str) else None
        if fmt is None:
            raise InvalidRequest(
                f"{where}.source: images must be base64 (image/jpeg, image/png, image/gif or image/webp) or a URL.",
                param=f"{where}.source",
            )
        return {"format": fmt, "source": {"bytes": data if isinstance(data, str) else ""}}

    def document(self, title: object, source: Mapping[str, Any], where: str) -> DocumentBlock:
        """A Converse document from a base64 PDF or plain text; untitled documents are numbered."""
        self._documents += 1
        cleaned = _DOCUMENT_NAME.sub(" ", str(title or "")).strip()
        name = " ".join(cleaned.split()) or f"document {self._documents}"
        if source.get("type") == "base64" and source.get("media_type") == "application/pdf":
            return {"format": "pdf", "name": name, "source": {"bytes": str(source.get("data", ""))}}
        if source.get("type") == "text":
            return {"format": "txt", "name": name, "source": {"bytes": _b64(str(source.get("data", "")).encode())}}
        raise InvalidRequest(
            f"{where}.source: documents must be base64 PDF or plain text for this model.", param=f"{where}.source"
        )

    async def resolve(self) -> None:
        """Fetch every image behind a URL, `concurrency` at a time, stopping once their bytes pass the budget."""
        if not self._pending:
            return
        loaded = await self._load_all([url for url, _ in self._pending])
        for (_, place), (fmt, data) in zip(self._pending, loaded, strict=True):
            known = _FORMATS.get(fmt)
            if known is None:
                raise InvalidRequest(f"images of format `{fmt}` are not supported; use jpeg, png, gif or webp.")
            place(known, data)
        self._pending.clear()

    async def _load_all(self, urls: list[str]) -> list[tuple[str, bytes]]:
        budget = self._limits.max_total_bytes
        gate = asyncio.Semaphore(self._limits.concurrency)
        total = 0

        def too_large() -> PayloadTooLarge:
            return PayloadTooLarge(
                f"The images of this request total more than {budget} bytes; the limit is {budget} "
                "(images.max_total_bytes, QUARRY_IMAGES__MAX_TOTAL_BYTES).",
                param="messages",
                code="images_too_large",
            )

        async def one(url: str) -> tuple[str, bytes]:
            nonlocal total
            async with gate:
                if total > budget:  # a fetch waiting for its turn starts no more once the budget is spent
                    raise too_large()
                fmt, data = await self._load(url)
                total += len(data)
            if total > budget:
                raise too_large()
            return fmt, data

        # A TaskGroup cancels the fetches still running as soon as one fails, instead of letting them finish.
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(url)) for url in urls]
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None  # the caller's error, not a group of them
        return [task.result() for task in tasks]
