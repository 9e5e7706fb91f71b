"""`quarry doctor`: what is in effect and whether it works, one line each, ✓ or ✗ with the fix."""

from __future__ import annotations

import asyncio
import errno
import importlib.util
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import click
from pydantic import ValidationError

from quarry import __version__
from quarry.settings import Settings

__all__ = ["doctor"]

TIMEOUT_S = 10.0  # per check that goes over the network: a doctor that hangs helps nobody
EXTRAS = {  # extra → the modules it brings, as pyproject.toml lists them
    "ui": ("gradio", "httpx2", "openai", "jsonschema", "nh3", "yaml"),
    "kb": ("numpy", "simsimd", "pypdfium2", "docx", "multipart"),
    "tokens": ("quicktok",),
    "postgres": ("asyncpg",),
    "redis": ("redis",),
}


@dataclass(frozen=True, slots=True)
class Finding:
    ok: bool
    what: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "✓" if self.ok else "✗"
        return f"{mark} {self.what}: {self.detail}" + (f"\n    fix: {self.fix}" if self.fix else "")


def _python() -> Finding:
    # Always ✓: Quarry does not install on a Python older than 3.11, so this one runs on a good one.
    return Finding(True, "python", f"{'.'.join(map(str, sys.version_info[:3]))} ({sys.executable})")


def _extras() -> Finding:
    missing = [name for name, modules in EXTRAS.items() if any(importlib.util.find_spec(m) is None for m in modules)]
    if not missing:
        return Finding(True, "extras", ", ".join(EXTRAS) + " installed")
    installed = [name for name in EXTRAS if name not in missing]
    what = {
        "ui": "the toolbox at /ui",
        "kb": "knowledge bases",
        "tokens": "token-array inputs",
        "postgres": "PostgreSQL",
        "redis": "Redis",
    }
    return Finding(
        # postgres and redis are needed only when configured (see below); without tokens, token arrays are a 400
        not ({"ui", "kb"} & set(missing)),
        "extras",
        f"installed: {', '.join(installed) or 'none'}; missing: "
        + ", ".join(f"{name} ({what[name]})" for name in missing),
        f"pip install 'quarry[{','.join(missing)}]' (or 'quarry[all]')",
    )


def _data_dir(settings: Settings) -> Finding:
    folder = settings.data_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Finding(
            False,
            "data dir",
            f"{folder} is not a folder Quarry can write ({exc.strerror or exc})",
            "set QUARRY_DATA_DIR to a folder you can write",
        )
    return Finding(True, "data dir", f"{folder} (writable)")


async def _backend(settings: Settings) -> Finding:
    from quarry.bedrock import BedrockControl, resolve_aws

    if settings.backend == "emulator":
        return Finding(
            True, "backend", "offline Bedrock emulator (forced by QUARRY_BACKEND / --backend; answers are synthetic)"
        )
    target = await resolve_aws(default_region=settings.region)
    if target is None:
        found = "no AWS credentials found"
        credentials = "AWS credentials (aws configure, AWS_PROFILE, SSO) or AWS_BEARER_TOKEN_BEDROCK"
        if settings.backend == "bedrock":
            return Finding(False, "backend", f"Amazon Bedrock is required, but {found}", f"set {credentials}")
        detail = f"offline Bedrock emulator ({found}; answers are synthetic); for Amazon Bedrock, set {credentials}"
        return Finding(True, "backend", detail)
    control = BedrockControl(
        target.session, region=target.region, endpoint_url=target.control_url, settings=settings.bedrock
    )
    where = f"Amazon Bedrock in {target.region}, {target.identity}"
    try:
        models = await asyncio.wait_for(control.foundation_models(), TIMEOUT_S)
    except Exception as exc:  # any failure is the finding: the credentials, the region, the network
        return Finding(
            False,
            "backend",
            f"{where}: listing models failed ({type(exc).__name__}: {str(exc)[:200]})",
            "check the credentials and that Bedrock is enabled in that region (AWS_REGION), or use --backend emulator",
        )
    finally:
        await control.aclose()
    return Finding(True, "backend", f"{where}: {len(models)} foundation models listed")


async def _database(settings: Settings) -> list[Finding]:
    from quarry.auth import KeyStore
    from quarry.store import open_database

    where = settings.database_url.split("@")[-1] if settings.database_url else str(settings.data_dir / "quarry.db")
    try:
        database = await asyncio.wait_for(open_database(settings.database_url, settings.data_dir), TIMEOUT_S)
    except Exception as exc:
        fix = "check QUARRY_DATABASE_URL (and the postgres extra), or unset it for SQLite in the data dir"
        return [Finding(False, "database", f"{where}: {type(exc).__name__}: {str(exc)[:200]}", fix)]
    try:
        keyed = bool(settings.api_key or settings.api_key_secret_id or settings.api_key_ssm_parameter)
        teams = len(await KeyStore(database).list())
    finally:
        await database.close()
    if keyed:
        keys = f"a bootstrap key (QUARRY_API_KEY or its secret) and {teams} team key(s): every call needs one"
    elif teams:
        keys = f"{teams} team key(s): every call needs one; the toolbox needs a key typed in Settings or sign-in"
    else:
        keys = "none: keyless, so `quarry serve` listens on loopback only and lets every caller in"
    return [Finding(True, "database", f"{where} (reachable)"), Finding(True, "keys", keys)]


async def _redis(settings: Settings) -> Finding | None:
    if not settings.redis_url:
        return None
    where = settings.redis_url.split("@")[-1]
    if importlib.util.find_spec("redis") is None:
        return Finding(
            False, "redis", f"{where} is configured, but the redis extra is missing", "pip install 'quarry[redis]'"
        )
    import redis.asyncio as redis

    client: Any = redis.from_url(settings.redis_url)
    try:
        await asyncio.wait_for(client.ping(), TIMEOUT_S)
    except Exception as exc:
        return Finding(
            False,
            "redis",
            f"{where}: {type(exc).__name__}: {str(exc)[:200]}",
            "start Redis, or fix or unset QUARRY_REDIS_URL",
        )
    finally:
        await client.aclose()
    return Finding(True, "redis", f"{where} (reachable)")


def _port(what: str, host: str, port: int, option: str) -> Finding:
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return Finding(False, what, f"{host}:{port} is in use (Quarry already running, or another program)",
                           f"stop it, or use {option} N")  # fmt: skip
        return Finding(False, what, f"cannot listen on {host}:{port} ({exc.strerror or exc})", f"use {option} N")
    return Finding(True, what, f"{host}:{port} is free")


async def _examine(settings: Settings) -> list[Finding]:
    found = [_python(), Finding(True, "quarry", __version__), _extras(), _data_dir(settings)]
    checks: list[Callable[[], Awaitable[Any]]] = [lambda: _backend(settings), lambda: _database(settings)]
    for check in checks:
        try:
            result = await check()
        except Exception as exc:  # a check that breaks is a finding, not a traceback
            result = Finding(False, "check", f"{type(exc).__name__}: {exc}")
        found += result if isinstance(result, list) else [result]
    if (redis := await _redis(settings)) is not None:
        found.append(redis)
    found.append(_port("port (quarry serve)", settings.host, settings.port, "quarry serve --port"))
    found.append(
        _port("port (quarry emulator)", settings.emulator.host, settings.emulator.port, "quarry emulator --port")
    )
    return found


@click.command()
def doctor() -> None:
    """Check what is in effect and whether it works: Python, extras, data dir, backend and credentials, database,
    keys, Redis, ports. Each line is ✓ or ✗ with the fix; the exit status is 1 when any is ✗."""
    try:
        settings = Settings()
    except ValidationError as exc:
        click.echo(f"✗ settings: {exc}\n    fix: correct the QUARRY_* variables or quarry.toml named above")
        raise SystemExit(1) from None
    found = asyncio.run(_examine(settings))
    for finding in found:
        click.echo(finding.line())
    if not all(finding.ok for finding in found):
        raise SystemExit(1)
