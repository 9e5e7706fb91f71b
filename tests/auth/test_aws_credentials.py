"""AWS credentials of team keys in both databases: the secret is stored encrypted, never as given; replicas that share
the server key (QUARRY_SERVER_KEY) read what another stored, a replica with another key is told what to fix; one
credential per key, replaced on rotation, gone when removed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from quarry.auth import SERVER_KEY_PURPOSE, AwsCredentialStore, KeyStore, server_key
from quarry.errors import QuarryError
from quarry.settings import Settings
from quarry.store import Database, open_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    opened = await open_database(url, tmp_path)
    yield opened
    await opened.close()


def _store(database: Database, settings: Settings) -> AwsCredentialStore:
    return AwsCredentialStore(database, lambda: server_key(settings, SERVER_KEY_PURPOSE))


async def test_replicas_sharing_the_server_key_verify_what_another_issued(database: Database, tmp_path: Path) -> None:
    key, _ = await KeyStore(database).create("replicas")
    shared = SecretStr("one key for every replica")
    first = _store(database, Settings(data_dir=tmp_path / "a", server_key=shared))
    second = _store(database, Settings(data_dir=tmp_path / "b", server_key=shared))
    credential, secret = await first.issue(key)
    row = await database.fetchrow(
        "SELECT sealed FROM aws_credentials WHERE access_key_id = ?", credential.access_key_id
    )
    assert row is not None
    assert secret not in row["sealed"]
    found = await second.find(credential.access_key_id)
    assert found is not None
    assert (found[0].id, found[1]) == (key.id, secret)
    other = _store(database, Settings(data_dir=tmp_path / "c", server_key=SecretStr("another")))
    with pytest.raises(QuarryError, match="Replicas sharing a database need the same QUARRY_SERVER_KEY"):
        await other.find(credential.access_key_id)
    assert await second.find("QKIAUNKNOWNUNKNOWN00") is None


async def test_without_a_server_key_the_data_dir_keeps_one(database: Database, tmp_path: Path) -> None:
    key, _ = await KeyStore(database).create("one machine")
    settings = Settings(data_dir=tmp_path / "data")
    credential, secret = await _store(database, settings).issue(key)
    assert (tmp_path / "data" / "server.key").stat().st_mode & 0o077 == 0  # its owner's only
    found = await _store(database, Settings(data_dir=tmp_path / "data")).find(credential.access_key_id)  # the CLI
    assert found is not None
    assert found[1] == secret


async def test_one_credential_per_key_replaced_on_rotation_and_removed(database: Database, tmp_path: Path) -> None:
    keys = KeyStore(database)
    key, _ = await keys.create("rotating")
    store = _store(database, Settings(data_dir=tmp_path))
    old, _ = await store.issue(key)
    new, secret = await store.issue(key)
    assert await store.find(old.access_key_id) is None
    found = await store.find(new.access_key_id)
    assert found is not None
    assert found[1] == secret
    assert (await store.of_keys())[key.id] == new
    assert await store.remove(key.id) == 1
    assert await store.find(new.access_key_id) is None
    assert await store.remove(key.id) == 0
    with pytest.raises(QuarryError, match="revoked"):
        await store.issue(await keys.revoke(key.id))
