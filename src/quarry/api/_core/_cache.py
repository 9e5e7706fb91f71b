"""Cache points: where Quarry adds them by configuration, and where a model that cannot cache loses them."""

from __future__ import annotations

from collections.abc import Collection

from quarry.bedrock import CachePointBlock, ConverseRequest, ResolvedModel

__all__ = ["add_cache_points", "cache_point", "strip_cache_points"]


def cache_point() -> CachePointBlock:
    return {"type": "default"}


def add_cache_points(model: ResolvedModel, request: ConverseRequest, where: Collection[str]) -> None:
    """A cache point after the system prompt, the tools and the last user turn, as configured (`prompt_cache`)."""
    if not model.facts.caches_prompts:
        return
    system = request.get("system")
    if "system" in where and system and "cachePoint" not in system[-1]:
        system.append({"cachePoint": cache_point()})
    tools = request.get("toolConfig", {}).get("tools")
    if "tools" in where and tools and "cachePoint" not in tools[-1]:
        tools.append({"cachePoint": cache_point()})
    users = [m for m in request.get("messages", ()) if m["role"] == "user"]
    if "messages" in where and users and "cachePoint" not in users[-1]["content"][-1]:
        users[-1]["content"].append({"cachePoint": cache_point()})


def strip_cache_points(request: ConverseRequest) -> None:
    if "system" in request:
        request["system"] = [b for b in request["system"] if "cachePoint" not in b]
    for message in request.get("messages", ()):
        message["content"] = [b for b in message["content"] if "cachePoint" not in b]
    if "toolConfig" in request:
        request["toolConfig"]["tools"] = [t for t in request["toolConfig"]["tools"] if "cachePoint" not in t]
