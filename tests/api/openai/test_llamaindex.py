"""LlamaIndex's `OpenAILike` with its defaults, which call `/v1/completions` (it is not a chat model unless told).

LlamaIndex's OpenAI integration pins openai < 3 and Quarry's toolbox takes openai >= 3.60, so the two cannot share
the dev venv: like the npm clients (tests/clients), LlamaIndex is installed once, at the pinned version, into a
venv of its own in a cache folder outside the tree (`$XDG_CACHE_HOME/quarry-tests/pypi`, else
`~/.cache/quarry-tests/pypi`), and runs as a program against the gateway."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.api.conftest import HAIKU, KEY

# The newest releases when this test was written; the three that decide what goes on the wire are pinned.
LLAMA_INDEX = ("llama-index-llms-openai-like==0.8.1", "llama-index-llms-openai==0.8.3", "openai==2.54.0")


def _venv(requirements: tuple[str, ...]) -> Path:
    """The python of a venv holding `requirements`, made there first if it is not yet."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "quarry-tests" / "pypi"
    folder = base / "+".join(requirement.replace("==", "@") for requirement in requirements)
    python = folder / "bin" / "python"
    if python.exists():
        return python
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        pytest.fail("these tests install a client with uv: run scripts/test, which puts uv in .venv")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    for command in (
        [uv, "venv", "--quiet", "--python", sys.executable, str(partial)],
        [uv, "pip", "install", "--quiet", "--python", str(partial / "bin" / "python"), *requirements],
    ):
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            pytest.fail(f"could not install {' '.join(requirements)}:\n{done.stderr[-2000:]}")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)  # a venv's scripts name its folder, so it is used only through its python, by path
    return python


PROGRAM = textwrap.dedent(
    """
    import json, sys
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai_like import OpenAILike

    url, key, model = sys.argv[1:]
    llm = OpenAILike(model=model, api_base=url, api_key=key, max_retries=0)
    done = {
        "is_chat_model": llm.metadata.is_chat_model,
        "complete": llm.complete("Hello there").text,
        "stream": [piece.delta for piece in llm.stream_complete("[[emulator: words=12]]")],
        "chat": llm.chat([ChatMessage(role="user", content="[[emulator: reply=Fine, thanks.]]")]).message.content,
    }
    print(json.dumps(done))
    """
)


def test_openai_like_with_its_defaults_completes_streams_and_chats(gateway: str) -> None:
    python = _venv(LLAMA_INDEX)
    done = subprocess.run(
        [str(python), "-c", PROGRAM, f"{gateway}/v1", KEY, HAIKU],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "PYTHONPATH"))},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["is_chat_model"] is False  # so every call below went to /v1/completions
    assert result["complete"] == 'You said: "Hello there"'
    assert len(result["stream"]) > 1
    assert len("".join(result["stream"]).split()) == 12
    assert result["chat"] == "Fine, thanks."
