"""`quarry ui` refusals and `quarry ui hash-password`."""

from __future__ import annotations

from click.testing import CliRunner

from quarry.cli import main
from quarry.ui._auth import verify_password


def test_hash_password_prints_a_verifiable_hash() -> None:
    result = CliRunner().invoke(main, ["ui", "hash-password"], input="s3cret\ns3cret\n")
    assert result.exit_code == 0, result.output
    assert verify_password("s3cret", result.output.strip().splitlines()[-1])


def test_exposed_toolbox_without_sign_in_is_refused() -> None:
    result = CliRunner().invoke(main, ["ui", "--host", "0.0.0.0", "--port", "0"], env={"QUARRY_UI__USERS": "{}"})
    assert result.exit_code == 2
    assert "without sign-in" in result.output
