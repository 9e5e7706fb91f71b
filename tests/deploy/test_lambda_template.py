"""deploy/aws/lambda.yaml: the Web Adapter streams through the Function URL (and the optional REST API)."""

from __future__ import annotations

from typing import Any

import pytest

from quarry.settings import BedrockSettings
from tests.deploy._cfn import Stack, load


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load("lambda.yaml")


def environment(stack: Stack) -> dict[str, str]:
    variables: dict[str, str] = stack.properties("Function")["Environment"]["Variables"]
    return variables


def test_function_url_streams(template: dict[str, Any]) -> None:
    stack = Stack(template)
    url = stack.properties("FunctionUrl")
    assert url["InvokeMode"] == "RESPONSE_STREAM"
    assert url["TargetFunctionArn"] == "<Function.Arn>"
    assert stack.properties("Function")["PackageType"] == "Image"


def test_web_adapter_forwards_to_quarry_and_streams(template: dict[str, Any]) -> None:
    env = environment(Stack(template))
    # The adapter lower-cases the mode and silently buffers on anything but `response_stream`.
    assert env["AWS_LWA_INVOKE_MODE"].lower() == "response_stream"
    assert env["AWS_LWA_PORT"] == "8080"
    assert env["AWS_LWA_READINESS_CHECK_PATH"] == "/health"
    assert env["QUARRY_DATA_DIR"].startswith("/tmp/")  # the only writable path on Lambda
    assert env["QUARRY_BACKEND"] == "bedrock"
    assert "AWS_REGION" not in env  # reserved: Lambda sets it and refuses a function that does


def test_api_key_comes_from_secrets_manager(template: dict[str, Any]) -> None:
    created = Stack(template)
    assert created.exists("ApiKeySecret")
    assert environment(created)["QUARRY_API_KEY_SECRET_ID"] == "<ApiKeySecret>"
    assert "QUARRY_API_KEY" not in environment(created)  # never the key itself in the function's configuration
    secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:quarry-Ab12Cd"
    given = Stack(template, ApiKeySecretArn=secret)
    assert not given.exists("ApiKeySecret")
    assert environment(given)["QUARRY_API_KEY_SECRET_ID"] == secret


def test_shared_state_and_vpc_only_when_given(template: dict[str, Any]) -> None:
    alone = Stack(template)
    assert "QUARRY_REDIS_URL" not in environment(alone)
    assert "QUARRY_DATABASE_URL" not in environment(alone)
    assert "VpcConfig" not in alone.properties("Function")
    shared = Stack(
        template,
        RedisUrl="rediss://cache.example:6379",
        DatabaseUrl="postgresql://quarry@db.example/quarry",
        SubnetIds="subnet-a,subnet-b",
        SecurityGroupIds="sg-1",
    )
    assert environment(shared)["QUARRY_REDIS_URL"] == "rediss://cache.example:6379"
    assert environment(shared)["QUARRY_DATABASE_URL"] == "postgresql://quarry@db.example/quarry"
    assert shared.properties("Function")["VpcConfig"] == {
        "SubnetIds": ["subnet-a", "subnet-b"],
        "SecurityGroupIds": ["sg-1"],
    }
    assert template["Parameters"]["RedisUrl"]["NoEcho"] is True
    assert template["Parameters"]["DatabaseUrl"]["NoEcho"] is True


def test_timeout_covers_a_whole_non_streamed_answer_within_lambdas_cap(template: dict[str, Any]) -> None:
    timeout = template["Parameters"]["Timeout"]
    assert int(timeout["MaxValue"]) == 900
    assert int(timeout["Default"]) >= BedrockSettings().first_byte_timeout_s
    assert Stack(template).properties("Function")["Timeout"] == str(timeout["Default"])


def test_public_url_grants_both_invoke_permissions(template: dict[str, Any]) -> None:
    public = Stack(template)
    permissions = sorted(public.of_type("AWS::Lambda::Permission").values(), key=lambda p: p["Action"])
    assert [(p["Action"], p["Principal"]) for p in permissions] == [
        ("lambda:InvokeFunction", "*"),
        ("lambda:InvokeFunctionUrl", "*"),
    ]
    assert permissions[0]["InvokedViaFunctionUrl"] is True  # the URL only, not direct Invoke calls
    assert permissions[1]["FunctionUrlAuthType"] == "NONE"
    signed = Stack(template, FunctionUrlAuthType="AWS_IAM")
    assert signed.of_type("AWS::Lambda::Permission") == {}
    assert signed.properties("FunctionUrl")["AuthType"] == "AWS_IAM"


def test_rest_api_streams_through_invoke_with_response_stream(template: dict[str, Any]) -> None:
    assert Stack(template).of_type("AWS::ApiGateway::Method") == {}
    stack = Stack(template, CreateRestApi="true")
    methods = stack.of_type("AWS::ApiGateway::Method")
    assert len(methods) == 2  # the root and {proxy+}
    for method in methods.values():
        integration = method["Integration"]
        assert integration["Type"] == "AWS_PROXY"
        assert integration["ResponseTransferMode"] == "STREAM"
        assert integration["Uri"] == (
            "arn:aws:apigateway:us-east-1:lambda:path/2021-11-15/functions/<Function.Arn>/response-streaming-invocations"
        )
        assert integration["TimeoutInMillis"] == 900_000  # the 15-minute cap of a streamed REST response
    (invoke,) = [p for p in stack.of_type("AWS::Lambda::Permission").values() if p["Principal"] != "*"]
    assert invoke == {
        "FunctionName": "<Function>",
        "Action": "lambda:InvokeFunction",
        "Principal": "apigateway.amazonaws.com",
        "SourceArn": "arn:aws:execute-api:us-east-1:123456789012:<RestApi>/*",
    }
