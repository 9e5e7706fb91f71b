"""The DNS-rebinding guard: a request naming a host Quarry does not serve, or a state-changing request from a foreign
page, is refused in the caller's envelope (plain text off the APIs), while SDKs, the toolbox and same-origin pages
work; `quarry ui` alone has the same guard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from quarry.server import HostPolicy, create_app
from quarry.settings import CorsSettings, Settings
from tests.api.conftest import HAIKU
from tests.conftest import SDKs, standalone_toolbox

REBOUND = "attacker.example:8080"  # what a browser sends after the attacker's name was rebound to 127.0.0.1
PAGE = "http://attacker.example:8080"
CHAT = {"model": HAIKU, "messages": [{"role": "user", "content": "Hi"}]}
MESSAGE = {"model": HAIKU, "max_tokens": 20, "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture(scope="module")
def open_url(serve: Any, aws_environment: None, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A loopback bind without keys, toolbox mounted: the setting a rebinding page goes after. Its own data dir: the
    session's holds other tests' team keys, and any team key ends keyless mode."""
    settings = Settings(backend="bedrock", data_dir=tmp_path_factory.mktemp("open"))  # type: ignore[arg-type]
    url: str = serve(create_app(settings), lifespan="on").url
    return url


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.mark.parametrize("host", [REBOUND, "attacker.example", "localhost.attacker.example", "127.0.0.1:1", ""])
def test_foreign_host_is_refused_in_the_openai_envelope(open_url: str, host: str) -> None:
    response = httpx.post(f"{open_url}/v1/chat/completions", json=CHAT, headers={"Host": host})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "host_not_allowed"
    assert "QUARRY_ALLOWED_HOSTS" in error["message"]


def test_foreign_host_is_refused_in_the_anthropic_envelope(open_url: str) -> None:
    headers = {"Host": REBOUND, "anthropic-version": "2023-06-01"}
    response = httpx.post(f"{open_url}/v1/messages", json=MESSAGE, headers=headers)
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"


def test_foreign_host_is_refused_in_plain_text_off_the_apis(open_url: str) -> None:
    for path in ("/ui/", "/health", "/ui/gradio_api/info"):
        response = httpx.get(f"{open_url}{path}", headers={"Host": REBOUND})
        assert response.status_code == 400, path
        assert response.headers["content-type"].startswith("text/plain")
        assert "does not answer to the host" in response.text


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "[::1]", "LOCALHOST"])
def test_loopback_names_with_the_bound_port_or_none_are_served(open_url: str, name: str) -> None:
    for host in (f"{name}:{port_of(open_url)}", name):
        assert httpx.get(f"{open_url}/health", headers={"Host": host}).status_code == 200, host


def test_each_host_is_judged_the_same_on_every_request(open_url: str) -> None:
    port = port_of(open_url)
    judged = [(REBOUND, 400), (f"localhost:{port}", 200), ("localhost:1", 400), ("127.0.0.1", 200), (REBOUND, 400)]
    for _ in range(2):  # the guard remembers its answers: the second time round comes from there
        for host, status in judged:
            assert httpx.get(f"{open_url}/health", headers={"Host": host}).status_code == status, host


def test_foreign_page_may_not_change_state(open_url: str) -> None:
    response = httpx.post(f"{open_url}/v1/chat/completions", json=CHAT, headers={"Origin": PAGE})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    anthropic_headers = {"Origin": "null", "anthropic-version": "2023-06-01"}
    response = httpx.post(f"{open_url}/v1/messages", json=MESSAGE, headers=anthropic_headers)
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"
    response = httpx.delete(f"{open_url}/v1/toolbox/conversations/x", headers={"Origin": PAGE})
    assert response.status_code == 403
    # Reading is not changing state: CORS already keeps the answer from a foreign page.
    assert httpx.get(f"{open_url}/v1/models", headers={"Origin": PAGE}).status_code == 200


def test_same_origin_post_and_sdks_still_work(open_url: str, sdk: SDKs) -> None:
    for origin in (open_url, f"http://localhost:{port_of(open_url)}"):
        host = origin.removeprefix("http://")
        response = httpx.post(f"{open_url}/v1/chat/completions", json=CHAT, headers={"Origin": origin, "Host": host})
        assert response.status_code == 200, response.text
        assert response.json()["choices"][0]["message"]["content"]
    answer = sdk.openai(f"{open_url}/v1", "any").chat.completions.create(**CHAT)
    assert answer.choices[0].message.content
    message = sdk.anthropic(open_url, "any").messages.create(**MESSAGE)
    assert message.content[0].type == "text"


def test_the_toolbox_page_is_served(open_url: str) -> None:
    page = httpx.get(f"{open_url}/ui/", follow_redirects=True)
    assert page.status_code == 200
    assert "<html" in page.text.lower()
    # Gradio's own same-origin POSTs pass (the page's Origin is the server's own).
    config = httpx.get(f"{open_url}/ui/config")
    assert config.status_code == 200


def test_listed_hosts_and_cors_origins(serve: Any, aws_environment: None, tmp_path: Path) -> None:
    settings = Settings(
        backend="bedrock",  # type: ignore[arg-type]
        data_dir=tmp_path,  # keyless: no other test's team keys
        allowed_hosts=["quarry.internal", "*.example.com", "gw.example.org:8443"],
        cors=CorsSettings(allow_origins=["https://chat.example.net"]),
    )
    url = serve(create_app(settings), lifespan="on").url
    for host in ("quarry.internal", "quarry.internal:9", "a.b.example.com", "gw.example.org:8443"):
        assert httpx.get(f"{url}/health", headers={"Host": host}).status_code == 200, host
    for host in ("example.com.evil", "gw.example.org", "gw.example.org:443", "notexample.com"):
        assert httpx.get(f"{url}/health", headers={"Host": host}).status_code == 400, host
    # Behind a TLS-terminating balancer: the https page's own host, forwarded over http.
    own = {"Host": "quarry.internal", "Origin": "https://quarry.internal"}
    assert httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=own).status_code == 200
    cors = {"Origin": "https://chat.example.net"}
    assert httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=cors).status_code == 200
    other = {"Host": "quarry.internal", "Origin": "https://quarry.internal:8443"}
    assert httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=other).status_code == 403


def test_non_loopback_binds_accept_any_host_unless_names_are_listed() -> None:
    anywhere = HostPolicy.of(Settings(host="0.0.0.0"))
    assert anywhere.allows_host("quarry.example.com", 8080)
    assert anywhere.allows_host("10.0.3.7:8080", 8080)  # a load balancer's health check names the task
    listed = HostPolicy.of(Settings(host="0.0.0.0", allowed_hosts=["quarry.example.com"]))
    assert listed.allows_host("quarry.example.com", 8080)
    assert listed.allows_host("127.0.0.1:8080", 8080)  # the toolbox calling its own server
    assert not listed.allows_host("attacker.example", 8080)
    bound = HostPolicy.of(Settings(host="10.0.3.7", allowed_hosts=["quarry.example.com"]))
    assert bound.allows_host("10.0.3.7:8080", 8080)
    assert HostPolicy.of(Settings(allowed_hosts=["*"])).allows_host("anything", 8080)
    assert HostPolicy.of(Settings(cors=CorsSettings(allow_origins=["*"]))).allows_origin(PAGE, "127.0.0.1:8080")


def test_standalone_toolbox_has_the_guard(open_url: str) -> None:
    with standalone_toolbox(open_url) as url:
        refused = httpx.get(f"{url}/ui/", headers={"Host": REBOUND})
        assert refused.status_code == 400
        assert "does not answer to the host" in refused.text
        posted = httpx.post(f"{url}/ui/gradio_api/queue/join", json={}, headers={"Origin": PAGE})
        assert posted.status_code == 403
        assert httpx.get(f"{url}/ui/", follow_redirects=True).status_code == 200


def test_a_url_is_not_a_host_name() -> None:
    with pytest.raises(ValueError, match="is not a host name"):
        Settings(allowed_hosts=["https://quarry.example.com"])
