"""Images and documents of a request, gathered once for every dialect: inline data checked at once, images behind
URLs fetched together (through the app's loader, behind its SSRF guard) when `resolve` is awaited."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from quarry.bedrock import DocumentBlock, ImageBlock, ImageFormat
from quarry.errors import InvalidRequest

__all__ = ["IMAGE_TYPES", "ImageLoader", "Media"]

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


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Media:
    """One request's media; create it per request."""

    def __init__(self, load: ImageLoader) -> None:
        self._load = load
        self._pending: list[tuple[str, Place]] = []
        self._documents = 0

    def fetch(self, url: str, place: Place) -> None:
        """Fetch `url` when resolving and hand its format and bytes to `place`."""
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
        """Fetch every image behind a URL, concurrently."""
        if not self._pending:
            return
        loaded = await asyncio.gather(*(self._load(url) for url, _ in self._pending))
        for (_, place), (fmt, data) in zip(self._pending, loaded, strict=True):
            known = _FORMATS.get(fmt)
            if known is None:
                raise InvalidRequest(f"images of format `{fmt}` are not supported; use jpeg, png, gif or webp.")
            place(known, data)
        self._pending.clear()
