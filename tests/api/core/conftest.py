"""Models for the core's rule tables: real entries of models.json, looked up as the catalog does."""

from __future__ import annotations

from quarry.bedrock import ModelFacts, ResolvedModel, facts_for

HAIKU_3 = "anthropic.claude-3-haiku-20240307-v1:0"  # no cache points, no thinking
SONNET_37 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"  # thinks with a budget, 64k output
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"  # temperature excludes top_p
NOVA_PRO = "amazon.nova-pro-v1:0"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0"  # reasons at a level
GPT_OSS = "openai.gpt-oss-20b-1:0"
LLAMA3 = "meta.llama3-8b-instruct-v1:0"
TITAN = "amazon.titan-text-express-v1"  # no system prompt
UNKNOWN = "acme.unlisted-v1"
# The Claude models of 2026 (docs/bedrock-models-2026.md §1.3, §1.4), through their us profiles.
OPUS_46 = "us.anthropic.claude-opus-4-6-v1"  # adaptive and budgets; no xhigh
OPUS_48 = "us.anthropic.claude-opus-4-8"  # adaptive only, thinks when asked; system messages
OPUS_5 = "us.anthropic.claude-opus-5"  # thinks by default, may be turned off
OPUS_55 = "us.anthropic.claude-opus-5-5"  # always thinks; default effort medium
SONNET_55 = "us.anthropic.claude-sonnet-5-5"  # always thinks; default effort high
HAIKU_55 = "us.anthropic.claude-haiku-5-5"  # thinks by default, may be turned off; default effort medium


def model(model_id: str, facts: ModelFacts | None = None) -> ResolvedModel:
    return ResolvedModel(requested=model_id, id=model_id, facts=facts or facts_for(model_id))
