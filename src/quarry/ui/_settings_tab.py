"""The Settings tab: this user's API key (typed, checked with itself, never shown again), default model and style
presets, saved for them alone. The API URL is the operator's, shown and not editable."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import gradio as gr
import openai

from quarry.ui._chat import ChatTab, style_choices
from quarry.ui._errors import readable_error
from quarry.ui._sanitize import safe_markdown
from quarry.ui._session import Sessions
from quarry.ui._toolbox import Session, Toolbox

__all__ = ["SettingsTab", "build_settings", "key_note", "settings_values"]


@dataclass
class SettingsTab:
    who: gr.Markdown
    key_status: gr.Markdown
    model: gr.Dropdown
    presets: gr.Code

    @property
    def loaded(self) -> list[Any]:
        """What the page's load handler fills in, in the order of `settings_values`."""
        return [self.who, self.key_status, self.model, self.presets]


def key_note(toolbox: Toolbox, session: Session) -> str:
    """Which credential the session calls with, in words; a typed key by its last four characters only."""
    typed = toolbox.typed_key(session)
    if typed:
        return (
            f"🔑 A key ending …{typed[-4:]} is saved for you (this server keeps it until it restarts). "
            "Type another to replace it."
        )
    if toolbox.derived(session):
        return "🔑 You call Quarry with a credential made from your sign-in. Type a key only to use another one."
    return "No API key saved: none is needed if this Quarry has no keys; otherwise type yours and press Save."


def settings_values(toolbox: Toolbox, session: Session, models: list[str]) -> tuple[Any, ...]:
    """What the Settings fields show for a session (never a key)."""
    who = f"Signed in as **{session.signed_in}**." if session.signed_in else "Not signed in: this browser is the user."
    return (
        # A user name is whatever the operator's users file says: text, never markup.
        safe_markdown(f"{who} The toolbox calls the Quarry API at `{session.api_url}`."),
        key_note(toolbox, session),
        gr.update(choices=models, value=session.model),
        json.dumps(session.presets, ensure_ascii=False, indent=2),
    )


def build_settings(toolbox: Toolbox, sessions: Sessions, chat: ChatTab) -> SettingsTab:
    who = gr.Markdown("", elem_id="settings-who")
    key_status = gr.Markdown("", elem_id="settings-key-status")
    with gr.Row():
        api_key = gr.Textbox(
            label="API key",
            type="password",
            value="",
            placeholder="Type a key to use it (checked before it is saved)",
            scale=4,
            elem_id="settings-api-key",
        )
        forget = gr.Button("Forget the key", size="sm", scale=1, elem_id="settings-forget-key")
    model = gr.Dropdown(label="Default model", choices=[], allow_custom_value=True, elem_id="settings-model")
    presets = gr.Code(
        label='Style presets: {"name": "system prompt", …}', language="json", lines=4, elem_id="settings-presets"
    )
    save = gr.Button("Save", variant="primary", elem_id="settings-save")
    status = gr.Markdown("", elem_id="settings-status")

    async def save_settings(session: Session, key: str, default_model: str, preset_text: str) -> tuple[Any, ...]:
        unchanged = (gr.skip(), gr.skip())
        try:
            chosen = json.loads(preset_text or "{}")
            if not isinstance(chosen, dict) or not all(isinstance(v, str) for v in chosen.values()):
                raise ValueError("presets must map names to prompts")
        except ValueError as exc:
            return *unchanged, f"⚠️ Presets are not valid: {exc}", gr.skip(), gr.skip()
        key = (key or "").strip()
        if key:
            try:  # checked with the key typed, not any other: a wrong one is refused before anything is saved
                await toolbox.client(session, key).models()
            except openai.AuthenticationError as exc:
                return *unchanged, f"⚠️ That key was refused, so nothing was saved: {exc.message}", "", gr.skip()
            except Exception as exc:
                return *unchanged, f"⚠️ {readable_error(exc)}", "", gr.skip()
            toolbox.remember_key(session, key)
        stored: dict[str, Any] = {"default_model": default_model or None, "presets": chosen}
        try:
            await toolbox.client(session).save_user_settings(stored)
        except Exception as exc:
            return *unchanged, f"⚠️ {readable_error(exc)}", "", key_note(toolbox, session)
        session.model = default_model or toolbox.config.default_model
        session.presets = chosen
        # The key box is emptied: a key, once typed, is never sent back to the page.
        return session, gr.update(choices=style_choices(session)), "Saved for you.", "", key_note(toolbox, session)

    save.click(
        sessions.bind(save_settings),
        [*sessions.inputs, api_key, model, presets],
        [sessions.state, chat.style, status, api_key, key_status],
    )

    async def forget_key(session: Session) -> tuple[str, str]:
        toolbox.forget_key(session)
        return "Forgotten: the toolbox no longer calls with that key.", key_note(toolbox, session)

    forget.click(sessions.bind(forget_key), sessions.inputs, [status, key_status])
    return SettingsTab(who=who, key_status=key_status, model=model, presets=presets)
