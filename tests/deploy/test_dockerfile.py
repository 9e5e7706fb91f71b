"""The Dockerfile, read as Docker reads it (there is no Docker engine here to build it), and its health check run
for real against Quarry's /health."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from quarry.server import create_app
from quarry.settings import Settings
from tests.deploy._cfn import Stack, load

ROOT = Path(__file__).resolve().parents[2]
BUILD_TOOLS = ("gcc", "g++", "make", "build-essential", "apt-get", "apk ", "curl", "wget", "git")


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def last(self, keyword: str) -> str | None:
        found = [args for word, args in self.instructions if word == keyword]
        return found[-1] if found else None


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with line continuations joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for line in lines:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            base = words[0]
            for name, value in arguments.items():
                base = base.replace("${" + name + "}", value)
            stages.append(Stage(base, words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(stages))))
        elif not stages and keyword == "ARG":
            name, _, default = args.partition("=")
            arguments[name] = default
        else:
            stages[-1].instructions.append((keyword, args.strip()))
    return arguments, stages


def chain(stages: list[Stage], target: Stage) -> list[Stage]:
    """A stage and the stages it is built FROM, base first: what ends up in its image."""
    by_name = {stage.name: stage for stage in stages}
    found = [target]
    while found[0].base in by_name:
        found.insert(0, by_name[found[0].base])
    return found


def merged(stages: list[Stage]) -> Stage:
    return Stage(stages[0].base, stages[-1].name, [i for stage in stages for i in stage.instructions])


def env(stage: Stage) -> dict[str, str]:
    values: dict[str, str] = {}
    for word, args in stage.instructions:
        if word == "ENV":
            values.update(pair.split("=", 1) for pair in shlex.split(args))
    return values


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse((ROOT / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def final(dockerfile: tuple[dict[str, str], list[Stage]]) -> list[Stage]:
    """The default target: the last stage, with what it inherits."""
    _, stages = dockerfile
    return chain(stages, stages[-1])


def test_final_image_is_slim_python_311_without_build_tools(final: list[Stage]) -> None:
    assert final[0].base.startswith("python:3.11-slim")
    image = merged(final)
    for word, args in image.instructions:
        if word == "RUN":
            assert not any(tool in args for tool in BUILD_TOOLS), args
        if word == "COPY" and args.startswith("--from="):
            assert args == "--from=build /opt/quarry /opt/quarry"  # the venv only: no wheels, no sources


def test_the_build_stage_installs_the_lock_then_the_wheel_without_resolving_again(
    dockerfile: tuple[dict[str, str], list[Stage]],
) -> None:
    _, stages = dockerfile
    (build,) = [stage for stage in stages if stage.name == "build"]
    script = " ".join(args for word, args in build.instructions if word == "RUN")
    assert "python -m venv /opt/quarry" in script
    lock = script.index("pip install --require-hashes -r requirements-all.txt")
    assert "pip wheel --no-deps --wheel-dir /wheels ." in script
    wheel = script.index('pip install --no-deps "$(ls /wheels/quarry-*.whl)"')
    assert lock < wheel


def test_final_image_runs_quarry_as_a_non_root_user(final: list[Stage]) -> None:
    image = merged(final)
    user = image.last("USER")
    assert user is not None
    assert user.split(":")[0] not in {"0", "root"}
    entrypoint = json.loads(image.last("ENTRYPOINT") or "[]")
    command = json.loads(image.last("CMD") or "[]")
    assert entrypoint + command == ["quarry", "serve", "--host", "0.0.0.0", "--port", "8080"]
    assert image.last("EXPOSE") == "8080"
    assert image.last("STOPSIGNAL") == "SIGTERM"
    variables = env(image)
    assert variables["QUARRY_DATA_DIR"] in json.loads(image.last("VOLUME") or "[]")
    assert variables["PATH"].startswith("/opt/quarry/bin:")


def test_lambda_target_adds_the_web_adapter_as_an_extension(dockerfile: tuple[dict[str, str], list[Stage]]) -> None:
    arguments, stages = dockerfile
    (target,) = [stage for stage in stages if stage.name == "lambda"]
    image = merged(chain(stages, target))
    (adapter,) = [args for word, args in image.instructions if word == "COPY" and "/opt/extensions/" in args]
    source_stage = adapter.split()[0].removeprefix("--from=")
    (source,) = [stage for stage in stages if stage.name == source_stage]
    assert source.base == f"public.ecr.aws/awsguru/aws-lambda-adapter:{arguments['LWA_VERSION']}"
    assert adapter.endswith("/lambda-adapter /opt/extensions/lambda-adapter")
    variables = env(image)
    assert variables["AWS_LWA_INVOKE_MODE"].lower() == "response_stream"
    assert variables["AWS_LWA_READINESS_CHECK_PATH"] == "/health"
    assert variables["AWS_LWA_PORT"] == "8080"
    assert variables["QUARRY_DATA_DIR"].startswith("/tmp/")
    assert stages[-1].name != "lambda"  # a plain `docker build` gives the server image


def test_dockerignore_keeps_out_local_state_but_not_what_the_build_copies(
    dockerfile: tuple[dict[str, str], list[Stage]],
) -> None:
    patterns = {
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")
    }
    assert {".git", ".venv", "bench", "tests", "**/__pycache__", ".pytest_cache"} <= patterns
    _, stages = dockerfile
    copied = {
        source
        for stage in stages
        for word, args in stage.instructions
        if word == "COPY" and not args.startswith("--from=")
        for source in args.split()[:-1]
    }
    assert copied == {"pyproject.toml", "README.md", "requirements-all.txt", "src"}
    assert not copied & patterns


def healthcheck(final: list[Stage], port: int) -> list[str]:
    """The HEALTHCHECK's exec-form command, aimed at `port` instead of 8080."""
    spec = merged(final).last("HEALTHCHECK")
    assert spec is not None
    assert "--timeout=" in spec
    command: list[str] = json.loads(spec[spec.index("CMD ") + 4 :])
    assert command[0] == "python"  # no curl in a slim image
    return [sys.executable, *(part.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for part in command[1:])]


class _Unready(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def unready_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Unready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def run(command: list[str]) -> int:
    return subprocess.run(command, capture_output=True, timeout=30, check=False).returncode


def test_healthcheck_passes_on_a_ready_quarry(final: list[Stage], serve: Any, tmp_path: Path) -> None:
    server = serve(create_app(Settings(backend="emulator", data_dir=tmp_path)), lifespan="on")
    port = int(server.url.rsplit(":", 1)[1])
    assert run(healthcheck(final, port)) == 0


def test_healthcheck_fails_when_unready_or_down(final: list[Stage], unready_port: int) -> None:
    assert run(healthcheck(final, unready_port)) != 0
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed_port = free.getsockname()[1]
    assert run(healthcheck(final, closed_port)) != 0


def test_ecs_health_check_is_the_images(final: list[Stage]) -> None:
    """ECS ignores the image's HEALTHCHECK, so the task definition repeats it: they must not drift apart."""
    stack = Stack(load("ecs-fargate.yaml"))
    (quarry,) = stack.properties("TaskDefinition")["ContainerDefinitions"]
    spec = merged(final).last("HEALTHCHECK") or ""
    assert ["CMD", *json.loads(spec[spec.index("CMD ") + 4 :])] == quarry["HealthCheck"]["Command"]
