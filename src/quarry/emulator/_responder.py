"""The deterministic model: what the emulator answers to a Conversation.

Rules, in order (documented in the README):
1. `[[emulator: reply=…]]` or `words=N` in the last user message fix the text of the answer.
2. After tool results, the answer reports what each tool returned.
3. `[[emulator: call=NAME {…}]]` calls that tool with those arguments; else, with tools offered, a tool named in
   the last user message (or forced by toolChoice) is called, with input generated from its JSON schema.
4. With numbered passages in the system prompt ([1] …), the answer quotes the passage sharing most words with
   the question and cites it as [n] (or says the passages do not cover it).
5. When JSON is asked for (structured output, or "JSON" in the prompt), the answer is valid JSON.
6. Otherwise it describes the images and documents it received and quotes the user.
With thinking enabled a signed reasoning block comes first; adaptive thinking (asked for, or the model's default)
reasons in as many steps as its effort asks (low 1, medium 2, high 4, xhigh 6, max 8), so the effort shows in the
thinking and in the output tokens, also when the thinking text is omitted (`display: omitted`). maxTokens and
stopSequences cut the answer as they would a real model's.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from quarry.emulator._conversation import Conversation, ToolSpec
from quarry.emulator._directives import Directives, strip_directives
from quarry.emulator._passages import answer_from_passages
from quarry.emulator._schema_example import example_for
from quarry.emulator._signature import sign_omitted, sign_reasoning
from quarry.emulator._tokens import count_tokens, split_tokens

__all__ = ["Block", "PromptCache", "Reply", "respond"]

_FILLER = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "bedrock",
    "streams",
    "tokens",
    "from",
    "a",
    "quarry",
    "of",
    "models",
    "and",
    "every",
    "answer",
    "arrives",
    "in",
    "order",
    "with",
    "usage",
    "metrics",
    "latency",
    "and",
    "a",
    "stop",
    "reason",
]
_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# How many steps adaptive thinking takes at each effort: the effort a request carried shows in the answer.
EFFORT_STEPS = {"low": 1, "medium": 2, "high": 4, "xhigh": 6, "max": 8}


@dataclass(slots=True)
class Block:
    """One output content block: `text`, `toolUse` or `reasoning`."""

    kind: str
    text: str = ""
    tool_use_id: str = ""
    name: str = ""
    input: Any = None
    signature: str = ""
    hidden: str = ""  # thinking returned without its text (`display: omitted`), still billed as output

    def sign(self) -> None:
        self.signature = sign_omitted(self.hidden) if self.hidden else sign_reasoning(self.text)

    def input_fragments(self, size: int = 24) -> list[str]:
        """A tool call's JSON input in the pieces a stream sends it in."""
        arguments = orjson.dumps(self.input).decode()
        return [arguments[offset : offset + size] for offset in range(0, len(arguments), size)]

    @property
    def tokens(self) -> int:
        if self.kind == "toolUse":
            return 8 + count_tokens(self.name) + count_tokens(orjson.dumps(self.input).decode())
        return count_tokens(self.hidden or self.text)


@dataclass(slots=True)
class Reply:
    blocks: list[Block]
    stop_reason: str
    input_tokens: int
    stop_sequence: str | None = None
    cache_read: int = 0
    cache_write: int = 0
    output_tokens: int = 0

    def usage(self) -> dict[str, int]:
        """Converse's TokenUsage shape."""
        usage = {
            "inputTokens": self.input_tokens,
            "outputTokens": self.output_tokens,
            "totalTokens": self.input_tokens + self.output_tokens + self.cache_read + self.cache_write,
        }
        if self.cache_read or self.cache_write:
            usage["cacheReadInputTokens"] = self.cache_read
            usage["cacheWriteInputTokens"] = self.cache_write
        return usage


class PromptCache:
    """Which prompt prefixes were seen (bounded, LRU). As on Bedrock, a request reads the longest prefix cached
    at any of its cache points and writes the rest, up to its last cache point."""

    def __init__(self, size: int = 4096) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def use(self, points: tuple[tuple[str, int], ...]) -> tuple[int, int]:
        """(tokens read, tokens written) for a request's cache points."""
        read = max((tokens for digest, tokens in points if digest in self._seen), default=0)
        for digest, _ in points:
            self._seen[digest] = None
            self._seen.move_to_end(digest)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return read, (points[-1][1] - read if points else 0)


def _digest(conversation: Conversation) -> bytes:
    return hashlib.blake2b(orjson.dumps(conversation.messages, default=str), digest_size=16).digest()


def _tool_use_id(seed: bytes, index: int) -> str:
    """A stable id in Bedrock's format, different for each call of each conversation."""
    raw = hashlib.blake2b(seed + bytes((index,)), digest_size=16).digest()
    return "tooluse_" + "".join(_ALPHABET[b % len(_ALPHABET)] for b in raw)[:22]


def _filler(seed: bytes, words: int) -> str:
    start = seed[0]
    text = " ".join(_FILLER[(start + i) % len(_FILLER)] for i in range(words))
    return text[:1].upper() + text[1:] + "."


def _describe(conversation: Conversation) -> str:
    attachments = conversation.attachments()
    if not attachments:
        return ""
    parts = []
    for kind in ("image", "document", "video", "audio"):
        items = [a for a in attachments if a.kind == kind]
        if not items:
            continue
        details = "; ".join(
            f"{a.format or 'unknown'}{f' {a.name!r}' if a.name else ''}, {a.size:,} bytes" for a in items
        )
        parts.append(f"{len(items)} {kind}{'s' if len(items) > 1 else ''} ({details})")
    return "I received " + " and ".join(parts) + "."


def _tool_summary(conversation: Conversation) -> str:
    names = {
        b["toolUse"]["toolUseId"]: b["toolUse"]["name"]
        for m in conversation.messages[-2:-1]
        for b in m["content"]
        if "toolUse" in b
    }
    lines = []
    for result in conversation.last_tool_results:
        texts = []
        for content in result.get("content", []):
            if "text" in content:
                texts.append(content["text"])
            elif "json" in content:
                texts.append(orjson.dumps(content["json"]).decode())
        outcome = " ".join(texts)[:400] or "nothing"
        failed = " (the tool reported an error)" if result.get("status") == "error" else ""
        lines.append(f"The {names.get(result['toolUseId'], 'tool')} tool returned{failed}: {outcome}")
    return "\n".join(lines)


def _tools_to_call(conversation: Conversation, text: str) -> list[ToolSpec]:
    if not conversation.tools:
        return []
    if conversation.tool_choice == "tool":
        return [t for t in conversation.tools if t.name == conversation.tool_choice_name]
    lowered = text.lower()
    named = [
        t for t in conversation.tools
        if re.search(rf"\b{re.escape(t.name.lower())}\b", lowered) or t.name.lower().replace("_", " ") in lowered
    ]  # fmt: skip
    if named:
        return named
    return conversation.tools[:1] if conversation.tool_choice == "any" else []


def _wants_json(conversation: Conversation, text: str) -> bool:
    prompt = " ".join([*conversation.system, text])
    return conversation.json_schema is not None or re.search(r"\bjson\b", prompt, re.IGNORECASE) is not None


def _compose(conversation: Conversation, directives: Directives, seed: bytes) -> list[Block]:
    text = strip_directives(conversation.last_user_text)
    blocks: list[Block] = []
    # Once tools have answered, the model answers from their results unless a tool call is forced.
    answered = bool(conversation.last_tool_results) and conversation.tool_choice == "auto"
    calls = [] if answered else _tools_to_call(conversation, text)
    if directives.call is not None and not answered:  # the tool is offered: the emulator's app checked it
        calls = [next(t for t in conversation.tools if t.name == directives.call[0])]
    if directives.reply is not None:
        answer = directives.reply
    elif directives.words:
        answer = _filler(seed, directives.words)
    elif conversation.last_tool_results:
        answer = _tool_summary(conversation)
    elif calls:
        answer = "" if conversation.tool_choice != "auto" else f"I'll use the {calls[0].name} tool."
    elif conversation.json_schema is not None:  # structured output: nothing but the JSON
        answer = orjson.dumps(example_for(conversation.json_schema, text[:200] or "example")).decode()
    elif (cited := answer_from_passages(conversation.system, text)) is not None:
        answer = cited
    elif _wants_json(conversation, text):
        schema = conversation.json_schema or {"type": "object", "properties": {"answer": {"type": "string"}}}
        answer = orjson.dumps(example_for(schema, text[:200] or "example")).decode()
    else:
        quote = f'You said: "{text[:500]}"' if text else "Hello! How can I help you today?"
        answer = " ".join(filter(None, (_describe(conversation), quote)))
    tools = f" and call {', '.join(t.name for t in calls)}" if calls else ""
    thought = f'The user wrote {count_tokens(text)} tokens: "{text[:120]}". I will answer directly{tools}.'
    if conversation.thinking_budget:
        blocks.append(Block("reasoning", text=thought, signature=sign_reasoning(thought)))
    elif conversation.thinking == "adaptive" or (
        conversation.thinking == "between_tools" and conversation.last_tool_results
    ):
        effort = conversation.effort or "high"
        steps = EFFORT_STEPS.get(effort, 4)
        thought += "".join(
            f" Step {step} of {steps} at {effort} effort: the answer follows from the request."
            for step in range(1, 1 + steps)
        )
        block = Block("reasoning", text="", hidden=thought)
        if conversation.thinking_display != "omitted":
            block.text, block.hidden = thought, ""
        block.sign()
        blocks.append(block)
    if answer:
        blocks.append(Block("text", text=answer))
    hint = text
    for tool in calls:  # the user's words, less the tool names, fill the tool's string arguments
        hint = hint.replace(tool.name, "")
    hint = hint.strip(" ?.!,")[:100]
    for index, tool in enumerate(calls):
        tool_input = directives.call[1] if directives.call is not None else example_for(tool.schema, hint or tool.name)
        blocks.append(Block("toolUse", tool_use_id=_tool_use_id(seed, index), name=tool.name, input=tool_input))
    return blocks


def _cut(blocks: list[Block], stop_sequences: list[str], max_tokens: int) -> tuple[list[Block], str | None, str | None]:
    """Apply stop sequences, then maxTokens; returns the blocks kept, a stop reason if cut, the matched sequence."""
    for i, block in enumerate(blocks):
        if block.kind != "text":
            continue
        hits = [(block.text.find(s), s) for s in stop_sequences if s in block.text]
        if hits:
            at, sequence = min(hits)
            block.text = block.text[:at]
            return [b for b in blocks[: i + 1] if b.kind != "text" or b.text], "stop_sequence", sequence
    budget = max_tokens
    for i, block in enumerate(blocks):
        cost = block.tokens
        if cost <= budget:
            budget -= cost
            continue
        if block.kind == "toolUse" or budget == 0:
            return blocks[:i], "max_tokens", None
        if block.hidden:
            block.hidden = "".join(split_tokens(block.hidden)[:budget])
        else:
            block.text = "".join(split_tokens(block.text)[:budget])
        if block.kind == "reasoning":
            block.sign()
        return blocks[: i + 1], "max_tokens", None
    return blocks, None, None


def respond(conversation: Conversation, directives: Directives, cache: PromptCache) -> Reply:
    """The answer to a validated conversation."""
    seed = _digest(conversation)
    blocks, cut_reason, sequence = _cut(
        _compose(conversation, directives, seed), conversation.stop_sequences, conversation.max_tokens
    )
    if cut_reason:
        stop_reason = cut_reason
    elif any(b.kind == "toolUse" for b in blocks):
        stop_reason = "tool_use"
    else:
        stop_reason = "end_turn"
    reply = Reply(
        blocks=blocks, stop_reason=stop_reason, stop_sequence=sequence, input_tokens=conversation.input_tokens
    )
    reply.cache_read, reply.cache_write = cache.use(conversation.cache_points)
    reply.input_tokens -= reply.cache_read + reply.cache_write
    reply.output_tokens = sum(b.tokens for b in blocks)
    return reply
