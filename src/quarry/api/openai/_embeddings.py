"""POST /v1/embeddings over Titan (one text per call, calls in parallel) and Cohere (batches of 96)."""

from __future__ import annotations

import asyncio
import base64
import struct
from typing import Any

from quarry.api.openai._schemas import EmbeddingRequest
from quarry.api.openai._tokens import texts as read_texts
from quarry.bedrock import COHERE_BATCH, BedrockRuntime, ResolvedModel, embed_cohere, embed_titan
from quarry.errors import InvalidRequest

__all__ = ["MAX_INPUTS", "embed"]

# OpenAI's own limit: `input` is an array of 1 to 2048 items (API reference, Create embeddings). Titan embeds one
# text per upstream call, so without a cap one request buys thousands of them. The setting is embeddings.max_inputs.
MAX_INPUTS = 2048
_PARALLEL_CALLS = 8
_TITAN_V2_DIMENSIONS = (256, 512, 1024)
_COHERE_V4_DIMENSIONS = (256, 512, 1024, 1536)


async def _titan(
    runtime: BedrockRuntime, model: ResolvedModel, texts: list[str], dimensions: int | None
) -> tuple[list[list[float]], int]:
    v2 = model.base_id.startswith("amazon.titan-embed-text-v2")
    if dimensions is not None and not (v2 and dimensions in _TITAN_V2_DIMENSIONS):
        allowed = "256, 512 or 1024 with amazon.titan-embed-text-v2:0" if v2 else "not supported by this model"
        raise InvalidRequest(f"dimensions {dimensions}: {allowed}.", param="dimensions")
    gate = asyncio.Semaphore(_PARALLEL_CALLS)

    async def one(text: str) -> tuple[list[float], int]:
        async with gate:
            return await embed_titan(runtime, model.id, text, dimensions)

    results = await asyncio.gather(*(one(text) for text in texts))
    return [vector for vector, _ in results], sum(tokens for _, tokens in results)


async def _cohere(
    runtime: BedrockRuntime, model: ResolvedModel, texts: list[str], dimensions: int | None
) -> tuple[list[list[float]], int]:
    v4 = "embed-v4" in model.base_id
    if dimensions is not None and not (v4 and dimensions in _COHERE_V4_DIMENSIONS):
        raise InvalidRequest(f"dimensions {dimensions} is not supported by {model.id}.", param="dimensions")

    gate = asyncio.Semaphore(_PARALLEL_CALLS)

    async def batch(chunk: list[str]) -> tuple[list[list[float]], int]:
        async with gate:
            return await embed_cohere(runtime, model.id, chunk, "search_document", dimensions)

    chunks = [texts[i : i + COHERE_BATCH] for i in range(0, len(texts), COHERE_BATCH)]
    results = await asyncio.gather(*(batch(chunk) for chunk in chunks))
    return [vector for vectors, _ in results for vector in vectors], sum(tokens for _, tokens in results)


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


async def embed(
    runtime: BedrockRuntime, model: ResolvedModel, request: EmbeddingRequest, *, max_inputs: int = MAX_INPUTS
) -> dict[str, Any]:
    """The OpenAI embeddings list for a request of at most `max_inputs` texts."""
    note = " (embeddings.max_inputs, QUARRY_EMBEDDINGS__MAX_INPUTS)"
    texts = await read_texts(request.input, request.model, "input", limit=max_inputs, limit_note=note)
    if model.base_id.startswith("cohere.embed"):
        vectors, tokens = await _cohere(runtime, model, texts, request.dimensions)
    elif model.base_id.startswith("amazon.titan-embed"):
        vectors, tokens = await _titan(runtime, model, texts, request.dimensions)
    else:
        raise InvalidRequest(f"{model.id} is not an embedding model this endpoint can call.", param="model")
    data = [
        {"object": "embedding", "index": index, "embedding": _encode(vector, request.encoding_format)}
        for index, vector in enumerate(vectors)
    ]
    return {
        "object": "list",
        "data": data,
        "model": model.id,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
