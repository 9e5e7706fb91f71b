"""The toolbox and credentials, in each way Quarry can run: no key, a server key, team keys, sign-in.

The server's key and a signed-in user's derived credential never reach the browser (not in the page, its scripts,
its config, any component's value, its storage, nor the log); a typed key is checked with itself; the toolbox
calls its own Quarry only; a derived credential reads its own user's conversations and nothing of the admin's.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from quarry.auth import ToolboxCredentials
from quarry.ui._auth import hash_password
from tests.conftest import offline_environment
from tests.ui.conftest import running_quarry

WAIT = 60_000  # ms: a loaded 2-core machine; each wait is on what the user waits for
ADMIN = "sk-admin-never-in-a-browser-0123456789"
SECRET = "toolbox-credential-secret-for-tests"
PASSWORD = "correct horse"
MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"  # the default model, which the emulator serves
USERS = {"ada": hash_password(PASSWORD, iterations=1000), "bob": hash_password(PASSWORD, iterations=1000)}


def derived(user: str) -> str:
    """What the server derives for a signed-in toolbox user (as `ui.credential_secret` = SECRET makes it)."""
    return ToolboxCredentials(hashlib.sha256(SECRET.encode()).digest()).issue(user)


def team_key(home: Path) -> str:
    """A team key made with the CLI, as the README's keys section has a user do."""
    made = subprocess.run(
        [sys.executable, "-m", "quarry", "keys", "create", "--name", "team", "--json"],
        env=offline_environment(home),
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(made.stdout)["key"])


class Quarry:
    def __init__(self, url: str, home: Path, team: str | None = None) -> None:
        self.url, self.home, self.team = url, home, team

    def log(self) -> str:
        return (self.home / "serve.log").read_text()


@pytest.fixture(scope="module")
def server_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Quarry]:
    home = tmp_path_factory.mktemp("server-key")
    with running_quarry(home, {"QUARRY_API_KEY": ADMIN}) as url:
        yield Quarry(url, home)


@pytest.fixture(scope="module")
def team_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Quarry]:
    home = tmp_path_factory.mktemp("team-keys")
    key = team_key(home)
    with running_quarry(home, {}) as url:
        yield Quarry(url, home, key)


@pytest.fixture(scope="module")
def signed_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Quarry]:
    home = tmp_path_factory.mktemp("signed-in")
    env = {"QUARRY_API_KEY": ADMIN, "QUARRY_UI__USERS": json.dumps(USERS), "QUARRY_UI__CREDENTIAL_SECRET": SECRET}
    with running_quarry(home, env) as url:
        yield Quarry(url, home)


# Gradio's event streams never end while the page is open, so Playwright never has their bodies: the page keeps a
# copy of every piece of every response it reads, fetched or streamed.
COPY_STREAMS = """
window.__streamed = [];
const originalFetch = window.fetch;
window.fetch = async (...args) => {
  const response = await originalFetch(...args);
  if (response.body) {
    const reader = response.clone().body.getReader();
    const decoder = new TextDecoder();
    (async () => {
      for (;;) {
        const {done, value} = await reader.read();
        if (done) return;
        window.__streamed.push(decoder.decode(value));
      }
    })().catch(() => {});
  }
  return response;
};
const OriginalEventSource = window.EventSource;
window.EventSource = function (url, options) {
  const source = new OriginalEventSource(url, options);
  source.addEventListener("message", (event) => window.__streamed.push(event.data));
  return source;
};
window.EventSource.prototype = OriginalEventSource.prototype;
"""


class Visit:
    """A browser context that keeps the body of every response it received."""

    def __init__(self, browser: Browser) -> None:
        self.context: BrowserContext = browser.new_context(viewport={"width": 1280, "height": 1000})
        self.context.set_default_timeout(WAIT)
        self.bodies: list[str] = []
        self.context.add_init_script(COPY_STREAMS)
        self.page = self.context.new_page()
        # Finished requests only: their bodies are complete (streams included, once they end).
        self.page.on("requestfinished", self._keep)

    def _keep(self, request: object) -> None:
        response = request.response()  # type: ignore[attr-defined]  # a playwright Request
        try:
            self.bodies.append(response.body().decode(errors="replace") if response else "")
        except Exception:  # a redirect or an aborted download has no body: nothing to read
            return

    def open(self, url: str, user: str | None = None) -> Page:
        if user:  # Gradio's sign-in form posts here
            self.context.request.post(f"{url}/ui/login", form={"username": user, "password": PASSWORD})
        self.page.goto(f"{url}/ui/")
        expect(self.page.locator("#toolbox-banner")).not_to_be_empty(timeout=WAIT)
        return self.page

    def everything(self, url: str) -> str:
        """All the browser was given: responses, the page as it stands, every field's value, its storage, the
        cookies, and the config Gradio serves to it."""
        page = self.page
        page.get_by_role("tab", name="Settings", exact=True).click()
        # A tab's fields exist once it is shown, and have their values a moment later: the model is always set.
        expect(page.locator("#settings-model input")).not_to_have_value("", timeout=WAIT)
        streamed = page.evaluate("() => window.__streamed")
        values = page.evaluate("() => [...document.querySelectorAll('input, textarea')].map((e) => e.value)")
        storage = page.evaluate("() => JSON.stringify({...localStorage, ...sessionStorage})")
        config = self.context.request.get(f"{url}/ui/config").text()
        cookies = str(self.context.cookies())
        return "\n".join([*self.bodies, *streamed, page.content(), *values, storage, cookies, config])

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser: Browser) -> Iterator[Visit]:
    opened = Visit(browser)
    yield opened
    opened.close()


def send_chat(page: Page, text: str) -> None:
    box = page.locator("#chat-input textarea")
    box.fill(text)
    box.press("Enter")


def settings_key(page: Page, key: str) -> None:
    page.get_by_role("tab", name="Settings", exact=True).click()
    page.locator("#settings-api-key input").fill(key)
    page.locator("#settings-save").click()


def assert_nothing_secret(seen: str, *secrets: str) -> None:
    for secret in secrets:
        at = seen.find(secret)
        assert at < 0, seen[max(0, at - 600) : at + 100]
    assert "qtu-" not in seen  # no derived credential of anyone's


def test_keyless_page_carries_no_credential(visit: Visit, toolbox_url: str) -> None:
    page = visit.open(toolbox_url)
    send_chat(page, "Hello without a key")
    expect(page.locator("#chat-bot")).to_contain_text('You said: "Hello without a key"', timeout=WAIT)
    seen = visit.everything(toolbox_url)
    assert_nothing_secret(seen)
    assert page.locator("#settings-api-url").count() == 0  # no field to send keys elsewhere


def test_server_key_never_reaches_the_page(visit: Visit, server_key: Quarry) -> None:
    page = visit.open(server_key.url)
    assert_nothing_secret(visit.everything(server_key.url), ADMIN)
    # The toolbox no longer calls with the server's key: it says what the user needs to do.
    expect(page.locator("#toolbox-banner")).to_contain_text("This Quarry needs an API key", timeout=WAIT)
    assert ADMIN not in server_key.log()


def test_a_typed_key_is_checked_with_itself_and_never_shown_again(visit: Visit, team_keys: Quarry) -> None:
    assert team_keys.team is not None
    page = visit.open(team_keys.url)
    expect(page.locator("#toolbox-banner")).to_contain_text("This Quarry needs an API key", timeout=WAIT)
    send_chat(page, "Hello before any key")
    expect(page.locator("#chat-status")).to_contain_text("type yours in Settings", timeout=WAIT)

    settings_key(page, "qk-not-a-key-of-this-quarry")
    expect(page.locator("#settings-status")).to_contain_text("That key was refused", timeout=WAIT)
    expect(page.locator("#settings-key-status")).to_contain_text("No API key saved")

    settings_key(page, team_keys.team)
    expect(page.locator("#settings-status")).to_contain_text("Saved for you.", timeout=WAIT)
    expect(page.locator("#settings-key-status")).to_contain_text(f"ending …{team_keys.team[-4:]}")
    expect(page.locator("#settings-api-key input")).to_have_value("")
    page.get_by_role("tab", name="Chat", exact=True).click()
    send_chat(page, "Hello with my key")
    expect(page.locator("#chat-bot")).to_contain_text('You said: "Hello with my key"', timeout=WAIT)

    # Reloaded, the key is still in use and still not in the page.
    page.reload()
    expect(page.locator("#toolbox-banner")).to_contain_text("default model", timeout=WAIT)
    visit.bodies.clear()
    assert_nothing_secret(visit.everything(team_keys.url), team_keys.team)
    expect(page.locator("#settings-key-status")).to_contain_text(f"ending …{team_keys.team[-4:]}")
    assert team_keys.team not in team_keys.log()


def test_signed_in_page_carries_neither_key_nor_credential(visit: Visit, signed_in: Quarry) -> None:
    page = visit.open(signed_in.url, user="ada")
    expect(page.locator("#toolbox-banner")).to_contain_text("ada · default model", timeout=WAIT)
    send_chat(page, "Hello as ada")
    expect(page.locator("#chat-bot")).to_contain_text('You said: "Hello as ada"', timeout=WAIT)
    seen = visit.everything(signed_in.url)
    assert_nothing_secret(seen, ADMIN, derived("u:ada"), SECRET)
    expect(page.locator("#settings-key-status")).to_contain_text("credential made from your sign-in")
    log = signed_in.log()
    assert ADMIN not in log
    assert "qtu-" not in log


def test_an_api_url_elsewhere_is_not_used(visit: Visit, signed_in: Quarry) -> None:
    """Settings stored by an older toolbox (a URL and a key of the user's choosing) are ignored."""
    with socket.create_server(("127.0.0.1", 0)) as trap:
        trap.settimeout(0)
        elsewhere = f"http://127.0.0.1:{trap.getsockname()[1]}"
        stored = {"api_url": elsewhere, "api_key": "sk-sent-elsewhere", "presets": {}}
        headers = {"Authorization": f"Bearer {derived('u:bob')}"}
        httpx.put(f"{signed_in.url}/v1/user/settings", json=stored, headers=headers, timeout=30).raise_for_status()
        page = visit.open(signed_in.url, user="bob")
        send_chat(page, "Hello as bob")
        expect(page.locator("#chat-bot")).to_contain_text('You said: "Hello as bob"', timeout=WAIT)
        assert page.locator("#settings-api-url").count() == 0
        with pytest.raises(BlockingIOError):
            trap.accept()  # nothing ever connected to it
    assert "sk-sent-elsewhere" not in visit.everything(signed_in.url)


def test_a_derived_credential_is_bound_to_its_user(signed_in: Quarry) -> None:
    def client(user: str) -> httpx.Client:
        return httpx.Client(base_url=signed_in.url, headers={"Authorization": f"Bearer {derived(user)}"}, timeout=30)

    with client("u:ada") as ada, client("u:bob") as bob:
        theirs = bob.post("/v1/toolbox/conversations", json={"title": "Bob's plans"}).json()
        mine = ada.post("/v1/toolbox/conversations", json={"title": "Ada's notes"}).json()
        # Whatever user it names, ada's credential sees ada's conversations only.
        listed = ada.get("/v1/toolbox/conversations", headers={"X-Quarry-User": "u:bob"}).json()["data"]
        ids = {c["id"] for c in listed}
        assert mine["id"] in ids
        assert theirs["id"] not in ids
        refused = ada.get(f"/v1/toolbox/conversations/{theirs['id']}", headers={"X-Quarry-User": "u:bob"})
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "conversation_not_found"
        # It may call the models, never the admin API.
        hello = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
        answer = ada.post("/v1/chat/completions", json=hello)
        assert answer.status_code == 200, answer.text
        admin = ada.get("/admin/keys")
        assert admin.status_code == 403
        assert admin.json()["error"]["code"] == "admin_only"
    # Nor can the admin key's conversations of a toolbox user be reached with it, or the other way round.
    with httpx.Client(base_url=signed_in.url, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30) as admin:
        assert admin.get("/v1/toolbox/conversations", headers={"X-Quarry-User": "u:ada"}).json()["data"] == []
    forged = derived("u:ada")[:-2] + ("AA" if not derived("u:ada").endswith("AA") else "BB")
    response = httpx.get(f"{signed_in.url}/v1/models", headers={"Authorization": f"Bearer {forged}"}, timeout=30)
    assert response.status_code == 401
    assert re.search("toolbox credential", response.json()["error"]["message"])
