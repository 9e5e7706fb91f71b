"""Claude Code itself (`claude -p`, from npm) against Quarry over the emulator, as a new user runs it: the Anthropic
API at ANTHROPIC_BASE_URL, an API key, no login, nothing else reachable. With its default model and with the
`opus`, `sonnet` and `haiku` aliases and a dated name it goes through a tool loop with thinking on (the emulator's
model calls the tools the prompt names, then answers from their results), every request carrying what Claude Code
sends: its beta flags (Bedrock refuses some: Quarry falls back to those it takes), the system attribution block,
adaptive thinking and effort, and (2.1.197) a mid-conversation system message. Claude Code runs offline here: with
ANTHROPIC_API_KEY it needs no login, and CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC keeps it off the network."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import KEY, Emulator
from tests.conftest import offline_environment


def _run(claude: Path, gateway: str, folder: Path, prompt: str, *args: str) -> list[dict[str, Any]]:
    """`claude -p PROMPT` in a folder of its own, with a home of its own: its stream-json lines."""
    work = folder / "work"
    work.mkdir(exist_ok=True)
    env = {k: v for k, v in offline_environment(folder).items() if not k.startswith(("ANTHROPIC_", "CLAUDE_"))}
    env |= {
        "HOME": str(folder / "home"),
        "ANTHROPIC_BASE_URL": gateway,
        "ANTHROPIC_API_KEY": KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",  # no telemetry, update checks or error reports
        "DISABLE_AUTOUPDATER": "1",
    }
    command = [str(claude), "-p", prompt, "--output-format", "stream-json", "--verbose", *args]
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


# What each pinned Claude Code asks for (captured from its requests): its default model and its `sonnet` alias.
# A dated name goes as it is, and to an older Claude on InvokeModel.
DATED = "claude-sonnet-4-5-20250929"
MODELS: dict[str, dict[str | None, str]] = {
    "2.1.197": {
        None: "claude-opus-4-8",
        "opus": "claude-opus-4-8",
        "sonnet": "claude-sonnet-5",
        "haiku": "claude-haiku-4-5-20251001",
        DATED: DATED,
    },
    "2.1.332": {
        None: "claude-opus-5-5",
        "opus": "claude-opus-5-5",
        "sonnet": "claude-sonnet-5-5",
        "haiku": "claude-haiku-5-5",
        DATED: DATED,
    },
}

LEGACY = {DATED, "claude-haiku-4-5-20251001"}


@pytest.mark.parametrize("alias", [None, "opus", "sonnet", "haiku", DATED])
def test_tool_loop_with_thinking(
    claude_code: tuple[str, Path], gateway: str, emulator: Emulator, tmp_path: Path, alias: str | None
) -> None:
    version, claude = claude_code
    before = dict(emulator.app.requests.by_operation)
    before.setdefault("Messages", 0)
    before.setdefault("InvokeModelWithResponseStream", 0)
    args = ("--model", alias) if alias else ()
    lines = _run(claude, gateway, tmp_path, "Use the Bash tool.", "--allowedTools", "Bash", *args)

    results = [line for line in lines if line["type"] == "result"]
    assert results, lines[-3:]
    assert results[0]["subtype"] == "success", results[0]
    assert not results[0]["is_error"], results[0]
    answers = [line["message"] for line in lines if line["type"] == "assistant"]
    # Every answer names the model Claude Code asked for, which it checks before keeping earlier thinking blocks.
    assert {answer["model"] for answer in answers} == {MODELS[version][alias]}
    blocks = [block for answer in answers for block in answer["content"]]
    assert any(b["type"] == "thinking" and b["signature"] for b in blocks)
    # The emulator's model calls the tools the prompt names (Bash; Claude Code's own reminders name others too).
    calls = {b["id"]: b["name"] for b in blocks if b["type"] == "tool_use"}
    assert "Bash" in calls.values()
    answered = [
        block["tool_use_id"]
        for line in lines
        if line["type"] == "user" and isinstance(line["message"]["content"], list)
        for block in line["message"]["content"]
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert set(calls) <= set(answered)
    # Then the turn after the tools' results: sent back with the earlier signed thinking, and answered.
    first_call = next(i for i, answer in enumerate(answers) if any(b["type"] == "tool_use" for b in answer["content"]))
    assert {answer["id"] for answer in answers[first_call + 1 :]} - {answers[first_call]["id"]}
    # Claude 4.7 and later are served by Bedrock's Messages endpoint, older models by InvokeModel.
    operation = "InvokeModelWithResponseStream" if MODELS[version][alias] in LEGACY else "Messages"
    assert emulator.app.requests.by_operation[operation] > before[operation]
