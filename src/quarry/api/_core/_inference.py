"""Sampling and output limits: which inference parameters a model takes, for Converse and for Claude's Messages
body alike."""

from __future__ import annotations

from quarry.api._core._output import output_limit
from quarry.api._core._thinking import thinking_on
from quarry.bedrock import Document, InferenceConfiguration, MessagesBody, ModelFacts, ResolvedModel

__all__ = ["inference_config", "messages_sampling", "top_k_fields"]

_MAX_TEMPERATURE = 1.0  # OpenAI's scale goes to 2; the models on Bedrock stop at 1


def inference_config(
    model: ResolvedModel,
    *,
    max_tokens: int | None,
    temperature: float | None = None,
    top_p: float | None = None,
    stop: list[str] | None = None,
) -> InferenceConfiguration:
    """Converse's inferenceConfig; `max_tokens` falls back to the model's output limit."""
    config: InferenceConfiguration = {}
    limit = output_limit(model, max_tokens)
    if limit:
        config["maxTokens"] = limit
    if temperature is not None:
        config["temperature"] = min(temperature, _MAX_TEMPERATURE)
    if top_p is not None and not (temperature is not None and model.facts.temperature_excludes_top_p):
        config["topP"] = top_p
    if stop:
        config["stopSequences"] = stop
    return config


def top_k_fields(model: ResolvedModel, top_k: int, fields: Document) -> None:
    """top_k in `additionalModelRequestFields` where the model takes it (Nova nests it; Llama has none)."""
    if model.base_id.startswith("amazon.nova"):
        fields.setdefault("inferenceConfig", {})["topK"] = top_k
    elif not model.base_id.startswith("meta."):
        fields["top_k"] = top_k


def messages_sampling(facts: ModelFacts, body: MessagesBody) -> None:
    """Claude's Messages body: no sampling parameters while it thinks, and not temperature with top_p where the
    model takes only one."""
    if thinking_on(body.get("thinking")):
        for key in ("temperature", "top_p", "top_k"):
            body.pop(key, None)  # type: ignore[misc]  # optional keys of a total=False shape
    elif "temperature" in body and facts.temperature_excludes_top_p:
        body.pop("top_p", None)
