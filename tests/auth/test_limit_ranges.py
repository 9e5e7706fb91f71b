"""Key limits outside what the store can hold are a 400 naming the field (the admin API) or a usage error (the CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from quarry.auth import MAX_LIMIT
from quarry.server import create_app
from quarry.settings import Settings
from tests.auth.conftest import ADMIN


@pytest.fixture(scope="module")
def gateway(serve: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    data_dir: Path = tmp_path_factory.mktemp("limits")
    settings = Settings(backend="emulator", api_key=ADMIN, data_dir=data_dir)  # type: ignore[arg-type]
    url: str = serve(create_app(settings), lifespan="on").url
    return url


@pytest.mark.parametrize("field", ["rpm", "tpm", "max_concurrency"])
@pytest.mark.parametrize("value", [MAX_LIMIT + 1, 2**63, 2**64 - 1, 2**64, 10**30])
def test_a_limit_too_large_to_store_is_a_400_naming_it(gateway: str, field: str, value: int) -> None:
    response = httpx.post(
        f"{gateway}/admin/keys",
        headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"},
        content=f'{{"name": "huge", "{field}": {value}}}',  # written out: 2**64 and above are past orjson's range
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert field in (error["param"] or "") or "JSON" in error["message"]


def test_the_largest_limit_is_stored_and_listed(gateway: str) -> None:
    created = httpx.post(
        f"{gateway}/admin/keys",
        headers={"Authorization": f"Bearer {ADMIN}"},
        json={"name": "roomy", "rpm": MAX_LIMIT},
    )
    assert created.status_code in (200, 201), created.text
    listed = httpx.get(f"{gateway}/admin/keys", headers={"Authorization": f"Bearer {ADMIN}"}).json()["data"]
    assert [key["rpm"] for key in listed if key["name"] == "roomy"] == [MAX_LIMIT]
