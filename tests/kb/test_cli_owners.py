"""`quarry kb` acts as the admin: it shows who owns each knowledge base and whom it is shared with, shares and
unshares, and gives a knowledge base to another owner — in a real process, on the same files as the server."""

from __future__ import annotations

import json
from pathlib import Path

from .test_cli import quarry


def _listed(data: Path) -> dict[str, dict[str, object]]:
    return {row["name"]: row for row in json.loads(quarry(data, "ls", "--json").stdout)}


def test_owners_are_shown_and_sharing_and_transfers_are_made(tmp_path: Path) -> None:
    data = tmp_path / "data"
    quarry(data, "create", "office")
    shared = quarry(data, "share", "office", "key_1a2b", "user:u:ada", "*")
    assert "office is shared with key:key_1a2b, user:u:ada, *." in shared.stdout
    row = _listed(data)["office"]
    assert row["owner"] == "admin"  # what the CLI makes is the admin's
    assert row["shared_with"] == [
        {"grantee": "key:key_1a2b", "access": "read"},
        {"grantee": "user:u:ada", "access": "read"},
        {"grantee": "*", "access": "read"},
    ]
    assert "owner admin, shared with key:key_1a2b, user:u:ada, *" in quarry(data, "ls").stdout
    unshared = quarry(data, "unshare", "office", "*", "key:key_1a2b")
    assert "office is shared with user:u:ada." in unshared.stdout
    given = quarry(data, "transfer", "office", "key_9f9f")
    assert "office belongs to key:key_9f9f." in given.stdout
    wrong = quarry(data, "share", "office", "team a", check=False)
    assert wrong.returncode != 0
    assert "'team a' names no one" in wrong.stderr
