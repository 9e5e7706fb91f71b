"""Toolbox users' derived credentials: issued and checked by one secret, bound to one user, the secret kept once
in the data dir (owner-only) and shared by every process that uses it."""

from __future__ import annotations

import asyncio
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from quarry.auth import KeyAuthenticator, KeyStore, ToolboxCredentials, toolbox_credentials
from quarry.auth._toolbox_credentials import SECRET_FILE
from quarry.errors import AuthenticationFailed
from quarry.settings import Settings
from quarry.store import open_database


def test_a_credential_names_its_user_and_cannot_be_altered() -> None:
    credentials = ToolboxCredentials(b"s" * 32)
    token = credentials.issue("u:ada")
    assert credentials.user_of(token) == "u:ada"
    assert ToolboxCredentials.looks_like(token)
    other = ToolboxCredentials(b"t" * 32)
    assert other.user_of(token) is None  # another deployment's secret
    encoded, mac = token.removeprefix("qtu-").split(".")
    bob = credentials.issue("u:bob").removeprefix("qtu-").split(".")[0]
    assert credentials.user_of(f"qtu-{bob}.{mac}") is None  # ada's MAC on bob's name
    for broken in ("qtu-", "qtu-.", f"qtu-{encoded}", f"qtu-{encoded}.!!", "qtu-%%%.abc"):
        assert credentials.user_of(broken) is None


def test_the_secret_is_made_once_owner_only_and_shared(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with ThreadPoolExecutor(8) as pool:  # processes starting together agree on one secret
        made = list(pool.map(lambda _: toolbox_credentials(settings), range(8)))
    tokens = {credentials.issue("u:ada") for credentials in made if credentials is not None}
    assert len(tokens) == 1
    secret = tmp_path / "data" / SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert [p.name for p in secret.parent.iterdir()] == [SECRET_FILE]  # no drafts left behind


def test_a_configured_secret_wins_and_an_unwritable_data_dir_turns_credentials_off(tmp_path: Path) -> None:
    configured = Settings(data_dir=tmp_path / "nowhere", ui={"credential_secret": "shared-by-ui-and-api"})
    first, second = toolbox_credentials(configured), toolbox_credentials(configured)
    assert first is not None
    assert second is not None
    assert second.user_of(first.issue("u:ada")) == "u:ada"
    assert not (tmp_path / "nowhere").exists()
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    assert toolbox_credentials(Settings(data_dir=blocked)) is None


@pytest.mark.parametrize("bootstrap", [None, "sk-admin"])
def test_the_authenticator_binds_the_principal_to_the_user(tmp_path: Path, bootstrap: str | None) -> None:
    credentials = ToolboxCredentials(b"s" * 32)

    async def scenario() -> None:
        database = await open_database(None, tmp_path)
        try:
            keys = KeyStore(database)
            await keys.create("team")  # keys exist: nobody is let in without one
            authenticator = KeyAuthenticator(keys, bootstrap, toolbox=credentials)
            principal = await authenticator.authenticate(credentials.issue("u:ada"))
            assert (principal.user, principal.admin, principal.key) == ("u:ada", False, None)
            with pytest.raises(AuthenticationFailed, match="Incorrect toolbox credential"):
                await authenticator.authenticate(ToolboxCredentials(b"x" * 32).issue("u:ada"))
            without = KeyAuthenticator(keys, bootstrap)  # credentials off: none is accepted
            with pytest.raises(AuthenticationFailed):
                await without.authenticate(credentials.issue("u:ada"))
        finally:
            await database.close()

    asyncio.run(scenario())
