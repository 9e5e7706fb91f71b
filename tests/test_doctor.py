"""`quarry doctor` as a new user runs it: each line ✓ or ✗ with the fix, exit 1 when anything is wrong."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from quarry import __version__
from tests.conftest import offline_environment


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quarry", "doctor"], capture_output=True, text=True, env=env, timeout=120
    )


def test_a_fresh_offline_setup_is_all_well(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        free = str(probe.getsockname()[1])  # closed again below: free for the check
    env = offline_environment(tmp_path) | {"QUARRY_PORT": free, "QUARRY_EMULATOR__PORT": "0"}
    done = doctor(env)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert all(line.startswith("✓ ") for line in lines), done.stdout
    named = {line[2:].split(":", 1)[0] for line in lines}
    assert {"python", "quarry", "extras", "data dir", "backend", "database", "keys"} <= named
    assert f"✓ quarry: {__version__}" in lines
    assert f"✓ data dir: {tmp_path / 'data'} (writable)" in lines
    assert any("offline Bedrock emulator (no AWS credentials found" in line for line in lines)
    assert any(line.startswith("✓ keys: none: keyless") for line in lines)


def test_problems_are_crosses_with_their_fix(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the data dir should be")
    with socket.create_server(("127.0.0.1", 0)) as taken, socket.create_server(("127.0.0.1", 0)) as closed:
        dead, busy = closed.getsockname()[1], taken.getsockname()[1]
        closed.close()
        env = offline_environment(tmp_path) | {
            "QUARRY_PORT": str(busy),
            "QUARRY_BACKEND": "bedrock",
            "QUARRY_REDIS_URL": f"redis://127.0.0.1:{dead}/0",
        }
        done = doctor(env)
    assert done.returncode == 1
    out = done.stdout
    assert "Traceback" not in out + done.stderr
    assert "✗ data dir: " in out
    assert "fix: set QUARRY_DATA_DIR" in out
    assert "✗ backend: Amazon Bedrock is required, but no AWS credentials found" in out
    assert "✗ redis: redis://127.0.0.1:" in out
    assert "fix: start Redis" in out
    assert f"✗ port (quarry serve): 127.0.0.1:{busy} is in use" in out
