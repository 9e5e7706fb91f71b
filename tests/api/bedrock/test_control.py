"""The `bedrock` client's model listings, relayed from Bedrock's control plane and cut down to the key's scopes."""

from __future__ import annotations

import httpx
import pytest

from tests.api.bedrock.conftest import HAIKU, SONNET_45_PROFILE, Client, Gateway


def test_foundation_models_show_what_the_key_may_use(gateway: Gateway, bedrock: Client) -> None:
    scoped = bedrock("bedrock", gateway.key(models=["anthropic.claude-3-haiku-*"]), gateway.url)
    ids = [model["modelId"] for model in scoped.list_foundation_models()["modelSummaries"]]
    assert ids == [HAIKU]
    everything = bedrock("bedrock", gateway.key(), gateway.url).list_foundation_models(byProvider="Meta")
    assert len(everything["modelSummaries"]) > 1
    assert {model["providerName"] for model in everything["modelSummaries"]} == {"Meta"}
    assert scoped.get_foundation_model(modelIdentifier=HAIKU)["modelDetails"]["modelId"] == HAIKU
    with pytest.raises(scoped.exceptions.AccessDeniedException):
        scoped.get_foundation_model(modelIdentifier="meta.llama3-8b-instruct-v1:0")


def test_inference_profiles_show_what_the_key_may_use(gateway: Gateway, bedrock: Client) -> None:
    client = bedrock("bedrock", gateway.key(models=["*claude-sonnet-4-5*"]), gateway.url)
    profiles = client.list_inference_profiles(typeEquals="SYSTEM_DEFINED")["inferenceProfileSummaries"]
    ids = {profile["inferenceProfileId"] for profile in profiles}
    assert SONNET_45_PROFILE in ids
    assert all("claude-sonnet-4-5" in profile_id for profile_id in ids)
    found = client.get_inference_profile(inferenceProfileIdentifier=SONNET_45_PROFILE)
    assert found["inferenceProfileId"] == SONNET_45_PROFILE
    assert found["type"] == "SYSTEM_DEFINED"
    with pytest.raises(client.exceptions.AccessDeniedException):
        client.get_inference_profile(inferenceProfileIdentifier="us.anthropic.claude-3-haiku-20240307-v1:0")


def test_profile_pages_are_relayed(gateway: Gateway, bedrock: Client) -> None:
    client = bedrock("bedrock", gateway.key(), gateway.url)
    pages = list(client.get_paginator("list_inference_profiles").paginate(PaginationConfig={"PageSize": 5}))
    assert len(pages) > 1
    assert all(len(page["inferenceProfileSummaries"]) <= 5 for page in pages)


@pytest.mark.parametrize("prefix", ["", "/bedrock"])
def test_claude_codes_profile_discovery(gateway: Gateway, prefix: str) -> None:
    """Claude Code's first call in Bedrock mode: `type=SYSTEM_DEFINED`, the service model's name for typeEquals."""
    key = gateway.key(models=["*claude-sonnet-4-5*"])
    response = httpx.get(
        f"{gateway.url}{prefix}/inference-profiles",
        params={"type": "SYSTEM_DEFINED"},
        headers={"Authorization": f"Bearer {key.secret}"},
    )
    assert response.status_code == 200, response.text
    ids = [profile["inferenceProfileId"] for profile in response.json()["inferenceProfileSummaries"]]
    assert SONNET_45_PROFILE in ids
