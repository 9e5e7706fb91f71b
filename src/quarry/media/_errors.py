"""The one exception media handling raises."""

from __future__ import annotations

__all__ = ["MediaError"]


class MediaError(Exception):
    """An image reference could not be turned into image bytes; `str()` is fit to show the API caller."""
