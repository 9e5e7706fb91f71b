"""The toolbox page: its tabs in order, and what happens when a browser session opens it."""

from __future__ import annotations

from typing import Any

import gradio as gr
import openai

from quarry.ui._chat import build_chat, conversation_choices, style_choices
from quarry.ui._code_tab import build_code
from quarry.ui._errors import readable_error
from quarry.ui._formatter_tab import build_formatter
from quarry.ui._knowledge_tab import build_knowledge
from quarry.ui._session import Sessions, open_session
from quarry.ui._settings_tab import build_settings, settings_values
from quarry.ui._text_tabs import build_rewrite, build_summary, build_translate
from quarry.ui._toolbox import Session, Toolbox, browser_id_for
from quarry.ui._vision_tab import build_vision

__all__ = ["build_blocks"]

NEEDS_KEY = (
    "🔑 This Quarry needs an API key. Open **Settings**, type your key (a team key from `quarry keys create`, "
    "or the server's `QUARRY_API_KEY`) and press **Save**."
)


def _trouble(toolbox: Toolbox, session: Session, exc: Exception) -> str:
    """The banner's note when the session's first calls fail: for a refused credential, what to do about it."""
    if isinstance(exc, openai.AuthenticationError):
        if toolbox.typed_key(session):
            return "🔑 Quarry refused the key saved in **Settings**: type a valid one there and press **Save**."
        if toolbox.derived(session):
            return (
                "🔑 Quarry refused your sign-in credential: the toolbox and the Quarry it calls need the same "
                "`ui.credential_secret` (ask the operator), or type a key in **Settings**."
            )
        return NEEDS_KEY
    return f"⚠️ {readable_error(exc)}"


def build_blocks(toolbox: Toolbox, *, browser_secret: str) -> gr.Blocks:
    with gr.Blocks(title="Quarry toolbox", analytics_enabled=False) as blocks:
        # The browser's id only, never a key: Gradio seals it with a secret that is itself sent to the page.
        browser = gr.BrowserState(None, storage_key="quarry-toolbox-browser", secret=browser_secret)
        session = gr.State(None)  # kept on the server: its value never reaches the browser
        sessions = Sessions(toolbox, session, browser)
        banner = gr.Markdown("", elem_id="toolbox-banner")
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                chat = build_chat(toolbox, sessions)
            with gr.Tab("Translate", id="translate"):
                build_translate(toolbox, sessions)
            with gr.Tab("Rewrite", id="rewrite"):
                build_rewrite(toolbox, sessions)
            with gr.Tab("Summary", id="summary"):
                build_summary(toolbox, sessions)
            with gr.Tab("Vision", id="vision"):
                build_vision(toolbox, sessions)
            with gr.Tab("Code", id="code"):
                build_code(toolbox, sessions)
            with gr.Tab("Formatter", id="formatter"):
                build_formatter(toolbox, sessions)
            with gr.Tab("Knowledge", id="knowledge") as knowledge:
                build_knowledge(toolbox, sessions, knowledge)
            with gr.Tab("Settings", id="settings"):
                settings = build_settings(toolbox, sessions, chat)

        async def load_session(browser_id: str | None, request: gr.Request) -> tuple[Any, ...]:
            browser_id = browser_id or browser_id_for(request.session_hash)
            failures: list[Exception] = []
            value = await open_session(toolbox, browser_id, request, failures)
            models: list[str] = []
            listing: list[dict[str, Any]] = []
            note = ""
            try:
                if failures and isinstance(failures[0], openai.APIConnectionError):
                    # An API that did not answer once is not asked again now: that would only double the wait
                    # before the page says so (a timeout is a connection error too).
                    raise failures[0]
                client = toolbox.client(value)
                models = await client.models()
                toolbox.efforts.update(client.efforts)
                listing = await client.conversations()
            except Exception as exc:
                note = _trouble(toolbox, value, exc)
            who = value.signed_in or "this browser"
            note = note or f"**Quarry toolbox** · {who} · default model `{value.model}`"
            if value.model not in models:
                models = [value.model, *models]
            return (
                browser_id,
                value,
                note,
                # Choices only: a conversation a message started before this ran stays the one shown.
                gr.update(choices=conversation_choices(listing)),
                gr.update(choices=models, value=value.model),
                gr.update(choices=style_choices(value), value="normal"),
                *settings_values(toolbox, value, models),
            )

        blocks.load(
            load_session,
            [browser],
            [
                browser,
                session,
                banner,
                chat.conversations,
                chat.model,
                chat.style,
                *settings.loaded,
            ],
            show_progress="hidden",  # no spinner over controls that already work
        )
    return blocks  # type: ignore[no-any-return]  # gr.Blocks.__enter__ is untyped
