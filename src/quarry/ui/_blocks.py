"""The toolbox page: its tabs in order, and what happens when a browser session opens it."""

from __future__ import annotations

from typing import Any

import gradio as gr

from quarry.ui._chat import build_chat, conversation_choices, style_choices
from quarry.ui._code_tab import build_code
from quarry.ui._errors import readable_error
from quarry.ui._formatter_tab import build_formatter
from quarry.ui._knowledge_tab import build_knowledge
from quarry.ui._settings_tab import build_settings, settings_values
from quarry.ui._text_tabs import build_rewrite, build_summary, build_translate
from quarry.ui._toolbox import Session, Toolbox, new_browser_id, user_id
from quarry.ui._vision_tab import build_vision

__all__ = ["build_blocks"]


def build_blocks(toolbox: Toolbox, *, browser_secret: str) -> gr.Blocks:
    with gr.Blocks(title="Quarry toolbox", analytics_enabled=False) as blocks:
        browser = gr.BrowserState(None, storage_key="quarry-toolbox-browser", secret=browser_secret)
        session = gr.State(None)
        banner = gr.Markdown("", elem_id="toolbox-banner")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chat = build_chat(toolbox, session)
            with gr.Tab("Translate", id="translate"):
                build_translate(toolbox, session)
            with gr.Tab("Rewrite", id="rewrite"):
                build_rewrite(toolbox, session)
            with gr.Tab("Summary", id="summary"):
                build_summary(toolbox, session)
            with gr.Tab("Vision", id="vision"):
                build_vision(toolbox, session)
            with gr.Tab("Code", id="code"):
                build_code(toolbox, session)
            with gr.Tab("Formatter", id="formatter"):
                build_formatter(toolbox, session)
            with gr.Tab("Knowledge", id="knowledge") as knowledge:
                build_knowledge(toolbox, session, knowledge)
            with gr.Tab("Settings", id="settings"):
                settings = build_settings(toolbox, session, chat)

        async def open_session(browser_id: str | None, request: gr.Request) -> tuple[Any, ...]:
            browser_id = browser_id or new_browser_id()
            scope = getattr(getattr(request, "request", None), "scope", None)
            home = toolbox.home_url(scope)
            config = toolbox.config
            value = Session(
                user=user_id(request.username, browser_id),
                home_url=home,
                api_url=home,
                api_key=config.api_key,
                model=config.default_model,
                signed_in=request.username,
            )
            models: list[str] = []
            listing: list[dict[str, Any]] = []
            note = ""
            try:
                stored = await toolbox.home(value).user_settings()
                value.api_url = stored.get("api_url") or home
                value.api_key = stored.get("api_key") or config.api_key
                value.model = stored.get("default_model") or config.default_model
                value.presets = stored.get("presets") or {}
                client = toolbox.client(value)
                models = await client.models()
                listing = await client.conversations()
            except Exception as exc:
                note = f"⚠️ {readable_error(exc)}"
            who = value.signed_in or "this browser"
            note = note or f"**Quarry toolbox** · {who} · default model `{value.model}`"
            if value.model not in models:
                models = [value.model, *models]
            return (
                browser_id,
                value,
                note,
                gr.update(choices=conversation_choices(listing), value=None),
                gr.update(choices=models, value=value.model),
                gr.update(choices=style_choices(value), value="normal"),
                *settings_values(value, models),
            )

        blocks.load(
            open_session,
            [browser],
            [
                browser,
                session,
                banner,
                chat.conversations,
                chat.model,
                chat.style,
                settings.who,
                settings.api_url,
                settings.api_key,
                settings.model,
                settings.presets,
            ],
        )
    return blocks  # type: ignore[no-any-return]  # gr.Blocks.__enter__ is untyped
