"""Sampling parameters a model refuses: Claude 4.7 and later take `temperature`, `top_p` and `top_k` only at their
defaults ("models that already accept only default values (for example Claude 4.7 and later models)", Anthropic's
2026-10-21 migration guide; docs/bedrock-models-2026.md §1.4), and Bedrock answers any other value with a 400.

Most OpenAI clients send `temperature` unasked (LangChain's ChatOpenAI among them), so by default the parameters are
dropped and the dialect names them to the caller (the OpenAI dialect in `x-quarry-dropped-params`); an operator who
wants callers told instead sets `models.strict_parameters`, and a value other than the default is then a 400 naming
it. The names are the callers' in both dialects (`temperature`, `top_p`, `top_k`).
"""

from __future__ import annotations

from collections.abc import MutableMapping

from quarry.bedrock import ConverseRequest, ModelFacts, ResolvedModel
from quarry.errors import InvalidRequest

__all__ = ["DROPPED_PARAMS_HEADER", "SAMPLING_PARAMS", "converse_sampling", "strip_sampling"]

DROPPED_PARAMS_HEADER = "x-quarry-dropped-params"
SAMPLING_PARAMS = ("temperature", "top_p", "top_k")
# The values the models sample at when the parameters are left out (temperature 1.0: Anthropic's API reference;
# top_p 1.0 is no nucleus cut). top_k has no value that means "off", so any top_k is a change.
_DEFAULTS: dict[str, float] = {"temperature": 1.0, "top_p": 1.0}
# Where Converse carries them: inferenceConfig's own names, top_k among the model's own fields.
_CONVERSE_NAMES = {"temperature": "temperature", "top_p": "topP"}


def strip_sampling(facts: ModelFacts, params: MutableMapping[str, object], *, strict: bool) -> list[str]:
    """Remove the sampling parameters `facts` refuses from `params` (a Messages body, or any mapping under the
    callers' names) and return their names; with `strict`, a value other than the default is an InvalidRequest
    naming every such parameter instead."""
    if not facts.sampling_default_only:
        return []
    present = [name for name in SAMPLING_PARAMS if params.get(name) is not None]
    if strict:
        changed = [name for name in present if params[name] != _DEFAULTS.get(name)]
        if changed:
            names = ", ".join(f"`{name}`" for name in changed)
            raise InvalidRequest(
                f"This model takes no sampling parameters but their defaults; remove {names} "
                "(this server refuses them rather than dropping them: models.strict_parameters).",
                param=changed[0],
                code="unsupported_parameter",
            )
    for name in present:
        del params[name]
    return present


def converse_sampling(model: ResolvedModel, request: ConverseRequest, *, strict: bool) -> list[str]:
    """`strip_sampling` on a Converse request (inferenceConfig's temperature and topP, the model's top_k)."""
    if not model.facts.sampling_default_only:
        return []
    config = request.get("inferenceConfig", {})
    fields = request.get("additionalModelRequestFields", {})
    params: dict[str, object] = {name: config.get(key) for name, key in _CONVERSE_NAMES.items()}
    params["top_k"] = fields.get("top_k")
    dropped = strip_sampling(model.facts, params, strict=strict)
    for name in dropped:
        if name in _CONVERSE_NAMES:
            config.pop(_CONVERSE_NAMES[name], None)  # type: ignore[misc]  # optional keys of a total=False shape
        else:
            fields.pop(name, None)
    return dropped
