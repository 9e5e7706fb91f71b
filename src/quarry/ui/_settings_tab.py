"""The Settings tab: this user's API URL, API key, default model and style presets, saved for them alone."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import gradio as gr

from quarry.ui._chat import ChatTab, style_choices
from quarry.ui._errors import readable_error
from quarry.ui._toolbox import Session, Toolbox

__all__ = ["SettingsTab", "build_settings", "settings_values"]


@dataclass
class SettingsTab:
    who: gr.Markdown
    api_url: gr.Textbox
    api_key: gr.Textbox
    model: gr.Dropdown
    presets: gr.Code


def settings_values(session: Session, models: list[str]) -> tuple[Any, ...]:
    """What the Settings fields show for a session."""
    who = f"Signed in as **{session.signed_in}**." if session.signed_in else "Not signed in: this browser is the user."
    return (
        who,
        session.api_url,
        "" if session.api_key == "" else session.api_key,
        gr.update(choices=models, value=session.model),
        json.dumps(session.presets, ensure_ascii=False, indent=2),
    )


def build_settings(toolbox: Toolbox, session: gr.State, chat: ChatTab) -> SettingsTab:
    who = gr.Markdown("", elem_id="settings-who")
    api_url = gr.Textbox(label="API URL", elem_id="settings-api-url")
    api_key = gr.Textbox(label="API key", type="password", elem_id="settings-api-key")
    model = gr.Dropdown(label="Default model", choices=[], allow_custom_value=True, elem_id="settings-model")
    presets = gr.Code(
        label='Style presets: {"name": "system prompt", …}', language="json", lines=4, elem_id="settings-presets"
    )
    save = gr.Button("Save", variant="primary", elem_id="settings-save")
    status = gr.Markdown("", elem_id="settings-status")

    async def save_settings(
        session_value: Session, url: str, key: str, default_model: str, preset_text: str
    ) -> tuple[Any, ...]:
        try:
            chosen = json.loads(preset_text or "{}")
            if not isinstance(chosen, dict) or not all(isinstance(v, str) for v in chosen.values()):
                raise ValueError("presets must map names to prompts")
        except ValueError as exc:
            return gr.skip(), gr.skip(), f"⚠️ Presets are not valid: {exc}"
        stored: dict[str, Any] = {
            "api_url": url.strip() if url.strip() and url.strip() != session_value.home_url else None,
            "api_key": key or None,
            "default_model": default_model or None,
            "presets": chosen,
        }
        try:
            await toolbox.home(session_value).save_user_settings(stored)
        except Exception as exc:
            return gr.skip(), gr.skip(), f"⚠️ {readable_error(exc)}"
        session_value.api_url = stored["api_url"] or session_value.home_url
        session_value.api_key = key or toolbox.config.api_key
        session_value.model = default_model or toolbox.config.default_model
        session_value.presets = chosen
        return session_value, gr.update(choices=style_choices(session_value)), "Saved for you."

    save.click(save_settings, [session, api_url, api_key, model, presets], [session, chat.style, status])
    return SettingsTab(who=who, api_url=api_url, api_key=api_key, model=model, presets=presets)
