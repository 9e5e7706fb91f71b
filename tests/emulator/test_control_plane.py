"""The bedrock control plane: ListFoundationModels, GetFoundationModel, ListInferenceProfiles, GetInferenceProfile."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.conftest import HAIKU, client


def test_list_foundation_models_returns_the_catalog(bedrock: Any) -> None:
    models = bedrock.list_foundation_models()["modelSummaries"]
    ids = {m["modelId"] for m in models}
    assert {HAIKU, "amazon.nova-pro-v1:0", "meta.llama3-70b-instruct-v1:0", "amazon.titan-embed-text-v2:0"} <= ids
    haiku = next(m for m in models if m["modelId"] == HAIKU)
    assert haiku["modelArn"] == f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"
    assert haiku["providerName"] == "Anthropic"
    assert haiku["inputModalities"] == ["TEXT", "IMAGE"]
    assert haiku["responseStreamingSupported"] is True


@pytest.mark.parametrize(
    ("filters", "check"),
    [
        ({"byOutputModality": "EMBEDDING"}, lambda m: "EMBEDDING" in m["outputModalities"]),
        ({"byProvider": "anthropic"}, lambda m: m["providerName"] == "Anthropic"),
        ({"byInferenceType": "ON_DEMAND"}, lambda m: "ON_DEMAND" in m["inferenceTypesSupported"]),
    ],
)
def test_list_foundation_models_filters(bedrock: Any, filters: dict[str, str], check: Any) -> None:
    everything = bedrock.list_foundation_models()["modelSummaries"]
    models = bedrock.list_foundation_models(**filters)["modelSummaries"]
    assert models
    assert all(check(m) for m in models)
    assert len(models) == sum(1 for m in everything if check(m))


def test_invalid_filter_is_a_validation_error(bedrock: Any) -> None:
    with pytest.raises(bedrock.exceptions.ValidationException) as excinfo:
        bedrock.list_foundation_models(byOutputModality="SOUND")
    assert "Member must satisfy enum value set" in excinfo.value.response["Error"]["Message"]


def test_get_foundation_model_by_id_and_arn(bedrock: Any) -> None:
    details = bedrock.get_foundation_model(modelIdentifier=HAIKU)["modelDetails"]
    assert details["modelName"] == "Claude 3 Haiku"
    by_arn = bedrock.get_foundation_model(modelIdentifier=details["modelArn"])["modelDetails"]
    assert by_arn == details
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_foundation_model(modelIdentifier="anthropic.nothing-v1:0")


def test_inference_profiles_follow_the_callers_geography(emulator_url: str) -> None:
    for region, prefix in (("us-west-2", "us."), ("eu-central-1", "eu."), ("ap-southeast-1", "apac.")):
        bedrock = client("bedrock", emulator_url, region=region)
        paginator = bedrock.get_paginator("list_inference_profiles")
        profiles = [
            p
            for page in paginator.paginate(PaginationConfig={"PageSize": 7})
            for p in page["inferenceProfileSummaries"]
        ]
        ids = {p["inferenceProfileId"] for p in profiles}
        assert any(i.startswith(prefix) for i in ids)
        assert all(i.startswith((prefix, "global.", "au.", "jp.")) for i in ids)
        assert len(ids) == len(profiles)
        assert all(p["inferenceProfileArn"].startswith(f"arn:aws:bedrock:{region}:") for p in profiles)
        bedrock.close()


def test_get_inference_profile_by_id_and_arn(bedrock: Any) -> None:
    profile = bedrock.get_inference_profile(inferenceProfileIdentifier="us." + HAIKU)
    assert profile["type"] == "SYSTEM_DEFINED"
    assert profile["status"] == "ACTIVE"
    assert {m["modelArn"].split("/")[-1] for m in profile["models"]} == {HAIKU}
    assert len(profile["models"]) == 3
    again = bedrock.get_inference_profile(inferenceProfileIdentifier=profile["inferenceProfileArn"])
    assert again["inferenceProfileId"] == profile["inferenceProfileId"]
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_inference_profile(inferenceProfileIdentifier="eu.nothing")
