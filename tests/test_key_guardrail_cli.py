"""`quarry keys create --guardrail` and `quarry keys guardrail`: a key's own Bedrock guardrail, set, shown and
removed from the command line, and a malformed one refused with the field at fault."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import offline_environment


def keys(home: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quarry", "keys", *arguments],
        env=offline_environment(home) | {"QUARRY_API_KEY": "sk-bootstrap"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_a_keys_guardrail_is_set_and_removed(tmp_path: Path) -> None:
    made = keys(tmp_path, "create", "--name", "bot", "--guardrail", "gr0policy:2", "--guardrail-stream-mode", "async",
                "--json")  # fmt: skip
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["guardrail"] == {
        "identifier": "gr0policy",
        "version": "2",
        "trace": "disabled",
        "stream_processing_mode": "async",
    }
    removed = keys(tmp_path, "guardrail", created["id"], "--remove")
    assert removed.returncode == 0, removed.stderr
    assert "guardrail: none" in removed.stdout


def test_a_malformed_guardrail_is_refused(tmp_path: Path) -> None:
    refused = keys(tmp_path, "create", "--name", "bot", "--guardrail", "Not An Id:latest")
    assert refused.returncode == 2
    assert "--guardrail" in refused.stderr
    assert "identifier" in refused.stderr
