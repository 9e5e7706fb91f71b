"""A spent budget in each dialect's envelope: OpenAI's insufficient_quota, Anthropic's rate_limit_error, both 429s
that say when to come back and not to retry sooner; its code is Bedrock's ServiceQuotaExceededException, the name
Bedrock's own routes answer with."""

from __future__ import annotations

import orjson

from quarry.api import anthropic, openai
from quarry.errors import BudgetExceeded


def refusal() -> BudgetExceeded:
    return BudgetExceeded(
        "This API key's budget of $5.00 per day is used up.",
        budget="usd_day",
        resets_at="2026-12-05T00:00:00Z",
        retry_after=3600.4,
    )


def test_openai_envelope() -> None:
    response = openai.error_response(refusal())
    assert response.status_code == 429
    assert orjson.loads(response.body)["error"] | {"message": ""} == {
        "message": "",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
    assert response.headers["retry-after"] == "3600"
    assert response.headers["x-should-retry"] == "false"
    assert response.headers["x-quarry-budget"] == "usd_day"


def test_anthropic_envelope() -> None:
    response = anthropic.error_response(refusal())
    assert response.status_code == 429
    assert orjson.loads(response.body) == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "This API key's budget of $5.00 per day is used up."},
    }
    assert response.headers["x-quarry-budget-reset"] == "2026-12-05T00:00:00Z"


def test_the_code_is_bedrocks_name() -> None:
    assert refusal().code == "ServiceQuotaExceededException"
