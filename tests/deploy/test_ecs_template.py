"""deploy/aws/ecs-fargate.yaml: HTTPS ALB with room for long answers, non-root tasks reachable only from it."""

from __future__ import annotations

from typing import Any

import pytest

from quarry.settings import BedrockSettings
from tests.deploy._cfn import Stack, load

DB_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:quarry/db-GhIjKl"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load("ecs-fargate.yaml")


def container(stack: Stack) -> dict[str, Any]:
    (quarry,) = stack.properties("TaskDefinition")["ContainerDefinitions"]
    assert isinstance(quarry, dict)
    return quarry


def environment(stack: Stack) -> dict[str, str]:
    return {item["Name"]: item["Value"] for item in container(stack)["Environment"]}


def attributes(items: list[dict[str, str]]) -> dict[str, str]:
    return {item["Key"]: item["Value"] for item in items}


def test_idle_timeout_outlasts_a_non_streamed_answer(template: dict[str, Any]) -> None:
    """Bedrock sends a whole answer at once, after up to first_byte_timeout_s of silence on the connection."""
    stack = Stack(template)
    idle = int(attributes(stack.properties("LoadBalancer")["LoadBalancerAttributes"])["idle_timeout.timeout_seconds"])
    assert idle > BedrockSettings().first_byte_timeout_s
    assert int(template["Parameters"]["IdleTimeoutSeconds"]["MaxValue"]) == 4000  # the ALB's own limit


@pytest.mark.parametrize("grace", ["30", "110"])
def test_draining_lasts_at_least_the_shutdown_grace_and_ends_before_sigkill(
    template: dict[str, Any], grace: str
) -> None:
    stack = Stack(template, ShutdownGraceSeconds=grace)
    delay = attributes(stack.properties("TargetGroup")["TargetGroupAttributes"])["deregistration_delay.timeout_seconds"]
    assert int(delay) >= int(environment(stack)["QUARRY_SHUTDOWN_GRACE_S"]) == int(grace)
    assert int(template["Parameters"]["ShutdownGraceSeconds"]["MaxValue"]) < container(stack)["StopTimeout"] <= 120


def test_https_with_http_redirected(template: dict[str, Any]) -> None:
    stack = Stack(template, CertificateArn="arn:aws:acm:us-east-1:123456789012:certificate/abc")
    listeners = {p["Port"]: p for p in stack.of_type("AWS::ElasticLoadBalancingV2::Listener").values()}
    assert set(listeners) == {443, 80}
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["Certificates"] == [{"CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc"}]
    assert listeners[443]["DefaultActions"] == [{"Type": "forward", "TargetGroupArn": "<TargetGroup>"}]
    (redirect,) = listeners[80]["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"] == {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}


def test_health_checks_ask_quarry_health(template: dict[str, Any]) -> None:
    stack = Stack(template)
    target_group = stack.properties("TargetGroup")
    assert target_group["HealthCheckPath"] == "/health"
    assert target_group["Port"] == 8080
    assert target_group["TargetType"] == "ip"  # Fargate tasks register by address
    command = container(stack)["HealthCheck"]["Command"]
    assert command[0] == "CMD"
    assert "http://127.0.0.1:8080/health" in command[-1]


def test_task_runs_as_non_root_on_a_read_only_root_with_writable_volumes(template: dict[str, Any]) -> None:
    stack = Stack(template)
    quarry = container(stack)
    user = quarry["User"].split(":")
    assert user[0] not in {"0", "root"}
    assert quarry["ReadonlyRootFilesystem"] is True
    mounts = {m["ContainerPath"]: m for m in quarry["MountPoints"]}
    assert environment(stack)["QUARRY_DATA_DIR"] in mounts
    assert "/tmp" in mounts
    assert all(m["ReadOnly"] is False for m in mounts.values())
    volumes = {v["Name"] for v in stack.properties("TaskDefinition")["Volumes"]}
    assert {m["SourceVolume"] for m in mounts.values()} <= volumes
    assert quarry["PortMappings"] == [{"ContainerPort": 8080, "Protocol": "tcp"}]
    assert quarry["Command"] == ["serve", "--host", "0.0.0.0", "--port", "8080"]
    assert environment(stack)["QUARRY_BACKEND"] == "bedrock"


def test_api_key_and_database_url_reach_the_container_as_secrets(template: dict[str, Any]) -> None:
    alone = Stack(template, DesiredCount="1")
    assert container(alone)["Secrets"] == [{"Name": "QUARRY_API_KEY", "ValueFrom": "<ApiKeySecret>"}]
    assert "QUARRY_API_KEY" not in environment(alone)
    shared = Stack(template, DatabaseUrlSecretArn=DB_SECRET, RedisUrl="redis://cache:6379")
    assert {s["Name"]: s["ValueFrom"] for s in container(shared)["Secrets"]} == {
        "QUARRY_API_KEY": "<ApiKeySecret>",
        "QUARRY_DATABASE_URL": DB_SECRET,
    }
    assert environment(shared)["QUARRY_REDIS_URL"] == "redis://cache:6379"
    assert "QUARRY_REDIS_URL" not in environment(alone)


@pytest.mark.parametrize(("cpu", "workers"), [("512", "1"), ("1024", "1"), ("2048", "2"), ("4096", "4")])
def test_workers_follow_the_task_vcpus_when_redis_shares_the_limits(
    template: dict[str, Any], cpu: str, workers: str
) -> None:
    shared = Stack(template, Cpu=cpu, Memory="8192", DatabaseUrlSecretArn=DB_SECRET, RedisUrl="redis://cache:6379")
    assert environment(shared)["QUARRY_WORKERS"] == workers
    # Without Redis each worker would keep its own limits: `quarry serve` refuses that, so one worker.
    assert environment(Stack(template, Cpu=cpu, Memory="8192", DesiredCount="1"))["QUARRY_WORKERS"] == "1"


def test_tasks_accept_only_the_load_balancer(template: dict[str, Any]) -> None:
    stack = Stack(template)
    (task_ingress,) = stack.properties("TaskSecurityGroup")["SecurityGroupIngress"]
    assert task_ingress["SourceSecurityGroupId"] == "<LoadBalancerSecurityGroup>"
    assert (task_ingress["FromPort"], task_ingress["ToPort"]) == (8080, 8080)
    assert "CidrIp" not in task_ingress
    alb_ports = {rule["FromPort"] for rule in stack.properties("LoadBalancerSecurityGroup")["SecurityGroupIngress"]}
    assert alb_ports == {443, 80}
    network = stack.properties("Service")["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["SecurityGroups"] == ["<TaskSecurityGroup>"]
    assert network["AssignPublicIp"] == "DISABLED"
    assert network["Subnets"] == ["<PrivateSubnetIds>"]
    assert stack.properties("LoadBalancer")["Subnets"] == ["<PublicSubnetIds>"]


def test_many_tasks_are_refused_without_shared_state(template: dict[str, Any]) -> None:
    """The stack's rule: more than one task (or autoscaling) requires Redis and PostgreSQL."""
    (rule,) = template["Rules"].values()

    def allowed(**parameters: str) -> bool:
        stack = Stack(template, **parameters)
        if not stack.resolve(rule["RuleCondition"]):
            return True
        return all(stack.resolve(assertion["Assert"]) for assertion in rule["Assertions"])

    assert allowed(DesiredCount="1")
    assert not allowed(DesiredCount="2")
    assert not allowed(DesiredCount="1", MaxCount="4")
    assert not allowed(DesiredCount="2", RedisUrl="redis://cache:6379")
    assert allowed(DesiredCount="2", RedisUrl="redis://cache:6379", DatabaseUrlSecretArn=DB_SECRET)


def test_cpu_autoscaling_only_when_asked(template: dict[str, Any]) -> None:
    assert Stack(template).of_type("AWS::ApplicationAutoScaling::ScalableTarget") == {}
    stack = Stack(template, DesiredCount="2", MaxCount="6")
    (target,) = stack.of_type("AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert (target["MinCapacity"], target["MaxCapacity"]) == ("2", "6")
    assert target["ResourceId"] == "service/<Cluster>/<Service.Name>"
    (policy,) = stack.of_type("AWS::ApplicationAutoScaling::ScalingPolicy").values()
    metric = policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert metric["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"


def test_logs_are_kept_for_a_bounded_time(template: dict[str, Any]) -> None:
    stack = Stack(template)
    assert stack.properties("LogGroup")["RetentionInDays"] == "30"
    options = container(stack)["LogConfiguration"]["Options"]
    assert options["awslogs-group"] == "<LogGroup>"
