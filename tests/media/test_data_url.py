"""data: URLs and format sniffing; the images here are shared with test_fetch."""

from __future__ import annotations

import base64
import struct
import zlib
from urllib.parse import quote_from_bytes

import pytest

from quarry.media import Image, MediaError, decode_data_url, sniff_image_format


def _png_1x1() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte, one red pixel
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


_VP8L = b"VP8L" + struct.pack("<I", 5) + b"\x2f\x00\x00\x00\x00\x00"  # 1x1 lossless bitstream, padded
IMAGES: dict[str, bytes] = {
    "png": _png_1x1(),
    "jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9",
    "gif": (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\x00\x00\x00\x00\x00"  # header, 2-colour palette
        b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # one 1x1 frame, trailer
    ),
    "webp": b"RIFF" + struct.pack("<I", 4 + len(_VP8L)) + b"WEBP" + _VP8L,
}


def b64_url(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        *((data, name) for name, data in IMAGES.items()),
        (b"GIF87a\x01\x00", "gif"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),  # RIFF, but audio
        (b"RIFF\x00\x00WEBP", None),  # truncated RIFF header: the form type is not at offset 8
        (b"\x89PNG\r\n", None),  # truncated signature
        (b"<html>", None),
        (b"", None),
    ],
)
def test_sniff(data: bytes, expected: str | None) -> None:
    assert sniff_image_format(data) == expected


@pytest.mark.parametrize("name", list(IMAGES))
def test_base64_images(name: str) -> None:
    assert decode_data_url(b64_url(IMAGES[name], f"image/{name}")) == Image(data=IMAGES[name], format=name)  # type: ignore[arg-type]


@pytest.mark.parametrize("media_type", ["image/jpeg", "text/plain", "", "IMAGE/PNG;charset=utf-8"])
def test_format_comes_from_the_bytes_not_the_declared_type(media_type: str) -> None:
    image = decode_data_url(b64_url(IMAGES["png"], media_type))
    assert image.format == "png"
    assert image.data == IMAGES["png"]


def test_base64_marker_is_case_insensitive_and_tolerates_whitespace_and_missing_padding() -> None:
    encoded = base64.b64encode(IMAGES["gif"]).decode().rstrip("=")
    wrapped = "\n".join(encoded[i : i + 16] for i in range(0, len(encoded), 16))
    assert decode_data_url(f"DATA:image/gif;BASE64,{wrapped}").data == IMAGES["gif"]


def test_percent_encoded_payload() -> None:
    url = "data:image/png," + quote_from_bytes(IMAGES["png"])
    assert "%" in url
    assert decode_data_url(url) == Image(data=IMAGES["png"], format="png")


def test_percent_encoded_base64_payload() -> None:
    encoded = base64.b64encode(IMAGES["png"]).decode()
    assert "+" in encoded or "/" in encoded or "=" in encoded
    url = "data:image/png;base64," + quote_from_bytes(encoded.encode(), safe="")
    assert decode_data_url(url).data == IMAGES["png"]


@pytest.mark.parametrize(
    "payload",
    ["iVBORw0KGgo*AAAA", "iVBORw0KGgo-_AA", "A", "iVBO=Rw0K", "====", "iVBORw0KGgo=AAAA"],
)
def test_invalid_base64(payload: str) -> None:
    with pytest.raises(MediaError, match=r"^image_url data URL is not valid base64$"):
        decode_data_url(f"data:image/png;base64,{payload}")


@pytest.mark.parametrize(
    "url",
    [b64_url(b"hello, world", "image/png"), "data:image/png,<svg></svg>", "data:image/svg+xml,<svg/>", "data:,"],
)
def test_not_an_image(url: str) -> None:
    with pytest.raises(MediaError, match=r"^image_url data URL does not contain a PNG, JPEG, GIF or WebP image$"):
        decode_data_url(url)


def test_size_cap_on_decoded_bytes() -> None:
    data = IMAGES["png"] + b"\x00" * 100
    assert decode_data_url(b64_url(data), max_bytes=len(data)).data == data  # exactly at the cap is fine
    with pytest.raises(MediaError, match=r"^image_url data is larger than the 100 bytes limit$"):
        decode_data_url(b64_url(data), max_bytes=100)


def test_default_cap_is_ten_mib() -> None:
    data = IMAGES["png"] + b"\x00" * (10 * 1024 * 1024 - len(IMAGES["png"]))
    assert len(decode_data_url(b64_url(data)).data) == 10 * 1024 * 1024
    with pytest.raises(MediaError, match=r"^image_url data is larger than the 10 MiB limit$"):
        decode_data_url(b64_url(data + b"\x00"))


def test_absurdly_long_payload_is_refused_before_decoding() -> None:
    # Not valid base64 either: if it were decoded first, the message would be about base64.
    with pytest.raises(MediaError, match=r"larger than the 10 bytes limit"):
        decode_data_url("data:image/png;base64," + "*" * 41, max_bytes=10)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://example.com/cat.png", "image_url is not a data: URL"),
        ("iVBORw0KGgo=", "image_url is not a data: URL"),
        ("data:image/png;base64", "image_url data URL has no ',' between the media type and the data"),
    ],
)
def test_malformed(url: str, message: str) -> None:
    with pytest.raises(MediaError) as caught:
        decode_data_url(url)
    assert str(caught.value) == message
