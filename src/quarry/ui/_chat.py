"""The Chat tab: conversations kept through Quarry's API, streamed answers, memory, styles and attachments."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from quarry.ui._errors import readable_error
from quarry.ui._export import export_files
from quarry.ui._media import image_part, image_paths
from quarry.ui._memory import plan_compression, request_messages, summary_request, text_of
from quarry.ui._prompts import STYLES
from quarry.ui._sampling import SamplingProblem, build_sampling, parameters, shown
from quarry.ui._sanitize import safe_markdown, safe_messages
from quarry.ui._session import Sessions
from quarry.ui._stop import run_with_stop, stop_button
from quarry.ui._thinking import build_thinking, shown_thinking, stored_thinking, thinking_choices
from quarry.ui._toolbox import Session, Toolbox

__all__ = ["ChatTab", "build_chat", "conversation_choices", "style_choices"]

Conversation = dict[str, Any]


@dataclass
class ChatTab:
    conversations: gr.Dropdown
    model: gr.Dropdown
    style: gr.Dropdown


def style_choices(session: Session) -> list[str]:
    return [*STYLES, *(name for name in session.presets if name not in STYLES)]


def conversation_choices(listing: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(item["title"], item["id"]) for item in listing]


def _display(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stored messages as the chatbot shows them: images as files, thinking folded."""
    shown: list[dict[str, Any]] = []
    for message in messages:
        if message["role"] == "user":
            text = text_of(message["content"]).replace("[image]", "").strip()
            if text:
                shown.append({"role": "user", "content": text})
            shown += [{"role": "user", "content": {"path": path}} for path in image_paths(message["content"])]
        elif message["role"] == "assistant":
            if message.get("reasoning"):
                shown.append(
                    {
                        "role": "assistant",
                        "content": message["reasoning"],
                        "metadata": {"title": "Thinking", "status": "done"},
                    }
                )
            shown.append({"role": "assistant", "content": text_of(message["content"]) or "…"})
    return safe_messages(shown)  # model and user text become HTML in the browser


def _no_export() -> Any:
    return gr.update(value=None, visible=False)


def _title(text: str) -> str:
    words = " ".join(text.split())
    return (words[:60] + "…" if len(words) > 60 else words) or "Image chat"


def build_chat(toolbox: Toolbox, sessions: Sessions) -> ChatTab:
    conversation = gr.State(None)  # the open conversation, as the API returned it
    with gr.Row():
        with gr.Column(scale=1, min_width=220):
            conversations = gr.Dropdown(label="Conversations", choices=[], elem_id="chat-conversations")
            new = gr.Button("New chat", elem_id="chat-new")
            forget = gr.Button("Forget", elem_id="chat-forget", variant="secondary")
            delete = gr.Button("Delete", elem_id="chat-delete", variant="stop")
            export = gr.Button("Export Markdown + JSON", elem_id="chat-export")
            # Shown once there is an export to download: empty, it took half the sidebar.
            exported = gr.File(
                label="Export", file_count="multiple", elem_id="chat-exported", interactive=False, visible=False
            )
            with gr.Accordion("Model and style", open=False):
                model = gr.Dropdown(label="Model", choices=[], allow_custom_value=True, elem_id="chat-model")
                style = gr.Dropdown(label="Style", choices=list(STYLES), value="normal", elem_id="chat-style")
                temperature, top_p, top_k, max_tokens = build_sampling()
                thinking = build_thinking()
        with gr.Column(scale=4):
            chatbot = gr.Chatbot(label="Chat", height=480, elem_id="chat-bot", buttons=["copy"])
            status = gr.Markdown("", elem_id="chat-status")
            box = gr.MultimodalTextbox(
                placeholder="Message (attach JPEG, PNG, GIF or WebP images)",
                file_types=["image"],
                file_count="multiple",
                show_label=False,
                elem_id="chat-input",
            )
            stop = stop_button("chat-stop")
    settings = [model, style, temperature, top_p, top_k, max_tokens, thinking]

    async def send(
        session_value: Session,
        current: Conversation | None,
        message: dict[str, Any],
        model_name: str,
        style_name: str,
        *fields: Any,
    ) -> AsyncIterator[tuple[Any, ...]]:
        text = (message or {}).get("text", "").strip()
        files = (message or {}).get("files", [])
        if not text and not files:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), "Type a message or attach an image."
            return
        try:
            chosen = parameters(*fields[:-1], thinking=stored_thinking(fields[-1]))
        except SamplingProblem as exc:  # the message stays in the box, to send once the field is fixed
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), safe_markdown(f"⚠️ {exc} (Model and style)")
            return
        try:
            images = [image_part(file if isinstance(file, str) else file["path"]) for file in files]
        except ValueError as exc:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), f"⚠️ {exc}"
            return
        content: str | list[dict[str, Any]] = (
            [{"type": "text", "text": text}, *images] if images and text else images or text
        )
        client = toolbox.client(session_value)
        model_name = model_name or session_value.model
        messages: list[dict[str, Any]] = [*(current or {}).get("messages", []), {"role": "user", "content": content}]
        answer, reasoning = "", ""

        def view(note: str = "") -> list[dict[str, Any]]:
            shown = _display(messages)
            if messages[-1]["role"] == "assistant":  # the answer is in the messages already
                return shown  # made safe by _display
            if reasoning:
                state = "done" if answer else "pending"
                shown.append(
                    {"role": "assistant", "content": reasoning, "metadata": {"title": "Thinking", "status": state}}
                )
            if answer or not reasoning:
                shown.append({"role": "assistant", "content": answer or note or "…"})
            return safe_messages(shown)

        async def save() -> Conversation:
            assert current is not None
            fields = {
                "messages": messages,
                "memory": current["memory"],
                "memory_upto": current["memory_upto"],
                "model": model_name,
                "style": style_name,
                "parameters": chosen,
            }
            return await client.update_conversation(current["id"], fields)

        yield None, view(), gr.skip(), gr.skip(), ""
        try:
            if current is None:
                current = await client.create_conversation(
                    {"title": _title(text), "model": model_name, "style": style_name, "parameters": chosen}
                )
                listing = await client.conversations()
                yield None, view(), current, gr.update(choices=conversation_choices(listing), value=current["id"]), ""
            plan = plan_compression(
                messages,
                current["memory_upto"],
                threshold=toolbox.config.compress_after_tokens,
                keep=toolbox.config.keep_recent_messages,
            )
            if plan is not None:
                yield None, view("Compressing earlier turns into memory…"), gr.skip(), gr.skip(), "Compressing…"
                request = summary_request(current["memory"], messages[plan.start : plan.end])
                current["memory"] = await client.complete(model_name, request, max_tokens=1024)
                current["memory_upto"] = plan.end
            system = STYLES.get(style_name) or session_value.presets.get(style_name, STYLES["normal"])
            sent = request_messages(system, current["memory"], messages, current["memory_upto"])
            async for delta in client.stream(model_name, sent, **chosen):
                answer += delta.text
                reasoning += delta.reasoning
                yield gr.skip(), view(), gr.skip(), gr.skip(), gr.skip()
            messages.append({"role": "assistant", "content": answer, "reasoning": reasoning or None})
            current = await save()
            yield gr.skip(), view(), current, gr.skip(), ""
        except asyncio.CancelledError:
            # Stopped: keep what was said so far, so the screen and the model's memory agree.
            if current is not None and answer:
                messages.append({"role": "assistant", "content": answer, "reasoning": reasoning or None})
                await asyncio.shield(save())
            raise
        except Exception as exc:
            yield gr.skip(), view(), current, gr.skip(), f"⚠️ {readable_error(exc)}"

    run_with_stop(
        box.submit,
        stop,
        sessions.bind(send),
        [*sessions.inputs, conversation, box, model, style, temperature, top_p, top_k, max_tokens, thinking],
        [box, chatbot, conversation, conversations, status],
        trigger_mode="always_last",  # a message sent while the last turn is being saved waits, not vanishes
    )

    async def open_conversation(session_value: Session, conversation_id: str | None) -> tuple[Any, ...]:
        if not conversation_id:
            return None, [], "", *(gr.skip() for _ in settings)
        try:
            found = await toolbox.client(session_value).conversation(conversation_id)
        except Exception as exc:
            return gr.skip(), gr.skip(), f"⚠️ {readable_error(exc)}", *(gr.skip() for _ in settings)
        p = found["parameters"]
        values = [found["model"], found["style"], *shown(p), shown_thinking(p["thinking"])]
        return found, _display(found["messages"]), "", *values

    conversations.input(
        sessions.bind(open_conversation), [*sessions.inputs, conversations], [conversation, chatbot, status, *settings]
    )

    async def levels_of(session_value: Session, model_name: str | None, current: str | None) -> Any:
        return thinking_choices(toolbox.efforts, model_name, current)

    model.change(sessions.bind(levels_of), [*sessions.inputs, model, thinking], [thinking])

    def new_chat() -> tuple[Any, ...]:
        return None, [], gr.update(value=None), ""

    new.click(new_chat, None, [conversation, chatbot, conversations, status])
    # Another conversation (or none): the export shown was of the one before.
    conversation.change(_no_export, None, [exported], queue=False, show_progress="hidden")

    async def forget_memory(session_value: Session, current: Conversation | None) -> tuple[Any, ...]:
        if current is None:
            return None, [], "Nothing to forget yet."
        try:
            fields = {"messages": [], "memory": "", "memory_upto": 0}
            updated = await toolbox.client(session_value).update_conversation(current["id"], fields)
        except Exception as exc:
            return gr.skip(), gr.skip(), f"⚠️ {readable_error(exc)}"
        return updated, [], "Forgotten: the model no longer remembers this conversation."

    forget.click(sessions.bind(forget_memory), [*sessions.inputs, conversation], [conversation, chatbot, status])

    async def delete_conversation(session_value: Session, current: Conversation | None) -> tuple[Any, ...]:
        client = toolbox.client(session_value)
        try:
            if current is not None:
                await client.delete_conversation(current["id"])
            listing = await client.conversations()
        except Exception as exc:
            return gr.skip(), gr.skip(), gr.skip(), f"⚠️ {readable_error(exc)}"
        return None, [], gr.update(choices=conversation_choices(listing), value=None), "Deleted."

    delete.click(
        sessions.bind(delete_conversation),
        [*sessions.inputs, conversation],
        [conversation, chatbot, conversations, status],
    )

    def export_conversation(current: Conversation | None) -> tuple[Any, str]:
        if current is None:
            return _no_export(), "Open or start a conversation to export it."
        return gr.update(value=export_files(current), visible=True), "Exported."

    export.click(export_conversation, [conversation], [exported, status])
    return ChatTab(conversations=conversations, model=model, style=style)
