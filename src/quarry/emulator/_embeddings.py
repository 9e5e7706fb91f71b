"""Titan and Cohere embeddings through InvokeModel, with vectors that mean something.

Words and character trigrams are hashed into the vector's dimensions (feature hashing), so texts that share words
score a higher cosine than unrelated ones, and the same text always gets the same vector.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

import orjson

from quarry.emulator._catalog import Model
from quarry.emulator._errors import ValidationException, malformed_input
from quarry.emulator._tokens import count_tokens, split_tokens

__all__ = ["embed_response", "embedding"]

_WORD = re.compile(r"\w+")
_COHERE_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering", "image")
_COHERE_TYPES = ("float", "int8", "uint8", "binary", "ubinary")
_COHERE_MAX_TEXTS = 96


def _features(text: str) -> dict[str, float]:
    features: dict[str, float] = {}
    for word in _WORD.findall(text.lower()):
        features[word] = features.get(word, 0.0) + 1.0
        padded = f"#{word}#"
        for i in range(len(padded) - 2):
            gram = "3:" + padded[i : i + 3]
            features[gram] = features.get(gram, 0.0) + 0.5
    return features


def embedding(text: str, dimensions: int) -> list[float]:
    """A unit-length vector for `text`."""
    vector = [0.0] * dimensions
    for feature, weight in _features(text).items():
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "little") % dimensions
        vector[index] += weight if digest[4] & 1 else -weight
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def _bits(vector: list[float]) -> list[int]:
    return [1 if v > 0 else 0 for v in vector]


def _packed(vector: list[float], *, signed: bool) -> list[int]:
    bits = _bits(vector)
    packed = [int("".join(map(str, bits[i : i + 8])).ljust(8, "0"), 2) for i in range(0, len(bits), 8)]
    return [b - 128 for b in packed] if signed else packed


def _titan(body: dict[str, Any], model: Model) -> dict[str, Any]:
    text = body.get("inputText")
    if not isinstance(text, str) or not text:
        raise malformed_input("#: required key [inputText] not found")
    tokens = count_tokens(text)
    if model.max_input_tokens and tokens > model.max_input_tokens:
        raise ValidationException(
            f"400 Bad Request: Too many input tokens. Max input tokens: {model.max_input_tokens}, request input token "
            f"count: {tokens}"
        )
    if model.model_id == "amazon.titan-embed-text-v1":
        extra = set(body) - {"inputText"}
        if extra:
            raise malformed_input(f"#: extraneous key [{sorted(extra)[0]}] is not permitted")
        return {"embedding": embedding(text, model.embedding_dimensions[0]), "inputTextTokenCount": tokens}
    dimensions = body.get("dimensions", max(model.embedding_dimensions))
    if dimensions not in model.embedding_dimensions:
        allowed = ", ".join(map(str, model.embedding_dimensions))
        raise malformed_input(f"#/dimensions: {dimensions} is not a valid enum value ({allowed})")
    vector = embedding(text, dimensions)
    if body.get("normalize", True) is False:
        vector = [v * 3.7 for v in vector]  # Titan's raw vectors are not unit length
    types = body.get("embeddingTypes") or ["float"]
    if not isinstance(types, list) or not set(types) <= {"float", "binary"}:
        raise malformed_input("#/embeddingTypes: must be a list of 'float' and 'binary'")
    by_type: dict[str, Any] = {}
    if "float" in types:
        by_type["float"] = vector
    if "binary" in types:
        by_type["binary"] = _bits(vector)
    response: dict[str, Any] = {"inputTextTokenCount": tokens, "embeddingsByType": by_type}
    response["embedding"] = vector if "float" in types else None
    return response


def _truncate(text: str, mode: str, limit: int) -> str:
    tokens = split_tokens(text)
    if len(tokens) <= limit:
        return text
    if mode == "NONE":
        raise ValidationException(f"Input text exceeds the maximum of {limit} tokens and truncate is NONE.")
    return "".join(tokens[:limit] if mode == "END" else tokens[-limit:])


def _cohere(body: dict[str, Any], model: Model) -> dict[str, Any]:
    texts = body.get("texts")
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts) or not texts:
        raise malformed_input("#: required key [texts] not found")
    if len(texts) > _COHERE_MAX_TEXTS:
        raise malformed_input(f"#/texts: expected maximum item count: {_COHERE_MAX_TEXTS}, found: {len(texts)}")
    input_type = body.get("input_type")
    if input_type not in _COHERE_INPUT_TYPES:
        raise malformed_input(f"#/input_type: {input_type} is not a valid enum value")
    truncate = body.get("truncate", "END")
    if truncate not in ("NONE", "START", "END"):
        raise malformed_input(f"#/truncate: {truncate} is not a valid enum value")
    limit = model.max_input_tokens or 512
    dimensions = max(model.embedding_dimensions)
    vectors = [embedding(_truncate(t, truncate, limit), dimensions) for t in texts]
    response: dict[str, Any] = {
        "id": hashlib.md5(orjson.dumps(texts), usedforsecurity=False).hexdigest(),
        "texts": texts,
    }
    types = body.get("embedding_types")
    if types is None:
        return response | {"embeddings": vectors, "response_type": "embeddings_floats"}
    if not isinstance(types, list) or not types or not set(types) <= set(_COHERE_TYPES):
        raise malformed_input("#/embedding_types: expected values of float, int8, uint8, binary, ubinary")
    by_type: dict[str, Any] = {}
    for kind in types:
        if kind == "float":
            by_type[kind] = vectors
        elif kind == "int8":
            by_type[kind] = [[max(-128, min(127, round(v * 127 * 8))) for v in vec] for vec in vectors]
        elif kind == "uint8":
            by_type[kind] = [[max(0, min(255, round(v * 127 * 8) + 128)) for v in vec] for vec in vectors]
        else:
            by_type[kind] = [_packed(vec, signed=kind == "binary") for vec in vectors]
    return response | {"embeddings": by_type, "response_type": "embeddings_by_type"}


def embed_response(raw: bytes, model: Model) -> tuple[dict[str, Any], int]:
    """The InvokeModel answer for an embedding model, and the input token count for the response headers."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise malformed_input("#: expected type: JSONObject") from None
    if not isinstance(body, dict):
        raise malformed_input("#: expected type: JSONObject")
    if model.family == "cohere":
        response = _cohere(body, model)
        return response, sum(count_tokens(t) for t in response["texts"])
    if model.model_id == "amazon.titan-embed-image-v1":
        body = {k: v for k, v in body.items() if k != "embeddingConfig"}
        if "inputImage" in body and "inputText" not in body:
            body["inputText"] = f"image of {len(body['inputImage'])} base64 characters"
        body.pop("inputImage", None)
        dims = body.pop("outputEmbeddingLength", None) or max(model.embedding_dimensions)
        text = str(body.get("inputText", ""))
        return {"embedding": embedding(text, int(dims)), "inputTextTokenCount": count_tokens(text)}, count_tokens(text)
    response = _titan(body, model)
    return response, response["inputTextTokenCount"]
