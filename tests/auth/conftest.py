"""Real services for the team features: Redis from Debian's `redis-server`, PostgreSQL from `pgserver`, and
gateways with a bootstrap (admin) key over the in-process emulator. A missing service fails, never skips."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import offline_environment

ADMIN = "sk-admin-quarry-test"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is missing: scripts/test installs Debian's redis-server"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            assert process.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


def admin_post(url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(f"{url}{path}", json=body, headers={"Authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def new_key(url: str, **fields: Any) -> str:
    """A team key made through the admin API; returns the secret."""
    created = admin_post(url, "/admin/keys", {"name": fields.pop("name", "test"), **fields})
    secret: str = created["key"]
    return secret


class Served:
    """`quarry serve` as its own process, offline (emulator backend), with the given environment."""

    def __init__(self, env: dict[str, str], data_dir: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = offline_environment(data_dir) | {"QUARRY_BACKEND": "emulator", **env}
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "serve.log"  # its JSON log: a pipe nobody reads would fill and stall the server

    def start(self) -> Served:
        quarry = Path(__import__("sys").executable).with_name("quarry")
        with self.log.open("a") as log:
            self.process = subprocess.Popen([str(quarry), "serve", "--port", str(self.port)], env=self.env, stderr=log)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"quarry serve did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)
