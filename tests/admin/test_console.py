"""The operator's console in Debian's chromium, acting as an operator does: sign in with the admin key, create a key,
call the API with it (the openai SDK), and find the call in the request log and the plots; every page's screenshot
is kept in docs/images for the README."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from playwright.sync_api import Browser, Page, expect

from quarry.server import create_app
from quarry.settings import BedrockSettings, ResilienceSettings, Settings, TracingSettings
from tests.admin.conftest import ADMIN, IMAGES, sign_in
from tests.observability.otlp import Receiver

MODEL = "claude-sonnet-4-5"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def shot(page: Page, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / f"console-{name}.png"))


def test_create_a_key_use_it_and_see_the_call(console: Page, console_url: str, sdk: Any) -> None:
    page = console
    page.get_by_role("link", name="Keys").click()
    form = page.locator("#create-key")
    form.get_by_label("Name").fill("web-team")
    form.get_by_label("Requests per minute").fill("600")
    form.get_by_label("Budget: USD per day").fill("5")
    form.get_by_label("Fallbacks").fill("claude-haiku-4-5, claude-3-haiku")
    form.get_by_label("Team").fill("web")
    form.get_by_role("button", name="Create key").click()
    secret = page.locator("#secret")
    expect(secret).to_have_text(re.compile(r"^\S{20,}$"))
    key = secret.inner_text()
    row = page.locator("#keys tr", has_text="web-team")
    expect(row).to_contain_text("600 rpm")
    expect(row).to_contain_text("$5.00 per day")
    expect(row).to_contain_text("claude-haiku-4-5 → claude-3-haiku")
    expect(row.locator("td").nth(5)).to_have_text("web")
    shot(page, "keys")

    client = sdk.openai(f"{console_url}/v1", key)
    answer = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hello"}])
    assert answer.choices[0].message.content

    page.get_by_role("link", name="Requests").click()
    call = page.locator("#requests tbody tr", has_text="web-team").first
    expect(call).to_contain_text(MODEL)
    expect(call).to_contain_text("POST /v1/chat/completions")
    expect(call).to_contain_text("200")
    # Quarry's own time beside the latency (tracing is off here: no trace id).
    expect(call.locator("td").nth(10)).to_have_text(re.compile(r"^\d+\.\d ms$"))
    expect(call.locator("td").nth(12)).to_have_text("")
    shot(page, "requests")
    page.get_by_label("Outcome").select_option("error")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#requests")).to_contain_text("No API calls match.")

    # The overview counts it live and in the day's plots, and counts the next call without a reload.
    page.get_by_role("link", name="Overview").click()
    today = page.locator('[data-card="today"] .v')
    expect(today).to_have_text("1")
    for card in ("overhead-p50", "overhead-p99"):
        expect(page.locator(f'[data-card="{card}"] .v')).to_have_text(re.compile(r"^\d+\.\d ms$"))
    expect(page.locator('[data-plot="requests"] polyline')).to_have_count(1)
    expect(page.locator("#live")).not_to_contain_text("no API calls in the last 5 minutes")
    shot(page, "overview")
    client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Again"}])
    expect(today).to_have_text("2")

    page.get_by_role("link", name="Keys").click()
    page.get_by_role("link", name="web-team").click()
    expect(page.get_by_role("heading", name="Key web-team")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("every model")
    expect(page.get_by_text("$5.00 per day")).to_be_visible()
    expect(page.locator("table").first).to_contain_text("claude-haiku-4-5 → claude-3-haiku")
    expect(page.locator("table").first.locator("td").nth(4)).to_have_text("web")
    shot(page, "key")

    page.get_by_role("link", name="Usage & spend").click()
    expect(page.locator("#usage-key")).to_contain_text("web-team")
    expect(page.locator("#usage-model")).to_contain_text("claude")
    shot(page, "usage")
    csv = page.request.get(f"{console_url}/console/usage.csv?by=key")
    assert csv.ok
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text().startswith("key,name,requests")
    assert "web-team" in csv.text()

    page.get_by_role("link", name="Models").click()
    called = page.locator("#models tbody tr", has_text="claude-sonnet-4-5-20250929").first
    expect(called).to_contain_text("100.0%")
    expect(called.locator("td").last).to_have_text("closed")  # the model's circuit: it never failed
    shot(page, "models")

    admin = {"authorization": f"Bearer {ADMIN}"}
    made = httpx.post(f"{console_url}/v1/knowledge-bases", json={"name": "handbook"}, headers=admin, timeout=60)
    assert made.status_code == 201, made.text
    guide = ("guide.md", b"# Refunds\n\nRefunds are paid within 14 days of a return.\n", "text/markdown")
    upload = httpx.post(
        f"{console_url}/v1/knowledge-bases/handbook/documents", files=[("files", guide)], headers=admin, timeout=60
    )
    assert upload.status_code == 200, upload.text
    page.get_by_role("link", name="Knowledge bases").click()
    expect(page.locator("#knowledge-bases tr", has_text="handbook")).to_contain_text("guide.md")
    expect(page.locator("#ingest-jobs tr", has_text="handbook")).to_contain_text("1/1 files")
    shot(page, "knowledge")

    # Revoked through the page: the key no longer calls the API.
    page.get_by_role("link", name="Keys").click()
    page.locator("#keys tr", has_text="web-team").get_by_role("button", name="Revoke").click()
    expect(page.locator("#keys tr", has_text="web-team")).to_contain_text("revoked")
    with pytest.raises(openai.AuthenticationError, match="revoked"):
        sdk.openai(f"{console_url}/v1", key).models.list()


def test_a_team_key_cannot_enter(browser: Browser, console_url: str, sdk: Any) -> None:
    import httpx

    made = httpx.post(
        f"{console_url}/admin/keys", json={"name": "not-an-admin"}, headers={"authorization": f"Bearer {ADMIN}"}
    )
    assert made.status_code == 201
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{console_url}/console/")
        expect(page.get_by_label("Admin key")).to_be_visible()
        shot(page, "sign-in")
        sign_in(page, console_url, made.json()["key"])
        expect(page.get_by_role("alert")).to_contain_text("This is a team key")
        expect(page.get_by_role("link", name="Keys")).to_have_count(0)
        sign_in(page, console_url, "sk-nothing-like-it")
        expect(page.get_by_role("alert")).to_contain_text("not a key this server knows")
        sign_in(page, console_url, ADMIN)
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_label("Admin key")).to_be_visible()
        page.goto(f"{console_url}/console/keys")
        expect(page.get_by_label("Admin key")).to_be_visible()  # signed out: back to the sign-in form
    finally:
        context.close()


def test_an_open_circuit_and_a_trace_id(browser: Browser, serve: Any, tmp_path: Path) -> None:
    """Its own app, traced and quick to open a circuit (one Bedrock failure): the operator sees the throttled
    model's circuit open on the Models page, and the call's trace id in the request log, as its caller got it."""
    receiver = Receiver()
    settings = Settings(
        backend="emulator",
        api_key=ADMIN,  # type: ignore[arg-type]
        data_dir=tmp_path,
        bedrock=BedrockSettings(max_attempts=1),
        resilience=ResilienceSettings(breaker_failures=1, breaker_cooldown_s=600),
        tracing=TracingSettings(otlp_endpoint=serve(receiver.app()).url + "/v1/traces", export_delay_ms=20),
    )
    url = serve(create_app(settings), lifespan="on").url
    throttled = httpx.post(
        f"{url}/v1/chat/completions",
        json={"model": HAIKU, "messages": [{"role": "user", "content": "[[emulator: throttle]]"}]},
        headers={"authorization": f"Bearer {ADMIN}"},
        timeout=60,
    )
    assert throttled.status_code == 429, throttled.text
    trace_id = throttled.headers["x-quarry-trace-id"]

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        sign_in(page, url, ADMIN)
        page.get_by_role("link", name="Models").click()
        row = page.locator("#models tbody tr", has_text=HAIKU).first
        expect(row.locator("td").nth(3)).to_have_text(re.compile(r"^[a-z]{2}-[a-z]+-\d$"))  # its region
        expect(row.locator("td").last).to_have_text(re.compile(r"^open \(retried in \d+ s\)$"))
        page.get_by_role("link", name="Requests").click()
        call = page.locator("#requests tbody tr", has_text="RateLimited").first
        expect(call.locator("td").nth(12)).to_have_text(trace_id)
    finally:
        context.close()
