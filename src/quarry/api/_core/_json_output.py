"""JSON answers: OpenAI's `json_object` / `json_schema` formats (chat's `response_format`, Responses' `text.format`)
as Converse asks for them, and the JSON read back out of a text answer.

By what the model can do, best first: Bedrock's structured output (constrained decoding: the JSON is guaranteed), a
forced tool whose input is the answer, or, for models with neither, an instruction and a check of the text.
"""

from __future__ import annotations

import re
from typing import Literal

import orjson

from quarry.api._core._tools import tool_spec
from quarry.bedrock import ConverseRequest, Document, JsonSchemaDefinition, ResolvedModel
from quarry.errors import InvalidRequest, UpstreamError

__all__ = ["JsonOutput", "extract_json", "json_output"]

_TOOL_NAME = re.compile(r"[^a-zA-Z0-9_-]")
_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")

JsonOutput = tuple[str | None, bool]
"""(the tool whose input is the answer, or None; whether the answer's text must be checked as JSON)."""


def json_output(
    body: ConverseRequest,
    model: ResolvedModel,
    kind: Literal["json_object", "json_schema"],
    *,
    schema: Document | None = None,
    name: str | None = None,
    description: str | None = None,
    schema_field: str,
    param: str | None = None,
) -> JsonOutput:
    """Ask for a JSON answer on a Converse request; a json_schema format without a schema is refused naming
    `schema_field`, the caller's name for it, with `param` (default: that field) as the error's parameter."""
    tool_name, tool_description = "json_response", "Give the answer as this tool's input."
    chosen: Document = {"type": "object"}
    if kind == "json_schema":
        if not schema:
            raise InvalidRequest(f"{schema_field} is required for json_schema.", param=param or schema_field)
        chosen = schema
        tool_name = _TOOL_NAME.sub("_", name or "")[:64] or tool_name
        tool_description = description or tool_description
    # A model that refuses a forced tool (Opus 5.5, Sonnet 5.5, Fable 5.1: docs/bedrock-models-2026.md §1.4) gets
    # structured output even for json_object, a plain object schema: the answer tool is not an option there.
    forced_tool = model.facts.has("tools") and not model.facts.refuses_forced_tool_choice
    if (kind == "json_schema" or not forced_tool) and model.facts.structured_output:
        definition: JsonSchemaDefinition = {
            "schema": orjson.dumps(chosen).decode(),
            "name": tool_name,
            "description": tool_description,
        }
        body["outputConfig"] = {"textFormat": {"type": "json_schema", "structure": {"jsonSchema": definition}}}
        return None, False  # Bedrock's constrained decoding guarantees the JSON
    if forced_tool:
        config = body.setdefault("toolConfig", {"tools": []})
        config["tools"].append(tool_spec(tool_name, tool_description, chosen))
        config["toolChoice"] = {"any": {}} if len(config["tools"]) > 1 else {"tool": {"name": tool_name}}
        return tool_name, False
    hint = f" It must match this JSON schema: {orjson.dumps(chosen).decode()}" if kind == "json_schema" else ""
    body.setdefault("system", []).append(
        {"text": "Reply with one JSON object and nothing else: no prose, no code fence." + hint}
    )
    return None, True


def extract_json(text: str) -> str:
    """The JSON object in a model's text answer, or an UpstreamError: never invalid JSON passed off as valid."""
    candidates = [_FENCE.sub("", text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            orjson.loads(candidate)
        except orjson.JSONDecodeError:
            continue
        return candidate.strip()
    raise UpstreamError("The model did not answer with valid JSON; try again or use a model with tool use.")
