"""Effort: OpenAI's reasoning levels as the levels each Claude model lists."""

from __future__ import annotations

import pytest

from quarry.api._core import capped_effort, effort_level, lowest_effort
from quarry.bedrock import facts_for
from tests.api.core.conftest import OPUS_46, OPUS_55, SONNET_45


@pytest.mark.parametrize(
    ("model_id", "asked", "level"),
    [
        (OPUS_55, "none", None),
        (OPUS_55, "minimal", "low"),
        (OPUS_55, "low", "low"),
        (OPUS_55, "medium", "medium"),
        (OPUS_55, "high", "high"),
        (OPUS_55, "xhigh", "xhigh"),
        (OPUS_55, "max", "max"),
        (OPUS_46, "xhigh", "high"),  # no xhigh on 4.6: the highest level below it, never more than asked
        (OPUS_46, "max", "max"),
        (OPUS_46, "minimal", "low"),
        (SONNET_45, "high", None),  # no effort levels: thinks with a budget
    ],
)
def test_effort_level(model_id: str, asked: str, level: str | None) -> None:
    assert effort_level(facts_for(model_id), asked) == level


def test_lowest_effort_and_the_cap_without_thinking() -> None:
    assert lowest_effort(facts_for(OPUS_55)) == "low"
    assert lowest_effort(facts_for(SONNET_45)) is None
    assert [capped_effort(level) for level in ("low", "high", "xhigh", "max", None)] == [
        "low",
        "high",
        "high",
        "high",
        None,
    ]
