"""Output limits: how many tokens a request may have a model write, for Converse's maxTokens and for admission."""

from __future__ import annotations

from quarry.bedrock import ResolvedModel

__all__ = ["DEFAULT_OUTPUT", "output_limit", "output_reserve"]

# What a model whose limit is unknown (not in models.json) is taken to write at most: for a thinking budget's
# headroom and the tokens a request reserves at admission, never sent to Bedrock as a limit.
DEFAULT_OUTPUT = 4096


def output_limit(model: ResolvedModel, asked: int | None) -> int | None:
    """maxTokens for a request: what it asks, else the model's own limit; None leaves Bedrock's default."""
    return asked or model.facts.max_output_tokens


def output_reserve(model: ResolvedModel, asked: int | None) -> int:
    """The output tokens a request may cost, reserved against tokens-per-minute limits before the call."""
    return output_limit(model, asked) or DEFAULT_OUTPUT
