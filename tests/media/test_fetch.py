"""ImageFetcher against real aiohttp servers on loopback sockets; refused addresses must never be connected to."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from yarl import URL

from quarry.media import FetchPolicy, Image, ImageFetcher, MediaError
from tests.media.test_data_url import IMAGES

LOOPBACK = frozenset({"127.0.0.1"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Server:
    url: str
    hits: list[str] = field(default_factory=list)
    cookies: list[str | None] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)


def _app(server: Server) -> web.Application:
    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        server.hits.append(request.path)
        server.cookies.append(request.headers.get("Cookie"))
        return await handler(request)

    async def image(request: web.Request) -> web.Response:
        content_type = request.query.get("type", "application/octet-stream")
        response = web.Response(body=IMAGES[request.match_info["name"]], headers={"Content-Type": content_type})
        response.set_cookie("session", "caller-a-secret")
        return response

    async def redirect(request: web.Request) -> web.Response:
        status = int(request.query.get("status", "302"))
        return web.Response(status=status, headers={"Location": request.query["to"]})

    async def chain(request: web.Request) -> web.Response:
        hops = int(request.match_info["hops"])
        if hops == 0:
            return web.Response(body=IMAGES["png"])
        return web.Response(status=307, headers={"Location": f"{hops - 1}"})  # relative, as servers often send

    async def sized(request: web.Request) -> web.Response:
        return web.Response(body=IMAGES["png"].ljust(int(request.match_info["size"]), b"\x00"))

    async def declared_huge(request: web.Request) -> web.StreamResponse:
        # Claims 20 MB, sends a few bytes and stalls: a client that reads before checking would time out.
        response = web.StreamResponse(headers={"Content-Length": str(20 * 1024 * 1024)})
        await response.prepare(request)
        await response.write(IMAGES["png"])
        await server.release.wait()
        return response

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            await response.write(IMAGES["png"])
            for _ in range(int(request.match_info["chunks"])):
                await response.write(b"\x00" * 100)
            await response.write_eof()
        except ConnectionError:
            pass  # the client hung up once it had read past its cap, as it should
        return response

    async def endless(request: web.Request) -> web.StreamResponse:
        # Never ends on its own: only a client that stops reading at its cap gets an answer in time.
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            await response.write(IMAGES["png"])
            while not server.release.is_set():
                await response.write(b"\x00" * 4096)
        except ConnectionError:
            pass
        return response

    async def slow(request: web.Request) -> web.Response:
        await server.release.wait()
        return web.Response(body=IMAGES["png"])

    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), body=IMAGES["png"])

    async def text(request: web.Request) -> web.Response:
        return web.Response(text="<html>not an image</html>", content_type="image/png")

    app = web.Application(middlewares=[record])
    app.router.add_get("/image/{name}", image)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/chain/{hops}", chain)
    app.router.add_get("/sized/{size}", sized)
    app.router.add_get("/declared-huge", declared_huge)
    app.router.add_get("/chunked/{chunks}", chunked)
    app.router.add_get("/endless", endless)
    app.router.add_get("/slow", slow)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/text", text)
    return app


@pytest.fixture
async def start_server() -> AsyncIterator[Callable[[str], Awaitable[Server]]]:
    """`await start_server(host)` serves the test app on a free port of that loopback address."""
    runners: list[tuple[web.AppRunner, Server]] = []

    async def start(host: str) -> Server:
        sock = socket.create_server((host, 0))
        server = Server(url=f"http://{host}:{sock.getsockname()[1]}")
        runner = web.AppRunner(_app(server), access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        runners.append((runner, server))
        return server

    yield start
    for runner, server in runners:
        server.release.set()
        await runner.cleanup()


@pytest.fixture
async def server(start_server: Callable[[str], Awaitable[Server]]) -> Server:
    return await start_server("127.0.0.1")


async def fetch(url: str, **policy: object) -> Image:
    # The test's own deadline, so that a fetcher that ignores its timeout fails the test instead of hanging it.
    async with asyncio.timeout(10), ImageFetcher(FetchPolicy(**policy)) as fetcher:  # type: ignore[arg-type]
        return await fetcher.fetch(url)


async def refusal(url: str, **policy: object) -> str:
    with pytest.raises(MediaError) as caught:
        await fetch(url, **policy)
    return str(caught.value)


@pytest.mark.parametrize("name", list(IMAGES))
async def test_fetches_each_format(server: Server, name: str) -> None:
    image = await fetch(f"{server.url}/image/{name}", allow_hosts=LOOPBACK)
    assert image == Image(data=IMAGES[name], format=name)  # type: ignore[arg-type]


@pytest.mark.parametrize(("name", "content_type"), [("png", "image/jpeg"), ("jpeg", "text/html"), ("webp", "")])
async def test_content_type_is_ignored(server: Server, name: str, content_type: str) -> None:
    image = await fetch(f"{server.url}/image/{name}?type={content_type}", allow_hosts=LOOPBACK)
    assert image.format == name


@pytest.mark.parametrize("allow", ["127.0.0.0/8", "127.0.0.1/32", "localhost"])
async def test_allow_list_takes_networks_and_names(server: Server, allow: str) -> None:
    url = f"{server.url}/image/gif".replace("127.0.0.1", "localhost" if allow == "localhost" else "127.0.0.1")
    assert (await fetch(url, allow_hosts=frozenset({allow}))).format == "gif"


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("127.0.0.1", "host 127.0.0.1 is a loopback address, which is not allowed"),
        ("localhost", "host localhost is not allowed: it does not resolve to a public address"),
        ("[::ffff:127.0.0.1]", "host ::ffff:7f00:1 is a loopback address, which is not allowed"),
        ("127.1", "host 127.1 is not a valid IP address"),  # legacy forms socket would map onto 127.0.0.1
        ("2130706433", "host 2130706433 is not a valid IP address"),
        ("0x7f000001", "host 0x7f000001 is not allowed: it does not resolve to a public address"),
    ],
)
async def test_loopback_is_refused_before_connecting(server: Server, host: str, message: str) -> None:
    port = server.url.rsplit(":", 1)[1]
    assert await refusal(f"http://{host}:{port}/image/png") == f"image_url {message}"
    assert server.hits == []


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("169.254.169.254", "is a cloud metadata address"),
        ("[fd00:ec2::254]", "is a cloud metadata address"),
        ("100.100.100.200", "is a cloud metadata address"),
        ("[::ffff:169.254.169.254]", "is a cloud metadata address"),
        ("10.0.0.5", "is a private address"),
        ("172.16.0.1", "is a private address"),
        ("192.168.1.1", "is a private address"),
        ("[fc00::1]", "is a private address"),
        ("[64:ff9b::a00:1]", "is a private address"),  # NAT64 form of 10.0.0.1
        ("[2002:c0a8:101::1]", "is a private address"),  # 6to4 form of 192.168.1.1
        ("[::1]", "is a loopback address"),
        ("169.254.1.1", "is a link-local address"),
        ("[fe80::1]", "is a link-local address"),
        ("100.64.0.1", "is a shared (carrier-grade NAT) address"),
        ("0.0.0.0", "is an unspecified address"),
        ("[::]", "is an unspecified address"),
        ("224.0.0.1", "is a multicast address"),
        ("[ff02::1]", "is a multicast address"),
        ("240.0.0.1", "is a reserved address"),
        ("192.0.2.1", "is a non-public address"),  # TEST-NET-1, documentation only
    ],
)
async def test_non_public_addresses_are_refused(host: str, reason: str) -> None:
    # Nothing listens at these: a connection attempt would fail with a different message, or time out.
    message = await refusal(f"http://{host}/latest/meta-data/", timeout_s=5)
    assert message.startswith("image_url host ")
    assert message.endswith(f" {reason}, which is not allowed")


async def test_a_broad_allow_list_does_not_open_the_metadata_service() -> None:
    message = await refusal("http://169.254.169.254/", allow_hosts=frozenset({"169.254.0.0/16"}), timeout_s=5)
    assert message == "image_url host 169.254.169.254 is a cloud metadata address, which is not allowed"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "image_url scheme 'file' is not allowed; use http or https"),
        ("ftp://127.0.0.1/cat.png", "image_url scheme 'ftp' is not allowed; use http or https"),
        ("data:image/png;base64,iVBORw0KGgo=", "image_url scheme 'data' is not allowed; use http or https"),
        ("cat.png", "image_url scheme '(none)' is not allowed; use http or https"),
        ("http:///cat.png", "image_url has no host"),
        ("http://[::1/cat.png", "image_url is not a valid URL"),
    ],
)
async def test_bad_scheme_or_malformed_url(url: str, message: str) -> None:
    assert await refusal(url, allow_hosts=LOOPBACK) == message


async def test_follows_redirects_up_to_the_limit(server: Server) -> None:
    assert (await fetch(f"{server.url}/chain/3", allow_hosts=LOOPBACK, max_redirects=3)).format == "png"
    assert server.hits == ["/chain/3", "/chain/2", "/chain/1", "/chain/0"]


async def test_too_many_redirects(server: Server) -> None:
    message = await refusal(f"{server.url}/chain/4", allow_hosts=LOOPBACK, max_redirects=3)
    assert message == "image_url redirected more than 3 times"
    assert server.hits == ["/chain/4", "/chain/3", "/chain/2", "/chain/1"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("http://169.254.169.254/latest/meta-data/", "image_url host 169.254.169.254 is a cloud metadata address"),
        ("http://10.0.0.1/", "image_url host 10.0.0.1 is a private address"),
        ("http://[::ffff:10.0.0.1]/", "image_url host ::ffff:a00:1 is a private address"),
        ("file:///etc/passwd", "image_url redirected to a URL whose scheme 'file' is not allowed"),
        ("ftp://127.0.0.1/cat.png", "image_url redirected to a URL whose scheme 'ftp' is not allowed"),
    ],
)
async def test_redirect_to_a_refused_target(server: Server, target: str, message: str) -> None:
    url = str(URL(server.url).with_path("/redirect").with_query(to=target, status="301"))
    assert (await refusal(url, allow_hosts=LOOPBACK, timeout_s=5)).startswith(message)


async def test_redirect_to_a_name_that_resolves_to_a_refused_address(
    start_server: Callable[[str], Awaitable[Server]],
) -> None:
    # Only 127.0.0.2 is allowed; `localhost` resolves to 127.0.0.1, where a second server waits.
    # Refusing it proves every hop's DNS answer goes through the guard, not just the first URL's.
    allowed, refused = await start_server("127.0.0.2"), await start_server("127.0.0.1")
    target = refused.url.replace("127.0.0.1", "localhost") + "/image/png"
    url = str(URL(allowed.url).with_path("/redirect").with_query(to=target))
    message = await refusal(url, allow_hosts=frozenset({"127.0.0.2"}))
    assert message == "image_url host localhost is not allowed: it does not resolve to a public address"
    assert allowed.hits == ["/redirect"]
    assert refused.hits == []


async def test_body_at_the_cap_is_accepted(server: Server) -> None:
    assert len((await fetch(f"{server.url}/sized/1000", allow_hosts=LOOPBACK, max_bytes=1000)).data) == 1000


async def test_body_over_the_cap(server: Server) -> None:
    message = await refusal(f"{server.url}/sized/1001", allow_hosts=LOOPBACK, max_bytes=1000)
    assert message == "image_url is larger than the 1000 bytes limit"


async def test_content_length_over_the_cap_is_refused_without_reading(server: Server) -> None:
    message = await refusal(f"{server.url}/declared-huge", allow_hosts=LOOPBACK, timeout_s=5)
    assert message == "image_url is larger than the 10 MiB limit"


async def test_chunked_body_over_the_cap(server: Server) -> None:
    ok = await fetch(f"{server.url}/chunked/3", allow_hosts=LOOPBACK, max_bytes=len(IMAGES["png"]) + 300)
    assert len(ok.data) == len(IMAGES["png"]) + 300
    message = await refusal(f"{server.url}/chunked/4", allow_hosts=LOOPBACK, max_bytes=len(IMAGES["png"]) + 300)
    assert message == f"image_url is larger than the {len(IMAGES['png']) + 300} bytes limit"


async def test_endless_body_stops_at_the_cap(server: Server) -> None:
    message = await refusal(f"{server.url}/endless", allow_hosts=LOOPBACK, max_bytes=100_000, timeout_s=5)
    assert message == "image_url is larger than the 100000 bytes limit"


async def test_timeout(server: Server) -> None:
    message = await refusal(f"{server.url}/slow", allow_hosts=LOOPBACK, timeout_s=0.3)
    assert message == "image_url could not be fetched within 0.3 seconds"
    assert server.hits == ["/slow"]


@pytest.mark.parametrize("code", [404, 500, 204, 304])
async def test_non_2xx_status(server: Server, code: int) -> None:
    message = await refusal(f"{server.url}/status/{code}", allow_hosts=LOOPBACK)
    if code == 204:  # 2xx, but no body: it is the sniffing that fails
        assert message == "image_url did not return a PNG, JPEG, GIF or WebP image"
    else:
        assert message == f"image_url returned HTTP status {code}"


async def test_non_image_body(server: Server) -> None:
    message = await refusal(f"{server.url}/text", allow_hosts=LOOPBACK)
    assert message == "image_url did not return a PNG, JPEG, GIF or WebP image"


async def test_connection_refused_is_a_media_error(server: Server) -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port now
    message = await refusal(f"http://127.0.0.1:{port}/image/png", allow_hosts=LOOPBACK)
    assert message == "image_url host 127.0.0.1 could not be reached"


async def test_one_session_is_reused_and_closed(server: Server) -> None:
    fetcher = ImageFetcher(FetchPolicy(allow_hosts=LOOPBACK))
    for name in IMAGES:
        assert (await fetcher.fetch(f"{server.url}/image/{name}")).format == name
    await fetcher.aclose()
    await fetcher.aclose()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await fetcher.fetch(f"{server.url}/image/png")


async def test_cookies_from_one_fetch_are_not_sent_with_the_next(server: Server) -> None:
    # By name: aiohttp's default jar ignores cookies from IP hosts, which would hide a shared jar.
    url = server.url.replace("127.0.0.1", "localhost")
    async with ImageFetcher(FetchPolicy(allow_hosts=frozenset({"localhost"}))) as fetcher:
        await fetcher.fetch(f"{url}/image/png")  # answers with Set-Cookie
        await fetcher.fetch(f"{url}/image/gif")
    assert server.cookies == [None, None]


async def test_environment_proxy_is_not_used(
    start_server: Callable[[str], Awaitable[Server]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A proxy would resolve and connect on our behalf, past the guard.
    server, proxy = await start_server("127.0.0.1"), await start_server("127.0.0.1")
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert (await fetch(f"{server.url}/image/png", allow_hosts=LOOPBACK)).format == "png"
    assert (server.hits, proxy.hits) == (["/image/png"], [])


def test_construction_needs_no_event_loop() -> None:
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    ImageFetcher(FetchPolicy())


async def test_a_refusal_never_echoes_what_a_name_resolved_to(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    port = server.url.rsplit(":", 1)[1]
    with caplog.at_level("INFO", logger="quarry.media"):
        message = await refusal(f"http://localhost:{port}/image/png")
    assert "127.0.0.1" not in message
    assert "loopback" not in message
    # The operator still learns why, from the log.
    assert any("127.0.0.1" in record.getMessage() for record in caplog.records)
