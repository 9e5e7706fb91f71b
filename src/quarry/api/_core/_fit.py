"""The last step before Converse: remove what the model would refuse, whichever dialect built the request."""

from __future__ import annotations

from quarry.api._core._cache import strip_cache_points
from quarry.bedrock import ConverseRequest, ResolvedModel

__all__ = ["fit_to_model"]


def fit_to_model(model: ResolvedModel, request: ConverseRequest) -> None:
    """No cache points where the model cannot cache; no system prompt where it takes none (the instructions then
    open the first user turn); empty sections dropped."""
    if model.facts.known and not model.facts.caches_prompts:
        strip_cache_points(request)
    system = request.get("system")
    if system and model.facts.known and not model.facts.has("system"):
        text = "\n\n".join(b["text"] for b in system if "text" in b)
        request["messages"][0]["content"].insert(0, {"text": text})
        request["system"] = []
    for key in ("system", "inferenceConfig", "additionalModelRequestFields"):
        if key in request and not request[key]:
            del request[key]
