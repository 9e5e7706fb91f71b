"""Codex CLI from npm (`codex exec`) against Quarry over the emulator, as a new user sets it up: a custom model provider
in config.toml (`wire_api = "responses"`, the base URL, `env_key` naming the variable that holds the Quarry key),
nothing else reachable. Every request carries what Codex sends: `stream`, `store: false`,
`include: ["reasoning.encrypted_content"]`, `reasoning.summary: "auto"`, developer items, `prompt_cache_key`,
`client_metadata`, and function, namespace and web_search tools. The emulator's model calls Codex's `exec_command`
tool with a command (an `[[emulator: call=…]]` directive in the prompt), Codex runs it in the work folder, sends the
output back, and prints the answer; with thinking on, the encrypted reasoning goes back with the tool's output.

Config keys: https://developers.openai.com/codex/config-sample (model_providers, analytics, update check)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import KEY, Emulator
from tests.clients.conftest import CODEX_VERSION, npm_install
from tests.conftest import offline_environment

CONFIG = """\
model = "{model}"
model_provider = "quarry"
check_for_update_on_startup = false
{extra}

[model_providers.quarry]
name = "Quarry"
base_url = "{gateway}/v1"
env_key = "QUARRY_API_KEY"
wire_api = "responses"

[analytics]
enabled = false
"""
COMMAND = "echo made by codex > made.txt && cat made.txt"


@pytest.fixture(scope="module")
def codex() -> Path:
    return npm_install("@openai/codex", CODEX_VERSION) / "codex"


def _exec(codex: Path, gateway: str, folder: Path, model: str, prompt: str, extra: str = "") -> list[dict[str, Any]]:
    """`codex exec --json PROMPT` in a work folder of its own, with a CODEX_HOME of its own: its JSON events."""
    home, work = folder / "codex-home", folder / "work"
    home.mkdir()
    work.mkdir()
    (home / "config.toml").write_text(CONFIG.format(model=model, gateway=gateway, extra=extra))
    env = {k: v for k, v in offline_environment(folder).items() if not k.startswith(("OPENAI_", "CODEX_"))}
    env |= {"HOME": str(folder), "CODEX_HOME": str(home), "QUARRY_API_KEY": KEY}
    # No sandbox: Codex's own (Landlock, seccomp) needs kernel features containers often lack; the folder is a
    # temporary one and the command is the test's.
    command = [str(codex), "exec", "--json", "--skip-git-repo-check", "--sandbox", "danger-full-access", prompt]
    done = subprocess.run(
        command, cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize(
    ("model", "extra", "thinks"),
    [
        ("claude-sonnet-4-5", "", False),  # no thinking unless asked
        ("claude-sonnet-4-5", 'model_reasoning_effort = "high"', True),  # thinking with a budget
        ("claude-sonnet-5-5", "", True),  # adaptive thinking, always on, its text omitted unless a summary is asked
    ],
    ids=["sonnet-4-5", "sonnet-4-5-thinking", "sonnet-5-5"],
)
def test_exec_runs_a_command(
    codex: Path, gateway: str, emulator: Emulator, tmp_path: Path, model: str, extra: str, thinks: bool
) -> None:
    before = emulator.app.requests.by_operation.get("ConverseStream", 0)
    prompt = f"[[emulator: call=exec_command {json.dumps({'cmd': COMMAND})}]] Make the file."
    events = _exec(codex, gateway, tmp_path, model, prompt, extra)

    # The file the command made is there, and Codex saw the command succeed.
    assert (tmp_path / "work" / "made.txt").read_text() == "made by codex\n"
    items = [event["item"] for event in events if event["type"] == "item.completed"]
    commands = [item for item in items if item["type"] == "command_execution"]
    assert len(commands) == 1, items
    assert COMMAND in commands[0]["command"]
    assert commands[0]["exit_code"] == 0
    assert commands[0]["aggregated_output"] == "made by codex\n"
    # The model's answer after the tool, as Codex prints it: what the command printed.
    messages = [item["text"] for item in items if item["type"] == "agent_message"]
    assert messages[-1].startswith("The exec_command tool returned:")
    assert messages[-1].endswith("made by codex\n")
    # No error but the one Codex prints for any model outside its own catalog.
    errors = [item["message"] for item in items if item["type"] == "error"]
    assert all(message.startswith(f"Model metadata for `{model}` not found") for message in errors), errors
    turns = [event for event in events if event["type"] == "turn.completed"]
    assert len(turns) == 1
    assert turns[0]["usage"]["output_tokens"] > 0
    # Claude's thinking, shown as Codex's reasoning summary before the command and again after it: the second turn
    # was taken only because the first one's signed thinking came back, decrypted, ahead of the tool call.
    reasoning = [item["text"] for item in items if item["type"] == "reasoning"]
    if thinks:
        assert len(reasoning) == 2, items
        assert "call exec_command" in reasoning[0]
        assert turns[0]["usage"]["reasoning_output_tokens"] > 0
    else:
        assert reasoning == []
    assert not [event for event in events if event["type"] in ("turn.failed", "error")]
    # Two model turns, the command's and the answer's, streamed through Converse.
    assert emulator.app.requests.by_operation["ConverseStream"] - before >= 2
