"""The OpenAI Agents SDK (`openai-agents`) against Quarry over the emulator, as a new user runs an agent app: the
app (apps/agents_app.py) is unchanged, pointed at Quarry by OPENAI_BASE_URL and OPENAI_API_KEY, with tracing export
off by OPENAI_AGENTS_DISABLE_TRACING, in a process of its own (the SDK keeps its default client and settings in
module globals). A triage agent on the SDK's default model (an OpenAI name, so Quarry's default Claude, which always
thinks) hands off to a weather agent on Claude Sonnet 4.5, which calls its function tool, then answers from it; run
whole (`Runner.run`) and streamed (`Runner.run_streamed`), storing responses as the SDK does by default."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import KEY
from tests.conftest import offline_environment

APP = Path(__file__).parent / "apps" / "agents_app.py"
# What the emulator's model is asked: the triage agent's handoff tool is named, so it is called.
PROMPT = "What is the weather in Paris? Ask transfer_to_weather_agent."


@pytest.fixture(scope="module")
def runs(gateway: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The app's two runs, whole and streamed, from one process (the SDK takes seconds to import)."""
    folder = tmp_path_factory.mktemp("agents")
    env = {k: v for k, v in offline_environment(folder).items() if not k.startswith("OPENAI_")}
    env |= {"OPENAI_BASE_URL": f"{gateway}/v1", "OPENAI_API_KEY": KEY, "OPENAI_AGENTS_DISABLE_TRACING": "1"}
    done = subprocess.run(
        [sys.executable, str(APP), PROMPT], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize("mode", ["whole", "streamed"])
def test_handoff_then_function_tool(runs: dict[str, Any], mode: str) -> None:
    out = runs[mode]

    # What the user's code sees: the weather agent answered, from what its tool returned.
    assert out["last_agent"] == "Weather agent"
    assert out["final_output"].startswith("The get_weather tool returned: It is sunny and 21 degrees")
    kinds = [(item["agent"], item["kind"]) for item in out["items"]]
    assert ("Triage agent", "handoff_call_item") in kinds
    assert ("Triage agent", "handoff_output_item") in kinds
    handoff = next(item["raw"] for item in out["items"] if item["kind"] == "handoff_call_item")
    assert handoff["name"] == "transfer_to_weather_agent"
    # The default model thinks: its reasoning item was kept and sent back (from the store) with the next request.
    assert ("Triage agent", "reasoning_item") in kinds
    call = next(item["raw"] for item in out["items"] if item["kind"] == "tool_call_item")
    assert call["name"] == "get_weather"
    assert "city" in json.loads(call["arguments"])
    output = next(item["raw"] for item in out["items"] if item["kind"] == "tool_call_output_item")
    assert output["call_id"] == call["call_id"]
    assert output["output"].startswith("It is sunny and 21 degrees")
    assert kinds[-1] == ("Weather agent", "message_output_item")
    # Three model calls: triage (handoff), weather agent (tool, forced), weather agent (answer).
    assert len(out["responses"]) == 3
    assert len(set(out["responses"])) == 3
    if mode == "streamed":
        assert {"raw_response_event", "run_item_stream_event", "agent_updated_stream_event"} <= set(out["events"])
