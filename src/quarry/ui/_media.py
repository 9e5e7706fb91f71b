"""Attachments: images read from uploads with their real media type, and images materialised for display."""

from __future__ import annotations

import base64
import hashlib
import tempfile
from pathlib import Path
from typing import Any

from quarry.media import sniff_image_format

__all__ = ["image_part", "image_paths", "media_dir"]


def media_dir() -> Path:
    """Where stored images are written for the page to show (inside the temp dir Gradio may serve)."""
    path = Path(tempfile.gettempdir()) / "quarry-ui"
    path.mkdir(exist_ok=True)
    return path


def image_part(path: str) -> dict[str, Any]:
    """An OpenAI `image_url` part for an uploaded file, typed by its bytes (not its name); ValueError otherwise."""
    data = Path(path).read_bytes()
    kind = sniff_image_format(data)
    if kind is None:
        raise ValueError(f"{Path(path).name} is not a JPEG, PNG, GIF or WebP image.")
    url = f"data:image/{kind};base64,{base64.b64encode(data).decode()}"
    return {"type": "image_url", "image_url": {"url": url}}


def image_paths(content: str | list[dict[str, Any]]) -> list[str]:
    """Files showing a stored message's images (data URLs written once, named by their hash)."""
    if isinstance(content, str):
        return []
    paths = []
    for part in content:
        if part.get("type") != "image_url":
            continue
        url: str = part.get("image_url", {}).get("url", "")
        header, _, payload = url.partition(",")
        if not header.startswith("data:image/") or not payload:
            continue
        kind = header.removeprefix("data:image/").split(";")[0]
        target = media_dir() / f"{hashlib.sha256(payload.encode()).hexdigest()[:32]}.{kind}"
        if not target.exists():
            target.write_bytes(base64.b64decode(payload))
        paths.append(str(target))
    return paths
