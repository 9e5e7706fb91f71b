"""A secret kept as a file in the data dir: made on first use, readable by its owner only, the same in every process
(the toolbox's credential secret, the Responses API's reasoning key)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["data_dir_secret"]


def data_dir_secret(folder: Path, name: str) -> bytes:
    """The 32 bytes in `folder/name`, written there first if the file does not exist yet."""
    path = folder / name
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        draft = folder / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
        try:
            os.link(draft, path)  # atomic, and refused if another process made it first: theirs is kept
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return bytes.fromhex(path.read_text().strip())
