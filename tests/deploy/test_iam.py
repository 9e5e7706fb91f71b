"""Least privilege: the roles carry exactly the calls Quarry makes, on the narrowest resources AWS allows."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy._cfn import Stack, as_list, load, resources_for, role_actions, role_statements

# Converse and ConverseStream have no IAM actions of their own: InvokeModel and InvokeModelWithResponseStream
# authorise them. The rest are the control-plane calls of the model catalog, CountTokens and knowledge bases.
BEDROCK = {
    "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream",
    "bedrock:CountTokens",
    "bedrock:ListFoundationModels",
    "bedrock:GetFoundationModel",
    "bedrock:ListInferenceProfiles",
    "bedrock:GetInferenceProfile",
    "bedrock:Retrieve",
}
LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
ECR_PULL = {
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
}
# The only calls that take no resource, so the only ones allowed on "*".
RESOURCELESS = {"bedrock:ListFoundationModels", "bedrock:ListInferenceProfiles", "ecr:GetAuthorizationToken"}
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:quarry/admin-AbCdEf"
DB_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:quarry/db-GhIjKl"


@pytest.fixture(scope="module")
def lambda_template() -> dict[str, Any]:
    return load("lambda.yaml")


@pytest.fixture(scope="module")
def ecs_template() -> dict[str, Any]:
    return load("ecs-fargate.yaml")


def all_roles(stack: Stack) -> list[str]:
    return list(stack.of_type("AWS::IAM::Role"))


@pytest.mark.parametrize("name", ["lambda.yaml", "ecs-fargate.yaml"])
def test_no_wildcard_actions_and_star_resources_only_for_resourceless_calls(name: str) -> None:
    stack = Stack(load(name), SecretsKmsKeyArn=KMS_KEY, ImageUri="123456789012.dkr.ecr.us-east-1.amazonaws.com/q:1")
    for role in all_roles(stack):
        for statement in role_statements(stack, role):
            assert statement["Effect"] == "Allow"
            actions = as_list(statement["Action"])
            assert all("*" not in action for action in actions), statement
            if "*" in as_list(statement["Resource"]):
                assert set(actions) <= RESOURCELESS, statement


def test_lambda_role_is_bedrock_its_secret_and_its_logs(lambda_template: dict[str, Any]) -> None:
    stack = Stack(lambda_template)
    assert role_actions(stack, "FunctionRole") == BEDROCK | LOGS | {"secretsmanager:GetSecretValue"}
    assert resources_for(stack, "FunctionRole", "secretsmanager:GetSecretValue") == {"<ApiKeySecret>"}
    assert resources_for(stack, "FunctionRole", "logs:PutLogEvents") == {"<LogGroup.Arn>"}
    # Outside a VPC no managed policy at all; in one, only the ENI permissions Lambda needs.
    assert stack.properties("FunctionRole").get("ManagedPolicyArns", []) == []
    in_vpc = Stack(lambda_template, SubnetIds="subnet-1,subnet-2", SecurityGroupIds="sg-1")
    assert in_vpc.properties("FunctionRole")["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
    ]


def test_lambda_reads_only_the_given_secret_and_decrypts_only_through_secrets_manager(
    lambda_template: dict[str, Any],
) -> None:
    stack = Stack(lambda_template, ApiKeySecretArn=SECRET, SecretsKmsKeyArn=KMS_KEY)
    assert not stack.exists("ApiKeySecret")
    assert resources_for(stack, "FunctionRole", "secretsmanager:GetSecretValue") == {SECRET}
    (decrypt,) = [s for s in role_statements(stack, "FunctionRole") if s["Action"] == "kms:Decrypt"]
    assert decrypt["Resource"] == KMS_KEY
    assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}


def test_ecs_task_role_is_bedrock_only_and_the_execution_role_starts_the_task(ecs_template: dict[str, Any]) -> None:
    stack = Stack(ecs_template, DatabaseUrlSecretArn=DB_SECRET, RedisUrl="redis://cache:6379")
    assert role_actions(stack, "TaskRole") == BEDROCK
    assert role_actions(stack, "ExecutionRole") == ECR_PULL | LOGS | {"secretsmanager:GetSecretValue"}
    assert resources_for(stack, "ExecutionRole", "secretsmanager:GetSecretValue") == {"<ApiKeySecret>", DB_SECRET}
    assert resources_for(stack, "ExecutionRole", "ecr:BatchGetImage") == {
        "arn:aws:ecr:us-east-1:123456789012:repository/*"
    }
    task = stack.properties("TaskDefinition")
    assert task["TaskRoleArn"] == "<TaskRole.Arn>"
    assert task["ExecutionRoleArn"] == "<ExecutionRole.Arn>"


@pytest.mark.parametrize(("name", "role"), [("lambda.yaml", "FunctionRole"), ("ecs-fargate.yaml", "TaskRole")])
def test_models_are_invoked_only_in_the_listed_regions_and_this_accounts_profiles(name: str, role: str) -> None:
    us_profile_regions = Stack(load(name), ModelRegions="us-east-1,us-east-2,us-west-2")
    own_profiles = {
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/*",
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/*",
    }
    for action in ("bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"):
        assert resources_for(us_profile_regions, role, action) == own_profiles | {
            "arn:aws:bedrock:us-east-1::foundation-model/*",
            "arn:aws:bedrock:us-east-2::foundation-model/*",
            "arn:aws:bedrock:us-west-2::foundation-model/*",
        }
    # The default lets profiles route anywhere, including global profiles' region-less model ARNs.
    anywhere = Stack(load(name))
    assert resources_for(anywhere, role, "bedrock:InvokeModel") == own_profiles | {
        "arn:aws:bedrock:*::foundation-model/*"
    }
    assert resources_for(anywhere, role, "bedrock:CountTokens") == {"arn:aws:bedrock:us-east-1::foundation-model/*"}
    assert resources_for(anywhere, role, "bedrock:Retrieve") == {
        "arn:aws:bedrock:us-east-1:123456789012:knowledge-base/*"
    }
