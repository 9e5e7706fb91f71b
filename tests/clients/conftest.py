"""Real client programs (from npm) run against `quarry serve`'s app over the emulator. They are installed once, at
the pinned versions below, into a cache folder outside the tree (`$XDG_CACHE_HOME/quarry-tests/npm`, else
`~/.cache/quarry-tests/npm`), so later runs need neither the network nor a new install."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

# The gateway and the emulator it calls, as the dialects' tests have them.
from tests.api.conftest import aws_environment, emulator, gateway, image_server  # noqa: F401  # fixtures

# Claude Code 2.1.197 is the build issue 16 was found with (default model claude-opus-4-8, mid-conversation system
# messages); 2.1.332 is the newest release when these tests were written (default model claude-opus-5-5).
CLAUDE_CODE_VERSIONS = ("2.1.197", "2.1.332")
# Codex CLI's newest release when its tests were written: its native binary is an npm optional dependency
# (@openai/codex-linux-x64 is an alias of @openai/codex@0.171.0-linux-x64), so npm alone installs it.
CODEX_VERSION = "0.171.0"
# The Vercel AI SDK and its OpenAI provider, newest when their tests were written; `openai(model)` is the Responses API.
# They declare Node 22 or later but run on Debian's Node 20, which these tests use.
VERCEL_AI = {"ai": "7.0.173", "@ai-sdk/openai": "4.0.118", "zod": "4.6.7"}


def _cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "quarry-tests" / "npm"


def npm_install(package: str, version: str) -> Path:
    """The folder of `package@version`'s `node_modules/.bin`, installed there first if it is not yet."""
    return npm_install_all({package: version}) / ".bin"


def npm_install_all(packages: dict[str, str]) -> Path:
    """The `node_modules` folder holding these packages at these versions, installed there first if it is not yet."""
    folder = _cache() / "+".join(f"{package.replace('/', '+')}@{version}" for package, version in packages.items())
    modules = folder / "node_modules"
    if modules.is_dir():
        return modules
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("these tests run client programs from npm: install Node.js and npm (Debian: apt-get install npm)")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    # Claude Code's postinstall puts its native binary (an optional dependency, per platform) in place of bin/claude.
    done = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(partial),
            "--no-audit",
            "--no-fund",
            *(f"{p}@{v}" for p, v in packages.items()),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"npm could not install {', '.join(packages)}:\n{done.stderr[-2000:]}")
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return modules


@pytest.fixture(scope="session", params=CLAUDE_CODE_VERSIONS, ids=lambda v: f"claude-code-{v}")
def claude_code(request: pytest.FixtureRequest) -> tuple[str, Path]:
    """(version, path of the `claude` command) for each pinned Claude Code."""
    version: str = request.param
    return version, npm_install("@anthropic-ai/claude-code", version) / "claude"
