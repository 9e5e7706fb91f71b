"""`GET /`, the address the banner prints: the toolbox when it is mounted, else a page saying what is served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from quarry import __version__
from quarry.server import create_app
from quarry.settings import Settings


def test_without_the_toolbox_home_says_what_is_served(serve: Any, tmp_path: Path) -> None:
    settings = Settings(backend="emulator", data_dir=tmp_path, ui={"enabled": False})  # type: ignore[arg-type]
    url = serve(create_app(settings)).url
    home = httpx.get(f"{url}/", timeout=30)
    assert home.status_code == 200
    assert home.text.startswith(f"Quarry {__version__}\n")
    assert "/v1" in home.text
    assert "Toolbox:        not mounted" in home.text
