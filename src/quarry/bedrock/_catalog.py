"""The models callers may name: foundation models and inference profiles from Bedrock, plus aliases.

Fetched lazily on first use, cached for a TTL, and the last good list is kept when a refresh fails, so a
control-plane hiccup never takes chat requests down with it.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from quarry.bedrock._facts import ModelFacts, base_model_id, facts_for, known_model_ids
from quarry.errors import InvalidRequest, ModelNotFound, QuarryError
from quarry.settings import ModelSettings

__all__ = ["ModelCatalog", "ModelEntry", "ModelSource", "ResolvedModel", "anthropic_name", "claude_models"]

_OPENAI_CHAT = re.compile(r"^(?:gpt-|chatgpt-|o\d|text-davinci|davinci|babbage)", re.IGNORECASE)
_OPENAI_EMBEDDING = re.compile(r"^text-embedding-|^text-similarity-", re.IGNORECASE)
_RETRY_FAILED_REFRESH_S = 30.0
_REMEMBERED = 1024
_BEDROCK_VERSION = re.compile(r"-v\d+(?::\d+)?$")
_DATE = re.compile(r"-(\d{8})$")


class ModelSource(Protocol):
    async def foundation_models(self) -> list[dict[str, Any]]: ...
    async def inference_profiles(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class ModelEntry:
    id: str
    kind: Literal["foundation", "profile", "alias"]
    owned_by: str
    created: int
    on_demand: bool = True
    target: str | None = None  # what an alias points to


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """What to send to Bedrock for a requested model name."""

    requested: str
    id: str
    facts: ModelFacts
    # Read ~5 times a request (scopes, prices, rules): worked out once, with the instance.
    base_id: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_id", base_model_id(self.id))


def _preferred_geographies(region: str) -> tuple[str, ...]:
    # Regional profiles first, for data residency; the global profile last.
    if region.startswith("us-gov-"):
        return ("us-gov",)
    if region.startswith(("us-", "ca-")):
        return ("us", "global")
    if region.startswith("eu-"):
        return ("eu", "global")
    if region in ("ap-northeast-1", "ap-northeast-3"):
        return ("jp", "apac", "global")
    if region in ("ap-southeast-2", "ap-southeast-4"):
        return ("au", "apac", "global")
    return ("apac", "global")


class ModelCatalog:
    def __init__(self, source: ModelSource | None, settings: ModelSettings, *, region: str, ttl_s: float) -> None:
        self._source = source
        self._settings = settings
        self._region = region
        self._ttl_s = ttl_s
        self._entries: dict[str, ModelEntry] | None = None
        self._fresh_until = 0.0
        self._lock = asyncio.Lock()
        # Each name's answer for the list it was checked against (`_resolved_for`): a request's model is resolved
        # afresh only when the list is fetched again.
        self._resolved: dict[tuple[str, str], ResolvedModel] = {}
        self._resolved_for: dict[str, ModelEntry] | None = None

    async def entries(self) -> list[ModelEntry]:
        """Every model, profile and alias; raises the upstream error when no list was ever fetched."""
        return list((await self._current(required=True) or {}).values())

    async def get(self, model_id: str) -> ModelEntry | None:
        return (await self._current(required=True) or {}).get(model_id)

    async def resolve(self, name: str, *, purpose: Literal["chat", "embedding"] = "chat") -> ResolvedModel:
        """The Bedrock id for a requested name. Unknown names are a ModelNotFound when the list is available."""
        entries = self._entries
        if entries is not None and entries is self._resolved_for and time.monotonic() < self._fresh_until:
            known = self._resolved.get((name, purpose))
            if known is not None:
                return known
        resolved = await self._resolve(name, purpose)
        if entries is not None and entries is self._entries:  # checked against one list throughout
            if entries is not self._resolved_for or len(self._resolved) >= _REMEMBERED:
                self._resolved, self._resolved_for = {}, entries  # names are the caller's: keep the memo bounded
            self._resolved[name, purpose] = resolved
        return resolved

    async def _resolve(self, name: str, purpose: Literal["chat", "embedding"]) -> ResolvedModel:
        requested = name.strip()
        if not requested:
            raise InvalidRequest("`model` must name a model.", param="model")
        target = self._settings.all_aliases().get(requested, requested)
        if _OPENAI_EMBEDDING.match(target):
            target = self._settings.default_embedding
        elif _OPENAI_CHAT.match(target):
            target = self._settings.default if purpose == "chat" else self._settings.default_embedding
        if target.startswith("claude-"):
            target = await self._claude(target)
        if not target.startswith("arn:"):
            target = await self._verified(requested, target)
        return ResolvedModel(requested=requested, id=target, facts=facts_for(target))

    async def _claude(self, name: str) -> str:
        """A model named as Anthropic names it (`claude-sonnet-4-5`, `claude-3-5-sonnet-20240620`, `…-latest`)."""
        entries = await self._current(required=False)
        if entries is not None:
            ids = [entry.id for entry in entries.values() if entry.kind == "foundation"]
        else:
            ids = known_model_ids()
        return claude_models(ids).get(name.removesuffix("-latest"), name)

    async def _verified(self, requested: str, model_id: str) -> str:
        entries = await self._current(required=False)
        if entries is None:
            return model_id  # No list to check against: let Bedrock judge.
        found = self._in_region(entries, model_id)
        if found is None:
            raise ModelNotFound(
                f"The model `{requested}` does not exist here; GET /v1/models lists the models you can use.",
                param="model",
                code="model_not_found",
            )
        return found

    def _in_region(self, entries: dict[str, ModelEntry], model_id: str) -> str | None:
        """The id to call for a listed model: its region's inference profile where it has no on-demand service."""
        entry = entries.get(model_id)
        if entry is None:
            return None
        if entry.kind == "foundation" and not entry.on_demand:
            # Newer models are served only through inference profiles: pick the one for this region.
            for geography in _preferred_geographies(self._region):
                profile = f"{geography}.{model_id}"
                if profile in entries:
                    return profile
        return model_id

    async def _current(self, *, required: bool) -> dict[str, ModelEntry] | None:
        if self._entries is not None and time.monotonic() < self._fresh_until:
            return self._entries
        async with self._lock:
            if self._entries is None or time.monotonic() >= self._fresh_until:
                try:
                    self._entries = await self._fetch()
                    self._fresh_until = time.monotonic() + self._ttl_s
                except QuarryError:
                    if self._entries is None and required:
                        raise
                    self._fresh_until = time.monotonic() + _RETRY_FAILED_REFRESH_S
        return self._entries

    async def _fetch(self) -> dict[str, ModelEntry]:
        entries: dict[str, ModelEntry] = {}
        now = int(time.time())
        if self._source is not None:
            models, profiles = await asyncio.gather(self._source.foundation_models(), self._source.inference_profiles())
            for model in models:
                if not {"TEXT", "EMBEDDING"} & set(model.get("outputModalities", ())):
                    continue
                on_demand = "ON_DEMAND" in model.get("inferenceTypesSupported", ("ON_DEMAND",))
                owner = str(model.get("providerName", "bedrock")).lower()
                entries[model["modelId"]] = ModelEntry(model["modelId"], "foundation", owner, now, on_demand)
            for profile in profiles:
                created = profile.get("createdAt")
                stamp = int(created.timestamp()) if isinstance(created, datetime) else now
                profile_id = profile["inferenceProfileId"]
                owner = base_model_id(profile_id).split(".", 1)[0]
                entries[profile_id] = ModelEntry(profile_id, "profile", owner, stamp)
        claude = claude_models([e.id for e in entries.values() if e.kind == "foundation"])
        for alias, target in self._settings.all_aliases().items():
            # Listed with the id it calls, so scopes and the model's facts read the same as for a request.
            called = self._in_region(entries, claude.get(target, target)) if entries else target
            if called is None and alias not in self._settings.aliases:
                continue  # a family's newest model not served in this region
            entries[alias] = ModelEntry(alias, "alias", "quarry", now, target=called or target)
        return entries


def anthropic_name(model_id: str) -> str:
    """Anthropic's name for a Bedrock Claude id: `anthropic.claude-3-5-sonnet-20241022-v2:0` is
    `claude-3-5-sonnet-20241022`."""
    return _BEDROCK_VERSION.sub("", base_model_id(model_id).removeprefix("anthropic."))


def claude_models(model_ids: list[str]) -> dict[str, str]:
    """Anthropic names → Bedrock ids: each dated name, and each undated name for the newest of its dates."""
    names: dict[str, str] = {}
    newest: dict[str, tuple[str, str]] = {}
    for model_id in sorted(model_ids):
        if not model_id.startswith("anthropic.claude"):
            continue
        name = anthropic_name(model_id)
        names[name] = model_id
        dated = _DATE.search(name)
        undated = _DATE.sub("", name)
        rank = (dated.group(1) if dated else "", model_id)
        if undated not in newest or rank > newest[undated]:
            newest[undated] = rank
    for undated, (_, model_id) in newest.items():
        names.setdefault(undated, model_id)
    return names
