"""Decode `data:` URLs (RFC 2397) into images."""

from __future__ import annotations

import binascii
from urllib.parse import unquote_to_bytes

from quarry.media._errors import MediaError
from quarry.media._sniff import Image, sniff_image_format

__all__ = ["DEFAULT_MAX_BYTES", "decode_data_url", "describe_size"]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
_WHITESPACE = b" \t\r\n\f\v"


def describe_size(n: int) -> str:
    """Render a byte count the way a caller reads a limit: "10 MiB" or "1500 bytes"."""
    return f"{n // (1024 * 1024)} MiB" if n and n % (1024 * 1024) == 0 else f"{n} bytes"


def decode_data_url(url: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Image:
    """Decode a `data:[<mediatype>][;base64],<data>` URL; the format is sniffed from the bytes, not the media type."""
    scheme, colon, rest = url.partition(":")
    if not colon or scheme.strip().lower() != "data":
        raise MediaError("image_url is not a data: URL")
    header, comma, payload = rest.partition(",")
    if not comma:
        raise MediaError("image_url data URL has no ',' between the media type and the data")
    # No honest encoding of max_bytes takes more than ~3x the characters (percent-encoding is the
    # worst case), so refuse before allocating for a decode of something absurdly large.
    if len(payload) > 4 * max_bytes:
        raise _too_large(max_bytes)
    raw = unquote_to_bytes(payload)
    data = _decode_base64(raw) if header.rpartition(";")[2].strip().lower() == "base64" else raw
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    image_format = sniff_image_format(data)
    if image_format is None:
        raise MediaError("image_url data URL does not contain a PNG, JPEG, GIF or WebP image")
    return Image(data=data, format=image_format)


def _decode_base64(raw: bytes) -> bytes:
    compact = raw.translate(None, _WHITESPACE)
    # Browsers accept unpadded base64, and so do we; strict mode still rejects stray characters.
    compact += b"=" * (-len(compact) % 4)
    try:
        return binascii.a2b_base64(compact, strict_mode=True)
    except binascii.Error:
        raise MediaError("image_url data URL is not valid base64") from None


def _too_large(max_bytes: int) -> MediaError:
    return MediaError(f"image_url data is larger than the {describe_size(max_bytes)} limit")
