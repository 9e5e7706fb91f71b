"""`quarry keys create` on a keyless Quarry: the first team key says that keyless mode ends and what the SDKs and
the toolbox then need; later keys, or a Quarry with its own key, say nothing of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import offline_environment


def create(home: Path, *options: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quarry", "keys", "create", "--name", "team", *options],
        env=offline_environment(home) | (env or {}),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )


def test_the_first_key_says_keyless_mode_ends_and_what_the_toolbox_needs(tmp_path: Path) -> None:
    first = create(tmp_path)
    assert "keyless mode ends now" in first.stdout
    assert "Settings > API key" in first.stdout
    second = create(tmp_path)
    assert "keyless" not in second.stdout


def test_with_json_the_note_goes_to_stderr(tmp_path: Path) -> None:
    made = create(tmp_path, "--json")
    assert json.loads(made.stdout)["key"]
    assert "keyless mode ends now" in made.stderr


def test_a_quarry_with_its_own_key_was_never_keyless(tmp_path: Path) -> None:
    made = create(tmp_path, env={"QUARRY_API_KEY": "sk-bootstrap"})
    assert "keyless" not in made.stdout + made.stderr


def keys(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quarry", "keys", *args],
        env=offline_environment(home),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_aws_credentials_are_shown_once_rotated_and_removed(tmp_path: Path) -> None:
    made = json.loads(create(tmp_path, "--aws", "--json").stdout)
    first = made["aws_access_key_id"]
    assert first.startswith("QKIA")
    assert len(made["aws_secret_access_key"]) == 40
    listed = keys(tmp_path, "ls", "--json")
    assert made["aws_secret_access_key"] not in listed.stdout
    rotated = keys(tmp_path, "aws", made["id"])
    assert rotated.returncode == 0, rotated.stderr
    assert "AWS_ACCESS_KEY_ID=QKIA" in rotated.stdout
    assert first not in rotated.stdout
    assert "AWS_SECRET_ACCESS_KEY=" in rotated.stdout
    removed = keys(tmp_path, "aws", made["id"], "--remove")
    assert removed.stdout.strip() == f"Removed the AWS credentials of {made['id']} (team)."
    again = keys(tmp_path, "aws", made["id"], "--remove")
    assert again.returncode == 1
    assert "has no AWS credentials" in again.stderr
    unknown = keys(tmp_path, "aws", "key_nope")
    assert "No API key with id `key_nope`" in unknown.stderr
