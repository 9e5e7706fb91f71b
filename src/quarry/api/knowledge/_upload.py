"""Reading a multipart upload of documents with bounds counted while the body arrives: its total size
(`kb.max_upload_total_bytes`) and each file's (`kb.max_upload_bytes`). The body never reaches the JSON reader, so
`max_body_bytes` does not apply to it: these do, before more than a chunk past either limit is read or spooled."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import orjson
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from quarry.errors import InvalidRequest, PayloadTooLarge
from quarry.kb import SourceFile

__all__ = ["MAX_FILES", "read_tags", "read_uploads"]

MAX_FILES = 1000


class _TooLarge(MultiPartException):
    # A MultiPartException, so that the parser closes the files spooled so far before it gives up.
    def __init__(self, error: PayloadTooLarge) -> None:
        super().__init__(error.message)
        self.error = error


def _body_too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The upload is larger than {limit} bytes, the limit for one upload request "
        "(kb.max_upload_total_bytes, QUARRY_KB__MAX_UPLOAD_TOTAL_BYTES).",
    )


def _file_too_large(name: str, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{name} is larger than {limit} bytes, the limit for one file (kb.max_upload_bytes, "
        "QUARRY_KB__MAX_UPLOAD_BYTES).",
        param="file",
    )


class _BoundedParser(MultiPartParser):
    """Starlette's parser, counting each file part's bytes as they are parsed."""

    def __init__(self, request: Request, stream: AsyncGenerator[bytes, None], max_file_bytes: int) -> None:
        super().__init__(request.headers, stream, max_files=MAX_FILES)
        self._max_file_bytes = max_file_bytes
        self._file_bytes = 0

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._file_bytes = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        super().on_part_data(data, start, end)
        file = self._current_part.file
        if file is not None:
            self._file_bytes += end - start
            if self._file_bytes > self._max_file_bytes:
                raise _TooLarge(_file_too_large(file.filename or "a file", self._max_file_bytes))


async def _counted(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:  # refused before a byte is read
        raise _TooLarge(_body_too_large(limit))
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:  # a chunked body or a false Content-Length: counted as it comes
            raise _TooLarge(_body_too_large(limit))
        yield chunk


async def _form(request: Request, max_file_bytes: int, max_total_bytes: int) -> FormData:
    parser = _BoundedParser(request, _counted(request, max_total_bytes), max_file_bytes)
    try:
        return await parser.parse()
    except _TooLarge as exc:
        raise exc.error from None
    except MultiPartException as exc:
        raise InvalidRequest(f"The multipart body cannot be read: {exc.message}", param="file") from None


def read_tags(value: str | UploadFile) -> list[str]:
    """One `tags` field: a JSON list of strings (`["hr", "policy"]`) or a comma-separated string (`hr, policy`);
    blanks left out. Anything else is a 400 naming `tags`."""
    if not isinstance(value, str):
        raise InvalidRequest("`tags` must be a text field, not a file.", param="tags")
    text = value.strip()
    if not text.startswith("["):
        return [tag.strip() for tag in text.split(",") if tag.strip()]
    try:
        listed = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            '`tags` starts like a JSON list but is not one: send ["a", "b"] or a comma-separated string.',
            param="tags",
        ) from None
    if not isinstance(listed, list) or not all(isinstance(tag, str) for tag in listed):
        raise InvalidRequest("`tags` as JSON must be a list of strings.", param="tags")
    return [tag.strip() for tag in listed if tag.strip()]


async def read_uploads(request: Request, *, max_file_bytes: int, max_total_bytes: int) -> tuple[list[SourceFile], bool]:
    """The files of a multipart upload (with their `tags` and `metadata`) and whether progress is to be streamed."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest("Upload documents as multipart/form-data with one or more `file` parts.")
    form = await _form(request, max_file_bytes, max_total_bytes)
    try:
        tags = tuple(tag for value in form.getlist("tags") for tag in read_tags(value))
        raw_metadata = form.get("metadata")
        metadata: Any = orjson.loads(raw_metadata) if isinstance(raw_metadata, str) and raw_metadata else {}
        if not isinstance(metadata, dict):
            raise InvalidRequest("`metadata` must be a JSON object.", param="metadata")
        files: list[SourceFile] = []
        for part in [*form.getlist("file"), *form.getlist("files")]:
            if not isinstance(part, UploadFile) or not part.filename:
                raise InvalidRequest("Each `file` part must be a file with a file name.", param="file")
            data = await part.read()
            name = part.filename.replace("\\", "/").rsplit("/", 1)[-1]
            files.append(
                SourceFile(source=name, name=name, data=data, tags=tuple(dict.fromkeys(tags)), metadata=metadata)
            )
    except orjson.JSONDecodeError:
        raise InvalidRequest("`metadata` is not valid JSON.", param="metadata") from None
    finally:
        await form.close()
    if not files:
        raise InvalidRequest("No files: send one or more `file` parts.", param="file")
    return files, request.query_params.get("stream", "").lower() in ("1", "true")
