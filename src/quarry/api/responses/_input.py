"""Responses input items → a Converse history (https://platform.openai.com/docs/api-reference/responses/create#input).

Messages (`user`, `assistant`, and `system`/`developer` into the system prompt) with `input_text`, `input_image` and
`input_file` parts; `function_call` and `function_call_output`; `reasoning` items whose sealed content carries
Claude's signed thinking back onto its turn. Every item is checked here: a wrong type is a 400 naming its field."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import orjson

from quarry.api._core import ConverseHistory, ImageLoader, Media, normalise, redacted_reasoning, signed_reasoning
from quarry.bedrock import ContentBlock, Document, Role, ToolResultContentBlock
from quarry.errors import InvalidRequest

__all__ = ["Items", "OpenSealed", "to_converse"]

Items = list[dict[str, Any]]
OpenSealed = Callable[[object, str], dict[str, Any]]  # encrypted_content, where → its content (or a 400)
_TEXT_PARTS = ("input_text", "output_text", "text")
_KINDS: dict[type, str] = {str: "a string", dict: "an object", list: "an array"}


def _field(item: dict[str, Any], key: str, kind: type, where: str, *, required: bool = True) -> Any:
    value = item.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        name = _KINDS[kind]
        raise InvalidRequest(f"Invalid value for `{where}.{key}`: must be {name}.", param=f"{where}.{key}")
    return value


def _data_url(url: str, where: str) -> tuple[str, str]:
    """(media type, base64 data) of a `data:` URL."""
    head, comma, data = url.partition(",")
    if not url.startswith("data:") or not comma or ";base64" not in head:
        raise InvalidRequest(f"`{where}` must be a base64 data URL (data:<type>;base64,…).", param=where)
    return head.removeprefix("data:").split(";")[0].lower(), data


def _file(part: dict[str, Any], where: str, media: Media) -> ContentBlock:
    data = _field(part, "file_data", str, where, required=False)
    if data is None:
        named = "file_id" if part.get("file_id") else "file_url" if part.get("file_url") else "file_data"
        raise InvalidRequest(
            f"`{where}.{named}`: Quarry reads files given inline as `file_data` (a base64 data URL of a PDF or "
            "text file); it has no Files API and does not fetch files by URL.",
            param=f"{where}.{named}",
            code="unsupported_value",
        )
    filename = _field(part, "filename", str, where, required=False)
    media_type, encoded = _data_url(data, f"{where}.file_data") if data.startswith("data:") else ("", data)
    if not media_type:
        media_type = "application/pdf" if (filename or "").lower().endswith(".pdf") else "text/plain"
    title = (filename or "").rsplit(".", 1)[0]
    if media_type == "application/pdf":
        source: dict[str, Any] = {"type": "base64", "media_type": media_type, "data": encoded}
    elif media_type.startswith("text/") or media_type in ("application/json", "application/xml"):
        try:
            text = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidRequest(f"`{where}.file_data` is not base64 UTF-8 text.", param=f"{where}.file_data") from None
        source = {"type": "text", "data": text}
    else:
        raise InvalidRequest(
            f"`{where}.file_data`: files of type `{media_type}` are not supported; send a PDF or a text file.",
            param=f"{where}.file_data",
            code="unsupported_value",
        )
    return {"document": media.document(title, source, where)}


def _parts(content: object, where: str, media: Media, *, user: bool) -> list[ContentBlock]:
    if isinstance(content, str):
        return [{"text": content}] if content.strip() else []
    if not isinstance(content, list):
        raise InvalidRequest(f"Invalid value for `{where}`: must be a string or an array.", param=where)
    blocks: list[ContentBlock] = []
    for n, part in enumerate(content):
        at = f"{where}[{n}]"
        if not isinstance(part, dict):
            raise InvalidRequest(f"Invalid value for `{at}`: must be an object.", param=at)
        kind = _field(part, "type", str, at)
        if kind in _TEXT_PARTS:
            text = _field(part, "text", str, at)
            if text.strip():
                blocks.append({"text": text})
        elif kind == "refusal":
            blocks.append({"text": _field(part, "refusal", str, at)})
        elif kind == "input_image" and user:
            url = _field(part, "image_url", str, at, required=False)
            if url is None:
                raise InvalidRequest(
                    f"`{at}.image_url` is required: Quarry has no Files API for `file_id`.", param=f"{at}.image_url"
                )
            blocks.append({"image": media.image_url(url)})
        elif kind == "input_file" and user:
            blocks.append(_file(part, at, media))
        else:
            raise InvalidRequest(f"`{at}.type`: content parts of type `{kind}` are not supported here.", param=at)
    return blocks


def _arguments(raw: object) -> Document:
    # Clients replay whatever the model produced; a broken argument string must not break the history.
    if not isinstance(raw, str) or not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return {"arguments": raw}
    return value if isinstance(value, dict) else {"arguments": value}


def _output(item: dict[str, Any], where: str, media: Media) -> list[ToolResultContentBlock]:
    """A function's output: a string, or input_text, input_image and input_file parts (as tool results take them)."""
    output = item.get("output")
    if isinstance(output, str):
        return [{"text": output or "(empty)"}]
    if not isinstance(output, list):
        raise InvalidRequest(
            f"Invalid value for `{where}.output`: must be a string or an array.", param=f"{where}.output"
        )
    blocks: list[ToolResultContentBlock] = []
    for block in _parts(output, f"{where}.output", media, user=True):
        if "text" in block:
            blocks.append({"text": block["text"]})
        elif "image" in block:
            blocks.append({"image": block["image"]})
        elif "document" in block:
            blocks.append({"document": block["document"]})
    return blocks or [{"text": "(empty)"}]


def _reasoning(item: dict[str, Any], where: str, open_sealed: OpenSealed) -> list[ContentBlock]:
    sealed = item.get("encrypted_content")
    if sealed is None:
        # Without its signature Claude's thinking cannot go back; the core turns thinking off for the turn if needed.
        return []
    content = open_sealed(sealed, f"{where}.encrypted_content")
    if isinstance(content.get("r"), str):
        return [redacted_reasoning(content["r"])]
    if isinstance(content.get("t"), str) and isinstance(content.get("s"), str) and content["s"]:
        return [signed_reasoning(content["t"], content["s"])]
    return []


def tool_name(name: str, namespace: object) -> str:
    """A namespaced function's name as the model knows it (namespace tools are flattened into their functions)."""
    return f"{namespace}__{name}" if isinstance(namespace, str) and namespace else name


async def to_converse(
    items: Items, instructions: str | None, load: ImageLoader, open_sealed: OpenSealed, *, first: int = 0
) -> ConverseHistory:
    """Translate and normalise; raises InvalidRequest naming the item at fault (`input[n]`, counted from `first`)."""
    history = ConverseHistory()
    if instructions and instructions.strip():
        history.system.append({"text": instructions})
    media = Media(load)
    turns: list[tuple[Role, list[ContentBlock]]] = []
    for n, item in enumerate(items):
        where = f"input[{n - first}]" if n >= first else "previous_response_id"
        if not isinstance(item, dict):
            raise InvalidRequest(f"Invalid value for `{where}`: must be an object.", param=where)
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role in ("system", "developer"):
                texts = _parts(item.get("content"), f"{where}.content", media, user=False)
                history.system.extend({"text": b["text"]} for b in texts if "text" in b)
            elif role in ("user", "assistant"):
                blocks = _parts(item.get("content"), f"{where}.content", media, user=role == "user")
                if blocks:
                    turns.append((role, blocks))
            else:
                raise InvalidRequest(
                    f"Invalid value for `{where}.role`: must be user, assistant, system or developer.",
                    param=f"{where}.role",
                )
        elif kind == "function_call":
            call_id = _field(item, "call_id", str, where)
            name = tool_name(_field(item, "name", str, where), item.get("namespace"))
            use: ContentBlock = {
                "toolUse": {"toolUseId": call_id, "name": name, "input": _arguments(item.get("arguments"))}
            }
            turns.append(("assistant", [use]))
        elif kind == "function_call_output":
            call_id = _field(item, "call_id", str, where)
            turns.append(("user", [{"toolResult": {"toolUseId": call_id, "content": _output(item, where, media)}}]))
        elif kind == "reasoning":
            blocks = _reasoning(item, where, open_sealed)
            if blocks:
                turns.append(("assistant", blocks))
        elif kind == "item_reference":
            continue  # items by reference need a stored response: previous_response_id carries them instead
        elif kind == "file_search_call":
            continue  # Quarry's own search: its passages served that turn, whose answer follows in the history
        else:
            raise InvalidRequest(
                f"`{where}.type`: input items of type `{kind}` are not supported; Quarry takes message, "
                "function_call, function_call_output and reasoning items.",
                param=f"{where}.type",
                code="unsupported_value",
            )
    await media.resolve()
    history.messages = normalise(turns)
    if not history.messages:
        raise InvalidRequest("input must contain at least one non-empty user message.", param="input")
    return history
