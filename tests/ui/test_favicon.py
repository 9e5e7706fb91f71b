"""The toolbox's icon: served by Quarry at /favicon.ico, where browsers ask for it, mounted or alone."""

from __future__ import annotations

import httpx

from tests.conftest import standalone_toolbox


def assert_icon(url: str) -> None:
    answer = httpx.get(f"{url}/favicon.ico", timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/svg+xml"
    assert answer.content.startswith(b"<svg")


def test_quarry_serve_has_an_icon(toolbox_url: str) -> None:
    assert_icon(toolbox_url)


def test_the_standalone_toolbox_has_an_icon(toolbox_url: str) -> None:
    with standalone_toolbox(toolbox_url) as url:
        assert_icon(url)
