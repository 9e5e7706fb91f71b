"""The emulated model catalog: foundation models, cross-region inference profiles, and id resolution.

The data lives in `catalog.json` beside this module and is read when an emulator app is created.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import unquote

from quarry.emulator._errors import ResourceNotFoundException, ValidationException

__all__ = ["ACCOUNT_ID", "Catalog", "ClaudeRules", "InferenceProfile", "Model", "Resolved"]

ACCOUNT_ID = "123456789012"
_CREATED = datetime(2024, 8, 1, tzinfo=UTC).isoformat()

# Regions each geography's system-defined inference profiles route to, and who may call them.
_GEOGRAPHY_REGIONS: dict[str, tuple[str, ...]] = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1"),
    "apac": ("ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "us-gov": ("us-gov-west-1", "us-gov-east-1"),
    "global": ("us-east-1", "us-east-2", "us-west-2", "eu-west-1", "ap-northeast-1"),
}
_GEOGRAPHY_NAMES = {
    "us": "US",
    "eu": "EU",
    "apac": "APAC",
    "au": "AU",
    "jp": "JP",
    "us-gov": "US-GOV",
    "global": "Global",
}


def _geography_serves(geography: str, region: str) -> bool:
    if geography == "global":
        return not region.startswith(("us-gov-", "cn-"))
    if geography == "us-gov":
        return region.startswith("us-gov-")
    if geography == "us":
        return region.startswith("us-") and not region.startswith("us-gov-")
    if geography == "apac":
        return region.startswith("ap-")
    return region in _GEOGRAPHY_REGIONS[geography] or (geography == "eu" and region.startswith("eu-"))


@dataclass(frozen=True, slots=True)
class ClaudeRules:
    """What a Claude model takes, as Bedrock enforces it (the `claude` object of a catalog entry; sources in
    docs/bedrock-models-2026.md). Models without the object keep the rules of the Claude models before 4.6."""

    thinking: tuple[str, ...] = ("enabled", "disabled")  # the `thinking.type` values accepted
    thinking_default: str | None = None  # the thinking a request gets when it says nothing: None = none
    effort: tuple[str, ...] = ()  # `output_config.effort` levels; () = no effort parameter
    effort_default: str | None = None
    disabled_max_effort: str | None = None  # with thinking disabled, effort may be at most this
    between_tools_max_effort: str | None = None  # likewise for `thinking: {type: between_tools}`
    sampling_default_only: bool = False  # temperature/top_p/top_k refused unless at their defaults
    prefill: bool = True  # a conversation may end with an assistant message
    forced_tool_choice: bool = True  # tool_choice `any` / `tool` accepted
    system_messages: bool = False  # `role: system` messages inside `messages`
    min_cache_tokens: int = 0  # the shortest prefix a cache checkpoint caches (0: any, as before the rules)
    api_versions: tuple[str, ...] = ("2023-06-01",)  # `anthropic-version` values on the Messages endpoint
    messages_api: bool = False  # served on `/anthropic/v1/messages`

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClaudeRules:
        return cls(
            thinking=tuple(data.get("thinking", ("enabled", "disabled"))),
            thinking_default=data.get("thinkingDefault"),
            effort=tuple(data.get("effort", ())),
            effort_default=data.get("effortDefault"),
            disabled_max_effort=data.get("disabledMaxEffort"),
            between_tools_max_effort=data.get("betweenToolsMaxEffort"),
            sampling_default_only=bool(data.get("samplingDefaultOnly", False)),
            prefill=bool(data.get("prefill", True)),
            forced_tool_choice=bool(data.get("forcedToolChoice", True)),
            system_messages=bool(data.get("systemMessages", False)),
            min_cache_tokens=int(data.get("minCacheTokens", 1024)),
            api_versions=tuple(data.get("apiVersions", ("2023-06-01",))),
            messages_api=bool(data.get("messagesApi", False)),
        )


@dataclass(frozen=True, slots=True)
class Model:
    """One foundation model and what it can do."""

    model_id: str
    name: str
    provider: str
    input_modalities: tuple[str, ...]
    output_modalities: tuple[str, ...]
    streaming: bool
    inference_types: tuple[str, ...]
    customizations: tuple[str, ...]
    lifecycle: str
    context_window: int
    max_output_tokens: int
    features: frozenset[str]
    geographies: tuple[str, ...]
    embedding_dimensions: tuple[int, ...] = ()
    max_input_tokens: int = 0
    claude: ClaudeRules = ClaudeRules()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Model:
        return cls(
            model_id=data["modelId"],
            name=data["modelName"],
            provider=data["providerName"],
            input_modalities=tuple(data["inputModalities"]),
            output_modalities=tuple(data["outputModalities"]),
            streaming=bool(data["responseStreamingSupported"]),
            inference_types=tuple(data["inferenceTypesSupported"]),
            customizations=tuple(data.get("customizationsSupported", ())),
            lifecycle=data.get("lifecycle", "ACTIVE"),
            context_window=int(data.get("contextWindow", 0)),
            max_output_tokens=int(data.get("maxOutputTokens", 0)),
            features=frozenset(data.get("features", ())),
            geographies=tuple(data.get("profiles", ())),
            embedding_dimensions=tuple(data.get("embeddingDimensions", ())),
            max_input_tokens=int(data.get("maxInputTokens", 0)),
            claude=ClaudeRules.from_json(data["claude"]) if "claude" in data else ClaudeRules(),
        )

    def supports(self, feature: str) -> bool:
        return feature in self.features

    @property
    def is_anthropic(self) -> bool:
        return self.model_id.startswith("anthropic.")

    @property
    def family(self) -> str:
        """The provider prefix of the id (`anthropic`, `amazon`, `meta`, …)."""
        return self.model_id.split(".", 1)[0]

    def arn(self, region: str) -> str:
        return f"arn:aws:bedrock:{region}::foundation-model/{self.model_id}"

    def summary(self, region: str) -> dict[str, Any]:
        """The FoundationModelSummary / FoundationModelDetails shape."""
        return {
            "modelArn": self.arn(region),
            "modelId": self.model_id,
            "modelName": self.name,
            "providerName": self.provider,
            "inputModalities": list(self.input_modalities),
            "outputModalities": list(self.output_modalities),
            "responseStreamingSupported": self.streaming,
            "customizationsSupported": list(self.customizations),
            "inferenceTypesSupported": list(self.inference_types),
            "modelLifecycle": {"status": self.lifecycle},
        }


@dataclass(frozen=True, slots=True)
class InferenceProfile:
    """A system-defined cross-region inference profile such as `us.anthropic.claude-3-haiku-20240307-v1:0`."""

    geography: str
    model: Model

    @property
    def profile_id(self) -> str:
        return f"{self.geography}.{self.model.model_id}"

    def arn(self, region: str) -> str:
        return f"arn:aws:bedrock:{region}:{ACCOUNT_ID}:inference-profile/{self.profile_id}"

    def summary(self, region: str) -> dict[str, Any]:
        """The InferenceProfileSummary / GetInferenceProfile response shape."""
        regions = _GEOGRAPHY_REGIONS[self.geography]
        label = _GEOGRAPHY_NAMES[self.geography]
        return {
            "inferenceProfileName": f"{label} {self.model.provider} {self.model.name}",
            "description": f"Routes requests to {self.model.provider} {self.model.name} in {', '.join(regions)}.",
            "createdAt": _CREATED,
            "updatedAt": _CREATED,
            "inferenceProfileArn": self.arn(region),
            "models": [{"modelArn": self.model.arn(r)} for r in regions],
            "inferenceProfileId": self.profile_id,
            "status": "ACTIVE",
            "type": "SYSTEM_DEFINED",
        }


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a model identifier in a runtime request names: the model, and the profile it came through."""

    model: Model
    profile: InferenceProfile | None = None


_INVALID_MODEL = "The provided model identifier is invalid."


class Catalog:
    """Models by id and their inference profiles; resolves any identifier form a client may send."""

    def __init__(self, models: list[Model]) -> None:
        self.models: dict[str, Model] = {m.model_id: m for m in models}
        self._profiles: dict[str, InferenceProfile] = {}
        for model in models:
            for geography in model.geographies:
                profile = InferenceProfile(geography, model)
                self._profiles[profile.profile_id] = profile

    @classmethod
    def load(cls) -> Catalog:
        """The catalog shipped with Quarry."""
        text = resources.files("quarry.emulator").joinpath("catalog.json").read_text(encoding="utf-8")
        return cls([Model.from_json(m) for m in json.loads(text)["models"]])

    def profiles(self, region: str) -> list[InferenceProfile]:
        """The system-defined profiles a caller in `region` can use."""
        return [p for p in self._profiles.values() if _geography_serves(p.geography, region)]

    def profile(self, identifier: str, region: str) -> InferenceProfile:
        """GetInferenceProfile: by id or ARN."""
        profile_id = unquote(identifier).rsplit("/", 1)[-1]
        profile = self._profiles.get(profile_id)
        if profile is None or not _geography_serves(profile.geography, region):
            raise ResourceNotFoundException(f"Inference profile {profile_id} not found.")
        return profile

    def foundation_model(self, identifier: str) -> Model:
        """GetFoundationModel: by id or foundation-model ARN."""
        model = self.models.get(unquote(identifier).rsplit("/", 1)[-1])
        if model is None:
            raise ResourceNotFoundException("The provided model identifier is not found.")
        return model

    def resolve(self, identifier: str, region: str) -> Resolved:
        """A runtime model id: plain id, foundation-model ARN, inference-profile id or ARN; as Bedrock checks it."""
        name = identifier
        if name.startswith("arn:"):
            parts = name.split(":", 5)
            resource = parts[5] if len(parts) == 6 else ""
            kind, _, name = resource.partition("/")
            if kind not in ("foundation-model", "inference-profile"):
                raise ValidationException(_INVALID_MODEL)
        model = self.models.get(name)
        if model is not None:
            if "ON_DEMAND" not in model.inference_types:
                raise ValidationException(
                    f"Invocation of model ID {model.model_id} with on-demand throughput isn\u2019t supported. "
                    "Retry your request with the ID or ARN of an inference profile that contains this model."
                )
            return Resolved(model)
        profile = self._profiles.get(name)
        if profile is None:
            raise ValidationException(_INVALID_MODEL)
        if not _geography_serves(profile.geography, region):
            raise ValidationException(
                f"The provided model identifier is invalid. The inference profile {name} is not available in {region}."
            )
        return Resolved(profile.model, profile)
