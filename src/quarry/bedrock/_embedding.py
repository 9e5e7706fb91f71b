"""Embedding models' InvokeModel bodies: Titan (one text per call) and Cohere (up to 96 texts per call)."""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

import orjson

from quarry.bedrock._runtime import BedrockRuntime

__all__ = ["COHERE_BATCH", "CohereInput", "embed_cohere", "embed_titan", "embedding_family"]

COHERE_BATCH = 96
CohereInput = Literal["search_document", "search_query", "classification", "clustering"]


class _TitanBody(TypedDict):
    """Titan Text Embeddings' InvokeModel body (v2 takes `dimensions`)."""

    inputText: str
    dimensions: NotRequired[int]


class _CohereBody(TypedDict):
    """Cohere Embed's InvokeModel body (v4 takes `output_dimension`)."""

    texts: list[str]
    input_type: CohereInput
    embedding_types: list[Literal["float"]]
    output_dimension: NotRequired[int]


def embedding_family(model_id: str) -> Literal["titan", "cohere"] | None:
    """Which body an embedding model takes, from its id (profiles and ARNs included)."""
    base = model_id.rsplit("/", 1)[-1]
    if "titan-embed" in base:
        return "titan"
    if "cohere.embed" in base:
        return "cohere"
    return None


async def embed_titan(
    runtime: BedrockRuntime, model_id: str, text: str, dimensions: int | None
) -> tuple[list[float], int]:
    """One Titan embedding and its input token count."""
    body: _TitanBody = {"inputText": text}
    if dimensions is not None:
        body["dimensions"] = dimensions
    answer = await runtime.invoke_model(model_id, orjson.dumps(body))
    return answer.body["embedding"], int(answer.body.get("inputTextTokenCount", 0))


async def embed_cohere(
    runtime: BedrockRuntime, model_id: str, texts: list[str], input_type: CohereInput, dimensions: int | None
) -> tuple[list[list[float]], int]:
    """Cohere embeddings of up to COHERE_BATCH texts and their input token count."""
    body: _CohereBody = {"texts": texts, "input_type": input_type, "embedding_types": ["float"]}
    if dimensions is not None:
        body["output_dimension"] = dimensions
    answer = await runtime.invoke_model(model_id, orjson.dumps(body))
    return answer.body["embeddings"]["float"], int(answer.headers.get("x-amzn-bedrock-input-token-count", 0))
