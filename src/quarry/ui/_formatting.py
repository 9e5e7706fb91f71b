"""Parsing the Formatter's output as JSON or YAML, and checking it against an optional JSON Schema."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import yaml

__all__ = ["FormatProblem", "NoStructure", "check_document", "load_schema"]

_FENCE = re.compile(r"^\s*```[\w-]*\n(.*?)\n?```\s*$", re.DOTALL)


class FormatProblem(ValueError):
    """The document is not valid (the message says why, to hand to the repair call)."""


class NoStructure(FormatProblem):
    """The answer holds no structure: a bare string, number or null where a mapping or list was asked for. No repair
    is tried: a model pressed to find structure in text that has none would invent it."""


def load_schema(text: str) -> dict[str, Any] | None:
    """The JSON Schema typed by the user, or None when blank; FormatProblem when it is no valid schema."""
    if not text.strip():
        return None
    try:
        schema = json.loads(text)
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except (ValueError, jsonschema.SchemaError) as exc:
        raise FormatProblem(f"The JSON Schema is invalid: {str(exc).splitlines()[0]}") from None
    if not isinstance(schema, dict):
        raise FormatProblem("The JSON Schema must be a JSON object.")
    return schema


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true or false"
    return "number" if isinstance(value, int | float) else "string"


def check_document(text: str, target: str, schema: dict[str, Any] | None) -> str:
    """The document, normalised (pretty JSON or block YAML); FormatProblem saying what is wrong."""
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text
    try:
        value = json.loads(body) if target == "JSON" else yaml.safe_load(body)
    except (ValueError, yaml.YAMLError) as exc:
        raise FormatProblem(f"not valid {target}: {str(exc).splitlines()[0]}") from None
    if schema is None and not isinstance(value, dict | list):  # with a schema, the schema says what is wanted
        kind = "nothing (null)" if value is None else f"a bare {_kind(value)}"
        raise NoStructure(
            f"the answer is {kind}, not a {target} {'object or array' if target == 'JSON' else 'mapping or list'}"
        )
    if schema is not None:
        errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "the document"
            raise FormatProblem(f"it does not satisfy the schema at {where}: {errors[0].message}")
    if target == "JSON":
        return json.dumps(value, ensure_ascii=False, indent=2)
    dumped: str = yaml.safe_dump(value, allow_unicode=True, sort_keys=False)
    return dumped
