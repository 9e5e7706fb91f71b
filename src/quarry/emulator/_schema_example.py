"""A value that satisfies a JSON schema: the emulator's tool inputs and structured outputs."""

from __future__ import annotations

from typing import Any

__all__ = ["example_for"]

_FORMATS = {
    "date": "2024-01-01",
    "date-time": "2024-01-01T00:00:00Z",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    node: Any = root
    for part in ref[2:].split("/"):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def example_for(schema: dict[str, Any], hint: str = "example", *, root: dict[str, Any] | None = None) -> Any:
    """A deterministic instance of `schema`; strings without constraints take `hint` (the user's words)."""
    root = root or schema
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            non_null = [o for o in options if isinstance(o, dict) and o.get("type") != "null"]
            return example_for(non_null[0] if non_null else options[0], hint, root=root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        properties: dict[str, Any] = schema.get("properties") or {}
        value = {name: example_for(sub, _hint_for(name, hint), root=root) for name, sub in properties.items()}
        for name in schema.get("required") or ():  # required but undeclared: whatever `additionalProperties` allows
            extra = schema.get("additionalProperties")
            if name not in value:
                value[name] = example_for(extra if isinstance(extra, dict) else {}, _hint_for(name, hint), root=root)
        return value
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        if "maxItems" in schema:
            count = min(count, int(schema["maxItems"]))
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        return [example_for(items or {"type": "string"}, hint, root=root) for _ in range(count)]
    if kind == "integer":
        return int(_number(schema, 1, 1))
    if kind == "number":
        return float(_number(schema, 1.5, 0.5))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "string" or kind is None:
        if schema.get("format") in _FORMATS:
            return _FORMATS[schema["format"]]
        text = hint
        min_length, max_length = int(schema.get("minLength", 0)), schema.get("maxLength")
        text = text.ljust(min_length, "x")
        return text[: int(max_length)] if max_length is not None else text
    return None


def _number(schema: dict[str, Any], usual: float, step: float) -> float:
    """A number within the schema's bounds: its minimum, else `usual` pulled under any maximum."""
    if "minimum" in schema:
        return float(schema["minimum"])
    if "exclusiveMinimum" in schema:
        return float(schema["exclusiveMinimum"]) + step
    if "maximum" in schema:
        return min(usual, float(schema["maximum"]))
    if "exclusiveMaximum" in schema:
        return min(usual, float(schema["exclusiveMaximum"]) - step)
    return usual


def _hint_for(name: str, hint: str) -> str:
    return hint if name.lower() in {"query", "q", "location", "city", "text", "input", "prompt", "question"} else name
