"""Image formats Bedrock accepts, recognised by their magic bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Image", "ImageFormat", "sniff_image_format"]

ImageFormat = Literal["png", "jpeg", "gif", "webp"]


@dataclass(frozen=True)
class Image:
    """Image bytes in a format Bedrock accepts."""

    # Kept out of repr so that logging an Image never dumps megabytes of bytes.
    data: bytes = field(repr=False)
    format: ImageFormat


def sniff_image_format(data: bytes) -> ImageFormat | None:
    """Return the image format `data` starts with, or None if it is none Bedrock accepts."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    # RIFF container: 4-byte tag, 4-byte little-endian size, then the form type.
    if len(data) >= 12 and data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp"
    return None
