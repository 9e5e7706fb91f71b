"""The console's forms over plain HTTP: every POST needs the session's CSRF token, a session cookie is HttpOnly and
SameSite=Strict, a forged cookie is worth nothing, failures to sign in are throttled, and what a key is named is
shown as text, never as markup."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from quarry.server import create_app
from quarry.settings import Settings
from tests.admin.conftest import ADMIN, console_app, csrf_of, signed_in_client


def test_a_post_without_the_csrf_token_is_refused(console_url: str) -> None:
    with signed_in_client(console_url) as client:
        page = client.get("/console/keys")
        assert page.status_code == 200
        for form in ({"name": "sneaky"}, {"name": "sneaky", "csrf": "wrong"}, {"name": "sneaky", "csrf": ""}):
            refused = client.post("/console/keys", data=form)
            assert refused.status_code == 403
            assert "did not come from the console" in refused.text
        assert client.post("/console/sign-out", data={}).status_code == 403
        assert "sneaky" not in client.get("/console/keys").text  # nothing was created
        made = client.post("/console/keys", data={"name": "honest", "csrf": csrf_of(page.text)})
        assert made.status_code == 201
        assert "honest" in made.text


def test_the_session_cookie(console_url: str) -> None:
    with httpx.Client(base_url=console_url) as client:
        form = client.get("/console/sign-in")
        answer = client.post("/console/sign-in", data={"key": ADMIN, "csrf": csrf_of(form.text)})
        cookie = answer.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "path=/console" in cookie
        assert "secure" not in cookie  # plain HTTP on loopback
        assert client.get("/console/").status_code == 200
        value = client.cookies["quarry_console"]
        body, _, signature = value.partition(".")
        client.cookies.set("quarry_console", f"{body}.{signature[:-2]}AA", path="/console")
        assert client.get("/console/").headers["location"] == "/console/sign-in"


def test_the_cookie_is_secure_behind_https(console_url: str) -> None:
    # A TLS-terminating proxy on the same host: uvicorn takes the scheme from X-Forwarded-Proto sent by 127.0.0.1.
    with httpx.Client(base_url=console_url, headers={"x-forwarded-proto": "https"}) as client:
        cookie = client.get("/console/sign-in").headers["set-cookie"].lower()
        assert "; secure" in cookie
        assert "httponly" in cookie


def test_no_page_without_signing_in(console_url: str) -> None:
    with httpx.Client(base_url=console_url) as client:
        for path in ("/console/", "/console/keys", "/console/usage.csv", "/console/requests", "/console/live"):
            answer = client.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == "/console/sign-in"
        assert client.post("/console/keys", data={"name": "x", "csrf": "x"}).status_code == 403


def test_names_are_text_not_markup(console_url: str) -> None:
    with signed_in_client(console_url) as client:
        csrf = csrf_of(client.get("/console/keys").text)
        made = client.post("/console/keys", data={"name": "<script>alert(1)</script>", "csrf": csrf})
        assert made.status_code == 201
        assert "<script>alert(1)</script>" not in made.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in made.text
        bad = client.post("/console/keys", data={"name": "limits", "rpm": "many", "csrf": csrf})
        assert bad.status_code == 400
        assert "rpm must be a number" in bad.text


def test_rotation_keeps_the_settings_and_retires_the_old_secret(console_url: str, sdk: Any) -> None:
    with signed_in_client(console_url) as client:
        csrf = csrf_of(client.get("/console/keys").text)
        made = client.post(
            "/console/keys", data={"name": "rotating", "models": "*claude*", "tpm": "9000", "csrf": csrf}
        )
        old = made.text.split('id="secret">')[1].split("<")[0]
        key_id = made.text.split("Key <b>rotating</b> (")[1].split(")")[0]
        rotated = client.post(f"/console/keys/{key_id}/rotate", data={"csrf": csrf})
        assert rotated.status_code == 200
        assert "Key rotated" in rotated.text
        new = rotated.text.split('id="secret">')[1].split("<")[0]
        keys = httpx.get(f"{console_url}/admin/keys", headers={"authorization": f"Bearer {ADMIN}"}).json()["data"]
        active = [key for key in keys if key["name"] == "rotating"]
        assert [(key["models"], key["tpm"]) for key in active] == [(["*claude*"], 9000)]
    assert sdk.openai(f"{console_url}/v1", new).models.list().data
    with pytest.raises(Exception, match="revoked") as refused:
        sdk.openai(f"{console_url}/v1", old).models.list()
    assert getattr(refused.value, "status_code", None) == 401


def test_failed_sign_ins_are_throttled(serve: Any, tmp_path: Path) -> None:
    url = serve(console_app(tmp_path), lifespan="on").url  # its own app: the lockout must not reach other tests
    with httpx.Client(base_url=url) as client:
        csrf = csrf_of(client.get("/console/sign-in").text)
        statuses = [client.post("/console/sign-in", data={"key": "wrong", "csrf": csrf}).status_code for _ in range(6)]
        assert statuses[:5] == [401] * 5
        assert statuses[5] == 429
        locked = client.post("/console/sign-in", data={"key": ADMIN, "csrf": csrf})
        assert locked.status_code == 429
        assert "Try again in" in locked.text
        assert int(locked.headers["retry-after"]) >= 1


def test_models_count_bedrock_throttling_not_a_key_own_limit(console_url: str, sdk: Any) -> None:
    haiku = "anthropic.claude-3-haiku-20240307-v1:0"
    with signed_in_client(console_url) as client:
        csrf = csrf_of(client.get("/console/keys").text)
        made = client.post("/console/keys", data={"name": "one-a-minute", "rpm": "1", "csrf": csrf})
        secret = made.text.split('id="secret">')[1].split("<")[0]
        limited = sdk.openai(f"{console_url}/v1", secret)
        assert limited.chat.completions.create(model=haiku, messages=[{"role": "user", "content": "Hi"}]).choices
        with pytest.raises(openai.RateLimitError, match="Rate limit reached for this API key"):
            limited.chat.completions.create(model=haiku, messages=[{"role": "user", "content": "Hi"}])
        with pytest.raises(openai.RateLimitError, match="throttling"):
            sdk.openai(f"{console_url}/v1", ADMIN).chat.completions.create(
                model=haiku, messages=[{"role": "user", "content": "[[emulator: throttle]]"}]
            )
        models = client.get("/console/models").text
        row = next(line for line in models.split("<tr>") if haiku in line)
        cells = re.sub(r"<[^>]+>", " ", row).split()
        # Recent calls, availability, throttles, last error: the key's own refusal is not the model's doing.
        assert cells[4:8] == ["2", "50.0%", "1", "RateLimited"]
        log = client.get("/console/requests?model=haiku&outcome=error").text
        calls = log.split('id="requests"')[1].split("</table>")[0].split("<tr><td")[1:]
        assert len(calls) == 2
        assert all("RateLimited" in call and "429" in call for call in calls)


def csrf_of_visitor(client: httpx.Client) -> str:
    """The CSRF token in the visitor's session cookie (readable, only signed): for a page that shows no form."""
    body = client.cookies["quarry_console"].split(".")[0]
    return str(orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["csrf"])


def test_without_an_admin_key_nobody_signs_in(serve: Any, tmp_path: Path) -> None:
    url = serve(create_app(Settings(backend="emulator", data_dir=tmp_path)), lifespan="on").url  # keyless
    with httpx.Client(base_url=url) as client:
        form = client.get("/console/sign-in")
        assert "This server has no admin key" in form.text
        answer = client.post("/console/sign-in", data={"key": "anything", "csrf": csrf_of_visitor(client)})
        assert answer.status_code == 403
        assert "This server has no admin key" in answer.text
        assert client.get("/console/").headers["location"] == "/console/sign-in"
