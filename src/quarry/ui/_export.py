"""A conversation exported as Markdown and as JSON files the page offers for download."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from quarry.ui._memory import text_of

__all__ = ["export_files", "to_markdown"]


def to_markdown(conversation: dict[str, Any]) -> str:
    lines = [f"# {conversation['title']}", "", f"_Model: {conversation['model']} · style: {conversation['style']}_", ""]
    if conversation.get("memory"):
        lines += ["> **Memory (summary of earlier turns):** " + conversation["memory"], ""]
    for message in conversation["messages"]:
        who = "You" if message["role"] == "user" else "Assistant"
        if message.get("reasoning"):
            lines += ["<details><summary>Thinking</summary>", "", message["reasoning"], "", "</details>", ""]
        lines += [f"**{who}:** {text_of(message['content'])}", ""]
    return "\n".join(lines)


def export_files(conversation: dict[str, Any]) -> list[str]:
    """Two files, `<title>.md` and `<title>.json`, in a fresh temporary folder."""
    stem = re.sub(r"[^\w-]+", "-", conversation["title"]).strip("-")[:60] or "conversation"
    folder = Path(tempfile.mkdtemp(prefix="quarry-export-"))
    markdown = folder / f"{stem}.md"
    markdown.write_text(to_markdown(conversation), encoding="utf-8")
    document = folder / f"{stem}.json"
    document.write_text(json.dumps(conversation, ensure_ascii=False, indent=2), encoding="utf-8")
    return [str(markdown), str(document)]
