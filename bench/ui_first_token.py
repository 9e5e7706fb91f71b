"""Toolbox latency: from the API's first streamed token to that token on the page, in headless Chromium.

    .venv/bin/python bench/ui_first_token.py [--runs 30]

Starts the gateway in this process (create_app over the in-process emulator, toolbox mounted at /ui) on a
loopback socket. An ASGI wrapper stamps the wall-clock time at which /v1/chat/completions sends its first body
chunk holding answer text; a MutationObserver in the page stamps the time the answer's first word appears in the
chat. Both clocks are this machine's (epoch milliseconds), so the difference is the toolbox's own delay: the
openai SDK's stream parsing, Gradio's queue and websocket/SSE, and the browser's render. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.sync_api import sync_playwright

from quarry.server import create_app
from quarry.settings import Settings
from tests.conftest import ServerThread
from tests.ui.conftest import CHROMIUM, FLAGS


class FirstToken:
    """ASGI wrapper: the time the first answer text left the API, per chat completion."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.stamps: list[float] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/chat/completions"):
            await self.app(scope, receive, send)
            return
        stamped = False

        async def timed_send(message: Any) -> None:
            nonlocal stamped
            await send(message)
            body = message.get("body", b"") if message["type"] == "http.response.body" else b""
            if not stamped and b'"content":"' in body and b'"content":""' not in body:
                stamped = True
                self.stamps.append(time.time() * 1000)

        await self.app(scope, receive, timed_send)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    for name in [k for k in os.environ if k.startswith(("AWS_", "QUARRY_"))]:
        del os.environ[name]
    data = tempfile.mkdtemp(prefix="quarry-bench-ui-")
    app = FirstToken(create_app(Settings(backend="emulator", data_dir=Path(data))))
    delays: list[float] = []
    with ServerThread(app, lifespan="on") as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page()
        page.goto(f"{server.url}/ui/")
        page.locator("#toolbox-banner").get_by_text("default model").wait_for()
        for run in range(args.runs + 2):  # the first two warm up the connections and Gradio's queue
            marker = "Zed"  # the reply's first token (the emulator streams at most five characters a token)
            page.evaluate(
                """([marker, before]) => {
                    window.__shown = null;
                    const bot = document.querySelector('#chat-bot');
                    const observer = new MutationObserver(() => {
                        const answers = [...bot.querySelectorAll('.message.bot')].map((m) => m.innerText);
                        if (answers.length > before && answers[answers.length - 1].includes(marker)) {
                            window.__shown = performance.timeOrigin + performance.now();
                            observer.disconnect();
                        }
                    });
                    observer.observe(bot, {subtree: true, childList: true, characterData: true});
                }""",
                [marker, run],
            )
            box = page.locator("#chat-input textarea")
            box.fill(f"[[emulator: delay=100, tps=20, reply={marker} streams {run} more words slowly here]]")
            box.press("Enter")
            page.wait_for_function("() => window.__shown !== null")
            shown: float = page.evaluate("() => window.__shown")
            page.wait_for_function(
                "(n) => document.querySelectorAll('#chat-bot .message.bot').length > n"
                " && document.querySelector('#chat-bot').innerText.trim().endsWith('slowly here')",
                arg=run,
            )
            if run >= 2:
                delays.append(shown - app.stamps[-1])
        browser.close()
    delays.sort()
    print(
        json.dumps(
            {
                "benchmark": "ui_first_token",
                "runs": len(delays),
                "p50_ms": round(statistics.median(delays), 1),
                "p90_ms": round(delays[int(len(delays) * 0.9) - 1], 1),
                "min_ms": round(delays[0], 1),
                "max_ms": round(delays[-1], 1),
                "target_ms": 150,
            }
        )
    )


if __name__ == "__main__":
    main()
