"""The toolbox web UI (Gradio), a client of Quarry's own OpenAI API. Gradio is imported only when mounted."""

from quarry.ui._auth import hash_password
from quarry.ui._mount import PATH, mount_toolbox, mount_ui, ui_available

__all__ = ["PATH", "hash_password", "mount_toolbox", "mount_ui", "ui_available"]
