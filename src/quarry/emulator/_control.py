"""The Bedrock control plane the gateway needs: foundation models and inference profiles."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs

from quarry.emulator._catalog import Catalog
from quarry.emulator._errors import ValidationException

__all__ = ["get_foundation_model", "get_inference_profile", "list_foundation_models", "list_inference_profiles"]

_ENUMS = {
    "byOutputModality": ("TEXT", "IMAGE", "EMBEDDING"),
    "byInferenceType": ("ON_DEMAND", "PROVISIONED"),
    "byCustomizationType": ("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION"),
    "type": ("SYSTEM_DEFINED", "APPLICATION"),
}


def _query(raw: bytes) -> dict[str, str]:
    parsed = parse_qs(raw.decode("latin-1"), keep_blank_values=True)
    query = {key: values[-1] for key, values in parsed.items()}
    for key, allowed in _ENUMS.items():
        if key in query and query[key] not in allowed:
            raise ValidationException(
                f"1 validation error detected: Value '{query[key]}' at '{key}' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(allowed)}]"
            )
    return query


def list_foundation_models(catalog: Catalog, region: str, raw_query: bytes) -> dict[str, Any]:
    query = _query(raw_query)
    provider = query.get("byProvider", "").lower()
    models = [
        m for m in catalog.models.values()
        if (not provider or m.provider.lower() == provider or m.family == provider)
        and ("byOutputModality" not in query or query["byOutputModality"] in m.output_modalities)
        and ("byInferenceType" not in query or query["byInferenceType"] in m.inference_types)
        and ("byCustomizationType" not in query or query["byCustomizationType"] in m.customizations)
    ]  # fmt: skip
    return {"modelSummaries": [m.summary(region) for m in models]}


def get_foundation_model(catalog: Catalog, region: str, identifier: str) -> dict[str, Any]:
    return {"modelDetails": catalog.foundation_model(identifier).summary(region)}


def list_inference_profiles(catalog: Catalog, region: str, raw_query: bytes) -> dict[str, Any]:
    query = _query(raw_query)
    profiles = [] if query.get("type") == "APPLICATION" else catalog.profiles(region)
    try:
        start = int(base64.b64decode(query["nextToken"]).decode()) if "nextToken" in query else 0
        size = int(query.get("maxResults", 1000))
    except ValueError:
        raise ValidationException("The pagination token or maxResults is invalid.") from None
    if not 1 <= size <= 1000:
        raise ValidationException(
            f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy constraint: "
            "Member must have value between 1 and 1000"
        )
    page = profiles[start : start + size]
    response: dict[str, Any] = {"inferenceProfileSummaries": [p.summary(region) for p in page]}
    if start + size < len(profiles):
        response["nextToken"] = base64.b64encode(str(start + size).encode()).decode()
    return response


def get_inference_profile(catalog: Catalog, region: str, identifier: str) -> dict[str, Any]:
    return catalog.profile(identifier, region).summary(region)
