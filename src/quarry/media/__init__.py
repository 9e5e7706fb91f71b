"""Turn image references from API callers (http(s) and data: URLs) into image bytes Bedrock accepts."""

from quarry.media._data_url import decode_data_url
from quarry.media._errors import MediaError
from quarry.media._fetch import FetchPolicy, ImageFetcher
from quarry.media._sniff import Image, ImageFormat, sniff_image_format

__all__ = [
    "FetchPolicy",
    "Image",
    "ImageFetcher",
    "ImageFormat",
    "MediaError",
    "decode_data_url",
    "sniff_image_format",
]
