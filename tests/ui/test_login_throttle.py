"""The toolbox's password sign-in: hashing never stalls the server, and failed sign-ins are throttled per user and per
address, over real HTTP against `quarry serve`'s app; and the throttle's table on its own."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from quarry.server import create_app
from quarry.settings import Settings, UISettings
from quarry.throttle import Throttle
from quarry.ui._auth import hash_password

# A real cost, seconds per try: long beside a /health answer even on a loaded 2-core machine, so the burst test's
# order of events does not depend on the machine's speed (at 300k iterations a loaded machine let one hash finish).
SLOW = hash_password("right", iterations=1_500_000)
FAST = hash_password("right", iterations=1_000)


@pytest.fixture
def signed_in_url(serve: Any) -> str:
    users = {"ada": SLOW, "grace": FAST}
    settings = Settings(backend="emulator", ui=UISettings(users=users))  # type: ignore[arg-type]
    url: str = serve(create_app(settings), lifespan="on").url
    return url


def login(url: str, user: str, password: str) -> httpx.Response:
    return httpx.post(f"{url}/ui/login", data={"username": user, "password": password})


async def burst_then_health(url: str) -> tuple[list[int], int, int]:
    """40 wrong logins at once for one user; once the throttle has refused all it will, /health; then how many of
    the admitted logins (hashing) were still unanswered."""
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=120) as client:
        logins = [
            asyncio.create_task(client.post(f"{url}/ui/login", data={"username": "ada", "password": f"guess-{n}"}))
            for n in range(40)
        ]
        pending: set[asyncio.Task[httpx.Response]] = set(logins)
        refused = 0
        while refused < 35:  # answered at once, before any password is hashed
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            refused += sum(task.result().status_code == 429 for task in done)
        # The five admitted logins are hashing now; on the event loop they would hold /health until one finished.
        health = await client.get(f"{url}/health")
        still_hashing = sum(not task.done() for task in logins)
        statuses = [response.status_code for response in await asyncio.gather(*logins)]
    return statuses, health.status_code, still_hashing


def test_logins_hash_off_the_loop_and_a_burst_is_throttled(signed_in_url: str) -> None:
    # In a thread of its own: the browser tests' Playwright keeps an event loop running on this one.
    with ThreadPoolExecutor(1) as pool:
        statuses, health, still_hashing = pool.submit(asyncio.run, burst_then_health(signed_in_url)).result()
    assert health == 200
    assert still_hashing == 5  # /health was answered while every admitted wrong password was still being hashed
    assert statuses.count(400) == 5  # QUARRY_UI__LOGIN_FAILURES: only these were hashed at all
    assert statuses.count(429) == 35


def test_the_failure_after_the_limit_is_throttled_with_a_clear_message(signed_in_url: str) -> None:
    for n in range(5):
        assert login(signed_in_url, "grace", f"wrong-{n}").status_code == 400
    refused = login(signed_in_url, "grace", "right")  # even the right password, while locked out
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith("Too many failed sign-ins for this user. Try again in ")
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    assert login(signed_in_url, "ada", "wrong").status_code == 400  # another user is not locked out


def multipart_login(url: str, user: str, password: str) -> httpx.Response:
    """As Gradio's sign-in page posts: a FormData body, multipart with no files."""
    boundary = "----quarry-test"
    parts = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in (("username", user), ("password", password))
    )
    body = f"{parts}--{boundary}--\r\n".encode()
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    return httpx.post(f"{url}/ui/login", content=body, headers=headers)


def test_the_sign_in_page_form_is_throttled_by_user_too(signed_in_url: str) -> None:
    for n in range(5):
        assert multipart_login(signed_in_url, "grace", f"wrong-{n}").status_code == 400
    assert multipart_login(signed_in_url, "grace", "right").status_code == 429
    assert multipart_login(signed_in_url, "ada", "wrong").status_code == 400


def test_a_successful_sign_in_forgives_the_users_failures(signed_in_url: str) -> None:
    for n in range(4):
        assert login(signed_in_url, "grace", f"wrong-{n}").status_code == 400
    signed = login(signed_in_url, "grace", "right")
    assert signed.status_code == 200
    assert signed.json() == {"success": True}
    for n in range(4):
        assert login(signed_in_url, "grace", f"wrong-again-{n}").status_code == 400


def test_addresses_are_throttled_across_user_names() -> None:
    throttle = Throttle(lockout_s=30)
    for n in range(3):
        assert throttle.begin([("user", f"u{n}", 5), ("address", "10.0.0.1", 3)], now=100.0) is None
    refused = throttle.begin([("user", "new", 5), ("address", "10.0.0.1", 3)], now=101.0)
    assert refused == ("address", 29.0)
    assert throttle.begin([("user", "new", 5), ("address", "10.0.0.2", 3)], now=101.0) is None


def test_lockouts_double_and_are_forgotten() -> None:
    throttle = Throttle(lockout_s=10, forget_after_s=900)
    keys: list[tuple[str, str, int]] = [("user", "ada", 2), ("address", "a", 100)]
    assert throttle.begin(keys, now=0) is None
    assert throttle.begin(keys, now=1) is None  # the second failure locks for 10 s
    assert throttle.begin(keys, now=5) == ("user", 6)
    assert throttle.begin(keys, now=12) is None  # after the lockout, one more try; failing it locks for 20 s
    assert throttle.begin(keys, now=20) == ("user", 12)
    assert throttle.begin(keys, now=2000) is None  # long quiet: forgotten


def test_the_table_is_capped() -> None:
    throttle = Throttle(lockout_s=10, max_keys=100)
    for n in range(1000):
        throttle.begin([("user", f"name-{n}", 5), ("address", f"10.0.{n // 256}.{n % 256}", 5)], now=0)
    assert len(throttle._records) == 100
