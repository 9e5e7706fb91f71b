"""The guardrails the test emulators know: one per policy kind, so each test shows one kind of intervention."""

from __future__ import annotations

from typing import Any

GUARDRAIL_ID = "gr0policy"
STRICT_ID = "gr1strict"  # a second guardrail, for a key of its own: it refuses any greeting
BLOCKED_INPUT = "Quarry test guardrail: this request is not allowed."
BLOCKED_OUTPUT = "Quarry test guardrail: this answer was withheld."

GUARDRAILS: tuple[dict[str, Any], ...] = (
    {
        "id": GUARDRAIL_ID,
        "versions": ["DRAFT", "1"],
        "blocked_input_message": BLOCKED_INPUT,
        "blocked_output_message": BLOCKED_OUTPUT,
        "denied_topics": [{"name": "Investment advice", "phrases": ["stock tips", "which shares to buy"]}],
        "words": ["cactus"],
        "pii": [
            {"type": "EMAIL", "action": "ANONYMIZE"},
            {"name": "ticket", "pattern": r"TKT-\d{4}", "action": "BLOCK"},
        ],
    },
    {"id": STRICT_ID, "words": ["hello"], "blocked_input_message": "No greetings here."},
)
