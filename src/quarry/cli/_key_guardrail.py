"""`quarry keys create --guardrail` and `quarry keys guardrail`: a key's own Bedrock guardrail, which wins over the
server's `[guardrails]` settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from pydantic import ValidationError

from quarry.settings import GuardrailSettings

__all__ = ["guardrail_options", "pop_guardrail"]


def guardrail_options(command: Callable[..., None]) -> Callable[..., None]:
    """--guardrail ID[:VERSION], --guardrail-trace, --guardrail-stream-mode."""
    options = [
        click.option("--guardrail", "guardrail", help="Bedrock guardrail for the key's calls: ID or ID:VERSION."),
        click.option(
            "--guardrail-trace",
            type=click.Choice(["enabled", "disabled", "enabled_full"]),
            default="disabled",
            show_default=True,
            help="Whether Bedrock's answers carry the guardrail's trace.",
        ),
        click.option(
            "--guardrail-stream-mode",
            type=click.Choice(["sync", "async"]),
            default="sync",
            show_default=True,
            help="Streams judged before each piece is sent (sync) or alongside (async, no masking).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def pop_guardrail(options: dict[str, Any]) -> GuardrailSettings | None:
    """The guardrail the options name (removed from them), or None when --guardrail is not given."""
    given, trace, mode = (options.pop(name) for name in ("guardrail", "guardrail_trace", "guardrail_stream_mode"))
    if not given:
        return None
    identifier, _, version = given.partition(":")
    try:
        return GuardrailSettings(
            identifier=identifier, version=version or "DRAFT", trace=trace, stream_processing_mode=mode
        )
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        raise click.BadParameter(f"{field}: {problem['msg']}", param_hint="--guardrail") from None
