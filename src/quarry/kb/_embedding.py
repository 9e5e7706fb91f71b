"""Texts → unit vectors through Quarry's Bedrock client: batched (Cohere), concurrent with a bound, and retried
beyond the client's own retries when Bedrock throttles, so a long ingest rides out a burst of throttling."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence

import numpy as np

from quarry.bedrock import COHERE_BATCH, BedrockRuntime, CohereInput, embed_cohere, embed_titan, embedding_family
from quarry.errors import InvalidRequest, RateLimited, UpstreamUnavailable
from quarry.kb._models import KnowledgeBaseConfig
from quarry.kb._store import Vectors

__all__ = ["Embedder", "check_embedding_model"]

_TITAN_V2_DIMENSIONS = (256, 512, 1024)
_COHERE_V4_DIMENSIONS = (256, 512, 1024, 1536)
_EXTRA_ATTEMPTS = 6
_BACKOFF_CAP_S = 20.0


def check_embedding_model(model_id: str, dimensions: int) -> None:
    """InvalidRequest unless the model is an embedding model that gives vectors of `dimensions`."""
    family = embedding_family(model_id)
    if family is None:
        raise InvalidRequest(f"{model_id} is not a Titan or Cohere text embedding model.", param="embedding_model")
    if "titan-embed-text-v2" in model_id:
        allowed: tuple[int, ...] = _TITAN_V2_DIMENSIONS
    elif "titan-embed-text-v1" in model_id:
        allowed = (1536,)
    elif "embed-v4" in model_id:
        allowed = _COHERE_V4_DIMENSIONS
    elif family == "cohere":
        allowed = (1024,)
    else:
        raise InvalidRequest(f"{model_id} is not a text embedding model.", param="embedding_model")
    if dimensions not in allowed:
        names = ", ".join(map(str, allowed))
        raise InvalidRequest(f"{model_id} gives vectors of {names} dimensions, not {dimensions}.", param="dimensions")


def _unit(rows: list[list[float]]) -> Vectors:
    matrix = np.asarray(rows, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    unit: Vectors = matrix / norms
    return unit


class Embedder:
    """One knowledge base's embedding model. `concurrency` bounds the calls in flight."""

    def __init__(self, runtime: BedrockRuntime | None, config: KnowledgeBaseConfig, *, concurrency: int = 8) -> None:
        self._runtime = runtime
        self._model = config.embedding_model
        self._family = embedding_family(config.embedding_model)
        # Titan v1 and Cohere v3 take no dimensions field: they have only one size.
        sized = "titan-embed-text-v2" in self._model or "embed-v4" in self._model
        self._dimensions = config.dimensions if sized else None
        self._gate = asyncio.Semaphore(concurrency)
        self.tokens = 0  # input tokens embedded so far, as Bedrock counted them

    async def embed_documents(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> Vectors:
        """Vectors for chunks, in order; `progress(n)` is told as each batch of n texts is done."""
        return await self._embed(list(texts), "search_document", progress)

    async def embed_query(self, text: str) -> Vectors:
        """The vector of a search query, shape (dimensions,)."""
        vector: Vectors = (await self._embed([text], "search_query", None))[0]
        return vector

    async def _embed(
        self, texts: list[str], input_type: CohereInput, progress: Callable[[int], None] | None
    ) -> Vectors:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        size = COHERE_BATCH if self._family == "cohere" else 1
        batches = [texts[i : i + size] for i in range(0, len(texts), size)]

        async def one(batch: list[str]) -> list[list[float]]:
            async with self._gate:
                vectors = await self._retried(batch, input_type)
            if progress is not None:
                progress(len(batch))
            return vectors

        results = await asyncio.gather(*(one(batch) for batch in batches))
        return _unit([vector for vectors in results for vector in vectors])

    async def _retried(self, batch: list[str], input_type: CohereInput) -> list[list[float]]:
        runtime = self._runtime
        if runtime is None:
            raise UpstreamUnavailable("Embedding needs a connection to Bedrock (or the emulator); none was opened.")
        for attempt in range(_EXTRA_ATTEMPTS + 1):
            try:
                if self._family == "cohere":
                    vectors, tokens = await embed_cohere(runtime, self._model, batch, input_type, self._dimensions)
                else:
                    vector, tokens = await embed_titan(runtime, self._model, batch[0], self._dimensions)
                    vectors = [vector]
            except (RateLimited, UpstreamUnavailable):
                if attempt == _EXTRA_ATTEMPTS:
                    raise
                await asyncio.sleep(random.uniform(0.5, min(_BACKOFF_CAP_S, 2.0**attempt)))  # noqa: S311
                continue
            self.tokens += tokens
            return vectors
        raise AssertionError("unreachable")
