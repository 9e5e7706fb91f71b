"""Mid-conversation system messages for a model that does not take them: folded into the neighbouring user turn."""

from __future__ import annotations

from typing import Any

import pytest

from quarry.api._core import fold_system_messages, top_level_system
from quarry.errors import InvalidRequest


def _reminder(text: str) -> dict[str, Any]:
    return {"type": "text", "text": f"<system-reminder>\n{text}\n</system-reminder>"}


USER = {"role": "user", "content": "Hi"}
HI = {"type": "text", "text": "Hi"}
ASSISTANT = {"role": "assistant", "content": "Hello"}
RESULT = {"type": "tool_result", "tool_use_id": "t1", "content": "42"}


@pytest.mark.parametrize(
    ("messages", "folded", "leftover"),
    [
        # Claude Code's shape: after the user's turn, the last message: joins that turn, at its end.
        (
            [USER, {"role": "system", "content": "Be brief."}],
            [{"role": "user", "content": [HI, _reminder("Be brief.")]}],
            [],
        ),
        # After an assistant turn: joins the next user turn, after its tool results.
        (
            [USER, ASSISTANT, {"role": "system", "content": "Now in French."}, {"role": "user", "content": [RESULT]}],
            [USER, ASSISTANT, {"role": "user", "content": [RESULT, _reminder("Now in French.")]}],
            [],
        ),
        # Blocks keep their cache_control; a message cleared at the next user message is gone once one follows.
        (
            [
                USER,
                {"role": "system", "content": [{"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}}]},
                ASSISTANT,
                {"role": "system", "content": "B", "clear_at": "next_user_message"},
                USER,
            ],
            [
                {"role": "user", "content": [HI, _reminder("A") | {"cache_control": {"type": "ephemeral"}}]},
                ASSISTANT,
                USER,
            ],
            [],
        ),
        # No user turn on either side: for the end of the top-level system, as written.
        (
            [USER, ASSISTANT, {"role": "system", "content": "Last word."}],
            [USER, ASSISTANT],
            [{"type": "text", "text": "Last word."}],
        ),
        ([USER, ASSISTANT], [USER, ASSISTANT], []),
    ],
)
def test_folding(messages: list[Any], folded: list[Any], leftover: list[Any]) -> None:
    assert fold_system_messages(messages) == (folded, leftover)


def test_blocks_other_than_text_need_a_model_that_takes_system_messages() -> None:
    removal = {"role": "system", "content": [{"type": "tool_removal", "tool": {"name": "Bash"}}]}
    with pytest.raises(InvalidRequest) as refused:
        fold_system_messages([USER, removal])
    assert refused.value.param == "messages.1.content.0"


def test_the_top_level_system_keeps_its_first_block_first() -> None:
    extra = [{"type": "text", "text": "Last word."}]
    attribution = [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197;"}]
    assert top_level_system(attribution, extra) == attribution + extra
    assert top_level_system("Be kind.", extra) == [{"type": "text", "text": "Be kind."}, *extra]
    assert top_level_system(None, extra) == extra
    assert top_level_system("Be kind.", []) == "Be kind."
