"""The Vercel AI SDK from npm (`ai` with `@ai-sdk/openai`) against Quarry over the emulator, as a new user runs it:
`createOpenAI({ baseURL, apiKey })` and `openai(model)`, the Responses API. A Node script (apps/vercel_ai_app.mjs)
calls generateText and streamText with a tool the SDK runs, on Claude without and with thinking (its reasoning items
sent back by reference when stored, encrypted when not), and prints what the app sees."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import KEY
from tests.clients.conftest import VERCEL_AI, npm_install_all

APP = Path(__file__).parent / "apps" / "vercel_ai_app.mjs"


@pytest.fixture(scope="module")
def node_modules() -> Path:
    return npm_install_all(VERCEL_AI)


def _run(node_modules: Path, gateway: str, folder: Path, model: str) -> dict[str, Any]:
    # Node resolves an ES module's imports from the script's own folder: the app goes next to the installed packages.
    (folder / "node_modules").symlink_to(node_modules)
    shutil.copy(APP, folder / APP.name)
    node = shutil.which("node")
    assert node is not None, "these tests run Node.js programs: install Node.js (Debian: apt-get install nodejs)"
    env = {"PATH": "/usr/bin:/bin", "QUARRY_BASE_URL": f"{gateway}/v1", "QUARRY_API_KEY": KEY, "QUARRY_MODEL": model}
    done = subprocess.run(
        [node, APP.name], cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize("model", ["claude-sonnet-4-5", "claude-sonnet-5-5"])
def test_generate_and_stream_with_a_tool(node_modules: Path, gateway: str, tmp_path: Path, model: str) -> None:
    out = _run(node_modules, gateway, tmp_path, model)

    assert out["plain"]["text"] == 'You said: "Say hello to the Vercel AI SDK."'
    assert out["plain"]["finishReason"] == "stop"
    assert out["plain"]["usage"]["inputTokens"] > 0
    assert out["plain"]["usage"]["outputTokens"] > 0
    assert out["plain"]["warnings"] == []
    # Every run called the tool once, the SDK ran it, and the answer after it reports what it returned.
    assert len(out["runs"]) == 6
    assert len(out["ran"]) == 6
    for run in out["runs"]:
        first, second = run["steps"]
        assert first["calls"] == ["get_weather"], run
        assert first["results"][0]["forecast"] == "sunny, 21 degrees"
        assert second["calls"] == []
        city = "Paris" if run["kind"] == "generate" else "Oslo"
        assert run["text"].endswith(
            f'The get_weather tool returned: {{"city":"Use  for {city}","forecast":"sunny, 21 degrees"}}'
        )
        if run["kind"] == "stream":
            assert run["errors"] == []
            assert run["parts"]["tool-call"] == 1
            assert run["parts"]["tool-result"] == 1
            assert run["parts"]["text-delta"] > 1  # streamed in pieces
        if run["options"] is not None:  # thinking asked: Claude's reasoning shows in both steps
            assert all(step["reasoning"] for step in run["steps"]), run
            assert run.get("warnings", []) == []
