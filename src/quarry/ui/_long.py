"""Long inputs: split into parts that fit one call, each part streamed, then joined or combined."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from quarry.ui._client import ToolboxClient
from quarry.ui._split import split_text

__all__ = ["stream_answer", "stream_long"]


async def stream_answer(
    client: ToolboxClient, model: str, system: str, user: str | list[dict[str, Any]], **parameters: Any
) -> AsyncIterator[str]:
    """The answer so far, after every streamed piece."""
    answer = ""
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    async for delta in client.stream(model, messages, **parameters):
        answer += delta.text
        yield answer


async def stream_long(
    client: ToolboxClient,
    model: str,
    system: str,
    text: str,
    *,
    max_tokens: int,
    combine_system: str | None = None,
) -> AsyncIterator[tuple[str, str]]:
    """(progress, output so far) while answering `text` under `system`, part by part past `max_tokens`.

    Without `combine_system` the parts' answers are joined in order (translation, rewriting); with it they are
    combined by one more call (a summary of the parts' summaries), streamed in their place.
    """
    parts = split_text(text, max_tokens)
    done: list[str] = []
    for index, part in enumerate(parts):
        status = f"Part {index + 1} of {len(parts)}…" if len(parts) > 1 else "Writing…"
        before = "\n\n".join(done)
        answer = ""
        async for answer in stream_answer(client, model, system, part):
            yield status, f"{before}\n\n{answer}" if before else answer
        done.append(answer)
    if combine_system is not None and len(parts) > 1:
        notes = "\n\n".join(f"Part {i + 1}: {summary}" for i, summary in enumerate(done))
        answer = ""
        async for answer in stream_answer(client, model, combine_system, notes):
            yield f"Combining {len(parts)} parts…", answer
        done = [answer]
    yield (f"Done: {len(parts)} parts." if len(parts) > 1 else "Done."), "\n\n".join(done)
