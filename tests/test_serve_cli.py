"""`quarry serve` as a new user runs it: no AWS credentials, so the emulator runs in-process, with a banner."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from quarry import __version__
from tests.conftest import SDKs, offline_environment

QUARRY = [sys.executable, "-m", "quarry"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    env = offline_environment(tmp_path_factory.mktemp("serve"))
    process = subprocess.Popen(
        [*QUARRY, "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdout is not None
    lines: list[str] = []
    while not lines or "Anthropic SDK" not in lines[-1]:  # the banner's last line; log lines may come between
        lines.append(process.stdout.readline())
        assert lines[-1], "".join(lines)
    banner = "".join(lines)
    match = re.search(r"Quarry (http://127\.0\.0\.1:\d+)", banner)
    assert match, banner
    yield match.group(1), banner
    process.terminate()
    code = process.wait(timeout=30)
    process.stdout.close()
    assert code in (0, -15)  # uvicorn shuts down gracefully, then re-raises SIGTERM


def test_banner_says_emulator_and_open_loopback(served: tuple[str, str]) -> None:
    _, banner = served
    assert "offline Bedrock emulator" in banner
    assert "no AWS credentials found" in banner
    assert "loopback only" in banner
    assert re.search(rf"^Quarry http://\S+  \(version {__version__}; Ctrl-C stops it\)$", banner, re.MULTILINE)
    assert re.search(r"^  data: /\S+/data  \(", banner, re.MULTILINE), banner  # the test's QUARRY_DATA_DIR


def test_openai_sdk_works_offline(served: tuple[str, str], sdk: SDKs) -> None:
    url, _ = served
    client = sdk.openai(f"{url}/v1", "anything")
    answer = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
    assert answer.choices[0].message.content == 'You said: "Hi"'
    assert any(m.id.startswith("anthropic.claude") for m in client.models.list())


def test_anthropic_sdk_works_offline(served: tuple[str, str], sdk: SDKs) -> None:
    url, _ = served
    client = sdk.anthropic(url, "anything")
    with client.messages.stream(
        model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
    assert text == 'You said: "Hi"'
    assert stream.get_final_message().model == "claude-sonnet-4-5"  # the name asked for, echoed (Claude Code needs it)


def test_public_interface_without_key_is_refused(tmp_path: Path) -> None:
    env = offline_environment(tmp_path)
    result = subprocess.run(
        [*QUARRY, "serve", "--host", "0.0.0.0", "--port", "0"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 2
    assert "without an API key" in result.stderr


def test_forcing_bedrock_without_credentials_fails_clearly(tmp_path: Path) -> None:
    env = offline_environment(tmp_path)
    result = subprocess.run(
        [*QUARRY, "serve", "--port", "0", "--backend", "bedrock"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode != 0
    assert "needs AWS credentials" in result.stdout + result.stderr


@pytest.mark.parametrize("command", ["serve", "emulator", "ui"])
def test_a_busy_port_is_one_line_saying_what_to_do(tmp_path: Path, command: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        env = offline_environment(tmp_path)
        done = subprocess.run(
            [*QUARRY, command, "--port", str(port)], capture_output=True, text=True, env=env, timeout=120
        )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert f"port {port} on 127.0.0.1 is already in use" in line
    assert f"quarry {command} --port N" in line


@pytest.mark.parametrize(
    ("command", "first", "name", "sent"),
    [
        ("serve", "Quarry http://", "Quarry", signal.SIGTERM),
        ("serve", "Quarry http://", "Quarry", signal.SIGINT),
        ("emulator", "Quarry Bedrock emulator on", "Quarry Bedrock emulator", signal.SIGTERM),
    ],
)
def test_a_signal_ends_with_a_word_that_it_stopped(
    tmp_path: Path, command: str, first: str, name: str, sent: signal.Signals
) -> None:
    process = subprocess.Popen(
        [*QUARRY, command, "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=offline_environment(tmp_path),
    )
    assert process.stdout is not None
    with process:
        assert process.stdout.readline().startswith(first)
        if command == "serve":  # the banner is printed once the app is ready: its last line
            while "Anthropic SDK" not in process.stdout.readline():
                pass
        process.send_signal(sent)
        rest = process.stdout.read()
        assert process.wait(timeout=60) == -sent  # still ends as the signal does, for supervisors
    assert rest.strip().splitlines()[-1] == f"{name} stopped ({sent.name}).", rest


def test_the_address_in_the_banner_answers(served: tuple[str, str]) -> None:
    url, _ = served
    home = httpx.get(f"{url}/", timeout=30)
    assert home.status_code == 307
    assert home.headers["location"] == "/ui/"


def test_tracing_configured_without_its_extra_names_the_extra(tmp_path: Path) -> None:
    env = {**offline_environment(tmp_path), "QUARRY_TRACING__OTLP_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}
    # An install without the `otel` extra, as far as Quarry can tell: the SDK cannot be imported.
    hide_sdk = "import sys; sys.modules['opentelemetry.sdk.trace'] = None; from quarry.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", hide_sdk, "serve", "--port", "0"], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 2
    assert "pip install 'quarry[otel]'" in result.stderr
