"""`/v1/embeddings` with token arrays, as LangChain's OpenAIEmbeddings sends them by default: decoded with the
tokenizer the OpenAI model name implies, from the vocabularies quicktok ships, with nothing downloaded.

The clients tokenize with tiktoken, which would download its vocabularies: the tests give it the copies litellm
ships in its wheel (tiktoken checks their SHA-256 against its own), so client and server use independent copies."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import openai
import pytest
import tiktoken
from langchain_openai import OpenAIEmbeddings

from quarry.api.openai import _tokens
from quarry.errors import InvalidRequest
from tests.api.conftest import KEY

TITAN = "amazon.titan-embed-text-v2:0"
TEXTS = ["The cat sat on the mat.", "Grüße aus Köln 🦊", "annual leave: 25 days"]


@pytest.fixture
def tiktoken_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken's cache, filled from litellm's wheel: tiktoken names each file by the SHA-1 of its download URL."""
    spec = importlib.util.find_spec("litellm")
    assert spec is not None
    assert spec.submodule_search_locations is not None
    shipped = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
    for name in ("cl100k_base", "o200k_base"):
        key = hashlib.sha1(f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken".encode()).hexdigest()
        shutil.copy(shipped / key, tmp_path / key)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))


def test_langchain_openai_embeddings_with_its_defaults(
    gateway: str, client: openai.OpenAI, tiktoken_offline: None
) -> None:
    embeddings = OpenAIEmbeddings(base_url=f"{gateway}/v1", api_key=KEY, max_retries=0)  # type: ignore[arg-type]
    assert embeddings.model == "text-embedding-ada-002"
    assert embeddings.check_embedding_ctx_length  # so it sends token arrays, not text
    vectors = embeddings.embed_documents(TEXTS)
    # The same texts sent as text: the emulator's embeddings are a function of the text, so equal vectors mean
    # the token arrays were decoded to exactly these texts.
    expected = client.embeddings.create(model="text-embedding-ada-002", input=TEXTS, encoding_format="float")
    assert len(vectors) == len(TEXTS)
    for vector, item in zip(vectors, expected.data, strict=True):
        assert vector == pytest.approx(item.embedding, abs=1e-6)
    assert embeddings.embed_query(TEXTS[0]) == pytest.approx(expected.data[0].embedding, abs=1e-6)


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("text-embedding-3-small", "cl100k_base"),
        ("text-embedding-3-large", "cl100k_base"),
        (TITAN, "cl100k_base"),  # no OpenAI name: what tiktoken-based clients fall back to
        ("gpt-4o", "o200k_base"),
        ("gpt-5.1", "o200k_base"),
        ("o3-mini", "o200k_base"),
    ],
)
def test_token_arrays_decode_as_tiktoken_encoded_them(
    client: openai.OpenAI, tiktoken_offline: None, model: str, encoding: str
) -> None:
    assert _tokens.encoding_for(model) == encoding
    tokens = [tiktoken.get_encoding(encoding).encode(text) for text in TEXTS]
    as_tokens = client.embeddings.create(model=model, input=tokens, encoding_format="float")
    as_text = client.embeddings.create(model=model, input=TEXTS, encoding_format="float")
    assert [d.embedding for d in as_tokens.data] == [d.embedding for d in as_text.data]
    assert as_tokens.usage.prompt_tokens == as_text.usage.prompt_tokens
    one = client.embeddings.create(model=model, input=tokens[1], encoding_format="float")  # one array, not a list
    assert one.data[0].embedding == as_text.data[1].embedding


@pytest.mark.parametrize(
    ("tokens", "param"),
    [
        ([[9906], [100300]], "input[1][0]"),
        ([9906, 100256], "input[1]"),  # a gap in cl100k_base's ids
        ([[9906], []], "input[1]"),
        ([9906, -5], "input[1]"),
        ([9906, 2**40], "input[1]"),
        ([[1.5]], "input"),
        ([[9906], "text"], "input"),
    ],
)
def test_a_bad_token_array_is_a_400_naming_its_place(client: openai.OpenAI, tokens: list[object], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.post("/embeddings", body={"model": TITAN, "input": tokens}, cast_to=object)
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == param, error
    assert error["type"] == "invalid_request_error"


async def test_without_the_extra_a_token_array_is_a_400_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "quicktok", None)  # what `import quicktok` meets when it is not installed
    with pytest.raises(InvalidRequest, match=r"pip install 'quarry\[tokens\]'") as caught:
        await _tokens.texts([[9906]], "text-embedding-3-small", "input", limit=1)
    assert caught.value.param == "input[0]"
    assert await _tokens.texts("text stays text", "text-embedding-3-small", "input", limit=1) == ["text stays text"]


def test_the_vocabularies_load_with_no_network_and_empty_caches(tmp_path: Path) -> None:
    """A fresh process whose sockets all fail and whose every cache folder is empty decodes both vocabularies."""
    empty = tmp_path / "empty"
    empty.mkdir()
    cl100k = [9906, 289, 9603, 509]  # "Hello wörld" in cl100k_base
    o200k = [13225, 286, 2877, 582]  # "Hello wörld" in o200k_base
    program = textwrap.dedent(
        f"""
        import socket

        def refuse(*args, **kwargs):
            raise OSError("no network in this test")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.getaddrinfo = refuse
        socket.create_connection = refuse

        import asyncio
        import importlib.util

        # The module alone (it imports quarry.errors and, when asked, quicktok), not the whole gateway: faster.
        spec = importlib.util.spec_from_file_location("tokens", {str(Path(_tokens.__file__))!r})
        tokens = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tokens)
        print(asyncio.run(tokens.vocabulary("text-embedding-3-small", "input")).decode({cl100k}, "input"))
        print(asyncio.run(tokens.vocabulary("gpt-4o", "input")).decode({o200k}, "input"))
        """
    )
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("TIKTOKEN", "QUICKTOK", "HF_", "XDG_"))
    }
    env |= {"HOME": str(empty), "XDG_CACHE_HOME": str(empty), "TIKTOKEN_CACHE_DIR": str(empty)}
    env |= {"QUICKTOK_DATA": str(empty), "TMPDIR": str(empty)}
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["Hello wörld", "Hello wörld"]
    assert list(empty.iterdir()) == []  # nothing was fetched into a cache either
