"""The toolbox web UI (Gradio), a client of Quarry's own OpenAI API. Gradio is imported only when mounted."""

from quarry.ui._mount import mount_ui

__all__ = ["mount_ui"]
