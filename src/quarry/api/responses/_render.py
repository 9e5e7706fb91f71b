"""Converse answers → Responses objects (https://platform.openai.com/docs/api-reference/responses/object): output
items (`message` with `output_text`, `function_call`, `reasoning`), status and incomplete details, usage.

Reasoning items always carry Claude's thinking and signature sealed in `encrypted_content` inside Quarry (that is
what a stored response keeps, to continue a `previous_response_id` chain); the caller sees that field only when
it asks for it with `include: ["reasoning.encrypted_content"]`."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from quarry.api._core import Usage, extract_json, openai_tier_name, stop_reason
from quarry.api.responses._request import ResponsePlan
from quarry.api.responses._schemas import ResponsesRequest
from quarry.api.responses._sealing import Sealer
from quarry.bedrock import ConverseResponse, ReasoningContentBlock, TokenUsage

if TYPE_CHECKING:
    from quarry.api.responses._file_search import FileSearchCall

__all__ = ["Builder", "new_id", "public_item", "public_response"]

# Why a response stopped short (Response.incomplete_details.reason), from the core's stop reasons.
_INCOMPLETE = {"max_tokens": "max_output_tokens", "model_context_window_exceeded": "max_output_tokens",
               "refusal": "content_filter"}  # fmt: skip


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def public_item(item: dict[str, Any], encrypted: bool) -> dict[str, Any]:
    """An output item as the caller sees it: sealed reasoning only when asked for."""
    if item.get("type") == "reasoning" and not encrypted:
        return {k: v for k, v in item.items() if k != "encrypted_content"}
    return item


def public_response(body: dict[str, Any], encrypted: bool) -> dict[str, Any]:
    return {**body, "output": [public_item(item, encrypted) for item in body["output"]]}


def _conversation(given: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """The response's `conversation` ({"id": …}), from the request's string or object (checked when it was read)."""
    if given is None:
        return None
    return {"id": given if isinstance(given, str) else given.get("id")}


def usage_of(bedrock: TokenUsage | None, reasoning_chars: int) -> dict[str, Any]:
    """OpenAI counts cached input tokens inside input_tokens; Bedrock counts them apart. Converse does not count
    thinking tokens apart from output tokens: they are estimated from the thinking's length (about four
    characters a token), never more than the output."""
    tokens = Usage.from_converse(bedrock)
    return {
        "input_tokens": tokens.prompt,
        "input_tokens_details": {"cached_tokens": tokens.cache_read},
        "output_tokens": tokens.output,
        "output_tokens_details": {"reasoning_tokens": min(tokens.output, (reasoning_chars + 3) // 4)},
        "total_tokens": tokens.prompt + tokens.output,
    }


@dataclass
class Builder:
    """One response being made: the request's echo, its output items as they complete, and its end."""

    request: ResponsesRequest
    plan: ResponsePlan
    sealer: Sealer
    id: str = field(default_factory=lambda: new_id("resp"))
    created_at: int = field(default_factory=lambda: int(time.time()))
    output: list[dict[str, Any]] = field(default_factory=list)
    reasoning_chars: int = 0
    search: FileSearchCall | None = None  # file_search, run before the model: its item comes first in the output
    served_tier: str | None = None  # the service tier Bedrock says served the call (None yet: the one asked for)

    def searched(self) -> dict[str, Any] | None:
        """The file_search_call item, put first in the output when the answer starts; None without a search."""
        if self.search is None or self.output:
            return None
        item = self.search.item()
        self.output.append(item)
        return item

    def body(self, status: str, *, usage: dict[str, Any] | None = None, reason: str | None = None) -> dict[str, Any]:
        request = self.request
        fmt = (
            request.text.format.model_dump(by_alias=True, exclude_none=True)
            if request.text and request.text.format
            else {"type": "text"}
        )
        reasoning = request.reasoning
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": request.background,
            "error": None,
            "incomplete_details": {"reason": reason} if status == "incomplete" else None,
            "instructions": request.instructions,
            "max_output_tokens": request.max_output_tokens,
            "max_tool_calls": request.max_tool_calls,
            "model": self.plan.model.id,
            "output": list(self.output),
            "parallel_tool_calls": request.parallel_tool_calls is not False,
            "previous_response_id": request.previous_response_id,
            "conversation": _conversation(request.conversation),
            "prompt_cache_key": request.prompt_cache_key,
            "reasoning": {
                "effort": reasoning.effort if reasoning else None,
                "summary": (reasoning.summary or reasoning.generate_summary) if reasoning else None,
            },
            "safety_identifier": request.safety_identifier,
            "service_tier": openai_tier_name(self.served_tier or self.plan.body.get("serviceTier", {}).get("type")),
            "store": request.store,
            "temperature": request.temperature,
            "text": {"format": fmt, "verbosity": request.text.verbosity if request.text else None},
            "tool_choice": request.tool_choice or "auto",
            "tools": request.tools or [],
            "top_logprobs": request.top_logprobs,
            "top_p": request.top_p,
            "truncation": request.truncation or "disabled",
            "usage": usage,
            "user": request.user,
            "metadata": request.metadata or {},
        }

    def message(self, text: str, status: str = "completed", item_id: str | None = None) -> dict[str, Any]:
        if self.plan.json_text:
            text = extract_json(text)
        annotations = self.search.annotations(text) if self.search is not None else []
        part = {"type": "output_text", "text": text, "annotations": annotations, "logprobs": []}
        return {"id": item_id or new_id("msg"), "type": "message", "status": status, "role": "assistant",
                "content": [part]}  # fmt: skip

    def function_call(self, call_id: str, name: str, arguments: str, item_id: str | None = None) -> dict[str, Any]:
        namespace, function = self.plan.functions.get(name, (None, name))
        item = {"id": item_id or new_id("fc"), "type": "function_call", "status": "completed",
                "call_id": call_id, "name": function, "arguments": arguments}  # fmt: skip
        if namespace:
            item["namespace"] = namespace
        return item

    def reasoning(self, text: str, signature: str, redacted: str | None, item_id: str | None = None) -> dict[str, Any]:
        self.reasoning_chars += len(text)
        sealed = self.sealer.seal({"r": redacted} if redacted is not None else {"t": text, "s": signature})
        summary = [{"type": "summary_text", "text": text}] if self.plan.summary and text else []
        content = [{"type": "reasoning_text", "text": text}] if text else []
        return {"id": item_id or new_id("rs"), "type": "reasoning", "summary": summary, "content": content,
                "encrypted_content": sealed}  # fmt: skip

    def end(self, converse_reason: str | None, bedrock_usage: TokenUsage | None) -> dict[str, Any]:
        """The finished response: `completed`, or `incomplete` with its reason."""
        reason = _INCOMPLETE.get(stop_reason(converse_reason))
        if reason is not None:
            for item in self.output:
                if item.get("type") == "message":
                    item["status"] = "incomplete"
        usage = usage_of(bedrock_usage, self.reasoning_chars)
        return self.body("incomplete" if reason else "completed", usage=usage, reason=reason)

    def whole(self, answer: ConverseResponse) -> dict[str, Any]:
        """The response for a whole Converse answer."""
        self.searched()
        texts: list[str] = []
        for block in answer.get("output", {}).get("message", {}).get("content", []):
            if "text" in block:
                texts.append(block["text"])
            elif "reasoningContent" in block:
                self.output.append(self._reasoning_block(block["reasoningContent"]))
            elif "toolUse" in block:
                use = block["toolUse"]
                arguments = orjson.dumps(use.get("input", {})).decode()
                if use["name"] == self.plan.json_tool:
                    texts.append(arguments)
                else:
                    self._flush(texts)
                    self.output.append(self.function_call(use["toolUseId"], use["name"], arguments))
        self._flush(texts)
        if "serviceTier" in answer:
            self.served_tier = answer["serviceTier"].get("type")
        return self.end(answer.get("stopReason"), answer.get("usage"))

    def _flush(self, texts: list[str]) -> None:
        if texts:
            self.output.append(self.message("".join(texts)))
            texts.clear()

    def _reasoning_block(self, reasoning: ReasoningContentBlock) -> dict[str, Any]:
        if "redactedContent" in reasoning:
            return self.reasoning("", "", reasoning["redactedContent"])
        text = reasoning.get("reasoningText")
        if text is None:
            return self.reasoning("", "", None)
        return self.reasoning(text.get("text", ""), text.get("signature", ""), None)
