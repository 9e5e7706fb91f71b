"""`quarry keys` and `quarry usage`: team keys, their budgets and the usage record, straight from the database the
gateway uses (`QUARRY_DATABASE_URL`, else the data dir's SQLite file)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
import orjson

from quarry.auth import (
    BUDGET_NAMES,
    SERVER_KEY_PURPOSE,
    ApiKey,
    AwsCredential,
    AwsCredentialStore,
    Budget,
    BudgetStore,
    KeyGuardrails,
    KeyStore,
    Limits,
    iso,
    parse_budgets,
    server_key,
    spent_since,
    usage_report,
    window,
)
from quarry.cli._key_guardrail import guardrail_options, pop_guardrail
from quarry.errors import QuarryError
from quarry.settings import Settings
from quarry.store import Database, open_database

__all__ = ["keys", "usage"]

T = TypeVar("T")
KEYLESS_ENDS = """\
This is the first team key, and no QUARRY_API_KEY is set: keyless mode ends now. Quarry refuses every call
without a valid key, within a second, on loopback too:
  - SDKs and tools: pass a key, e.g. OpenAI(base_url=..., api_key="<a team key>").
  - The toolbox (/ui): each user types a key in Settings > API key and presses Save (or signs in, when
    [ui] users or trusted_header is set: the toolbox then calls with a credential derived from the sign-in).
Revoking every team key (`quarry keys revoke ID`) brings keyless mode back."""


def _run(work: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        settings = Settings()
        database = await open_database(settings.database_url, settings.data_dir)
        try:
            return await work(database)
        finally:
            await database.close()

    try:
        return asyncio.run(main())
    except QuarryError as exc:
        raise click.ClickException(exc.message) from None


def _when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M") if timestamp else "-"


def parse_date(value: str) -> float:
    """An ISO date or date-time (UTC unless it says otherwise) as epoch seconds."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-12-31 or 2026-12-31T18:00") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _usd(amount: float | None) -> str:
    return "-" if amount is None else f"{amount:.4f}"


def _echo_json(value: Any) -> None:
    click.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def _aws_store(db: Database) -> AwsCredentialStore:
    settings = Settings()
    return AwsCredentialStore(db, lambda: server_key(settings, SERVER_KEY_PURPOSE))


def _show_aws(credential: AwsCredential, secret: str) -> None:
    """An issued AWS credential, shown this once, as the variables an AWS SDK reads."""
    click.echo(
        f"AWS credentials for SigV4 on the Bedrock routes, shown this once:\n\n"
        f"    AWS_ACCESS_KEY_ID={credential.access_key_id}\n    AWS_SECRET_ACCESS_KEY={secret}\n"
    )
    settings = Settings()
    if settings.database_url and settings.server_key is None:
        click.echo(
            "Warning: QUARRY_SERVER_KEY is not set, so the secret is encrypted under this data dir's server.key: a "
            "replica without the same file cannot verify it. Set the same QUARRY_SERVER_KEY on every replica (and "
            "here), then issue the credentials again.",
            err=True,
        )


def _budget_options(prefix: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """`--{prefix}usd-day`, `--{prefix}tokens-month`, … and `--{prefix}soft`."""

    def add(command: Callable[..., None]) -> Callable[..., None]:
        for name in reversed(BUDGET_NAMES):
            measure, _, period = name.partition("_")
            what = "US dollars" if measure == "usd" else "Tokens (input, output and cached)"
            command = click.option(
                f"--{prefix}{measure}-{period}", name, type=click.FloatRange(min=0, min_open=True),
                help=f"{what} per calendar {period} (UTC).",
            )(command)  # fmt: skip
        return click.option(
            f"--{prefix}soft", "soft", type=click.FloatRange(0, 1, min_open=True),
            help="Share of a budget after which answers warn (default: the server's, 0.8).",
        )(command)  # fmt: skip

    return add


def _budgets(options: dict[str, Any]) -> list[Budget]:
    try:
        return parse_budgets({name: options.pop(name) for name in BUDGET_NAMES}, options.pop("soft"))
    except QuarryError as exc:
        raise click.BadParameter(exc.message) from None


def _budget_line(budget: Budget, spent: float) -> str:
    _, resets = window(budget.period, time.time())
    left = max(0.0, budget.amount - spent)
    places = 4 if budget.measure == "usd" else 0
    soft = f", warns at {budget.soft:.0%}" if budget.soft else ""
    return (
        f"  {budget.name:<14} {budget.describe():<28} spent {spent:>12.{places}f}  left {left:>12.{places}f}"
        f"  resets {iso(resets)}{soft}"
    )


@click.group()
def keys() -> None:
    """Team API keys: create, list, show, set budgets, issue AWS credentials, revoke."""


@keys.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option(
    "--models", "patterns", multiple=True, help="Model patterns it may call (glob; repeat or comma-separate)."
)
@click.option("--rpm", type=click.IntRange(min=1), help="Requests per minute.")
@click.option("--tpm", type=click.IntRange(min=1), help="Tokens per minute (input and output).")
@click.option("--max-concurrency", type=click.IntRange(min=1), help="Requests at the same time.")
@click.option("--expires", help="Date (UTC) after which the key stops working, e.g. 2026-12-31.")
@click.option(
    "--fallbacks",
    "fallback_names",
    multiple=True,
    help="Models tried in order when one fails (repeat or comma-separate).",
)
@_budget_options("budget-")
@guardrail_options
@click.option("--aws", is_flag=True, help="Also issue an AWS access key id and secret (SigV4) for the key.")
@click.option("--team", help="The team it belongs to: its calls count against the team's budgets too.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def create(
    name: str, patterns: tuple[str, ...], rpm: int | None, tpm: int | None, max_concurrency: int | None,
    expires: str | None, fallback_names: tuple[str, ...], aws: bool, team: str | None, as_json: bool,
    **budget_options: Any,
) -> None:  # fmt: skip
    """Create a key. It is printed once and never shown again."""
    models = tuple(p.strip() for value in patterns for p in value.split(",") if p.strip())
    expires_at = parse_date(expires) if expires else None
    limits = Limits(rpm, tpm, max_concurrency)
    guardrail = pop_guardrail(budget_options)
    budgets = _budgets(budget_options)
    chain = _names(fallback_names)

    async def make(db: Database) -> tuple[ApiKey, str, bool, tuple[AwsCredential, str] | None]:
        store = KeyStore(db)
        first = not await store.any_active()
        key, secret = await store.create(
            name, models=models, limits=limits, expires_at=expires_at, fallbacks=chain, team=team
        )
        await BudgetStore(db).put(key.id, budgets)
        await KeyGuardrails(db).put(key.id, guardrail)
        return key, secret, first, await _aws_store(db).issue(key) if aws else None

    key, secret, first, issued = _run(make)
    settings = Settings()
    keyless = first and not (settings.api_key or settings.api_key_secret_id or settings.api_key_ssm_parameter)
    if as_json:
        shown = key.public() | {"budgets": {b.name: b.amount for b in budgets}, "key": secret}
        shown |= {"guardrail": guardrail.model_dump() if guardrail else None}
        _echo_json(shown | (issued[0].public() | {"aws_secret_access_key": issued[1]} if issued else {}))
    else:
        click.echo(f"Created {key.id} ({key.name}). The key, shown this once:\n\n    {secret}\n")
        if issued:
            _show_aws(*issued)
    if keyless:  # on stderr with --json, so the JSON stays parseable
        click.echo(KEYLESS_ENDS, err=as_json)


@keys.command("ls")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_keys(include_revoked: bool, as_json: bool) -> None:
    """List keys (never their secrets)."""
    found = _run(lambda db: KeyStore(db).list(include_revoked=include_revoked))
    if as_json:
        _echo_json([key.public() for key in found])
        return
    click.echo(f"{'ID':<22} {'NAME':<20} {'PREFIX':<12} {'MODELS':<24} {'RPM':>6} {'TPM':>8} {'CONC':>5}  LAST USED")
    for key in found:
        limits = key.limits
        click.echo(
            f"{key.id:<22} {key.name[:20]:<20} {key.prefix:<12} {','.join(key.models)[:24] or '*':<24}"
            f" {limits.rpm or '-':>6} {limits.tpm or '-':>8} {limits.max_concurrency or '-':>5}"
            f"  {_when(key.last_used_at)}{'  (revoked)' if key.revoked_at else ''}"
        )


@keys.command("show")
@click.argument("key_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(key_id: str, as_json: bool) -> None:
    """A key, its limits and its budgets: what is spent in each budget's period (from the usage records; calls
    still running are not in them) and when it resets."""

    async def read(db: Database) -> tuple[ApiKey, list[tuple[Budget, float]]]:
        key = next((k for k in await KeyStore(db).list(include_revoked=True) if k.id == key_id), None)
        if key is None:
            raise click.ClickException(f"No API key with id `{key_id}`.")
        budgets = []
        for budget in await BudgetStore(db).get(key_id):
            usd, tokens = await spent_since(db, key_id, window(budget.period, time.time())[0])
            budgets.append((budget, usd if budget.measure == "usd" else float(tokens)))
        return key, budgets

    key, budgets = _run(read)
    if as_json:
        _echo_json(key.public() | {"budgets": [{"budget": b.name, "amount": b.amount, "soft": b.soft,
                                                "spent": round(spent, 6)} for b, spent in budgets]})  # fmt: skip
        return
    limits = key.limits
    click.echo(f"{key.id} ({key.name}){'  revoked ' + _when(key.revoked_at) if key.revoked_at else ''}")
    click.echo(f"  models: {', '.join(key.models) or '*'}   expires: {_when(key.expires_at)}")
    click.echo(f"  rpm: {limits.rpm or '-'}   tpm: {limits.tpm or '-'}   concurrency: {limits.max_concurrency or '-'}")
    if key.fallbacks:
        click.echo(f"  fallbacks: {', '.join(key.fallbacks)}")
    if key.team:
        click.echo(f"  team: {key.team} (its budgets: `quarry teams show {key.team}`)")
    click.echo("budgets:" if budgets else "no budgets")
    for budget, spent in budgets:
        click.echo(_budget_line(budget, spent))


@keys.command("budget")
@click.argument("key_id")
@_budget_options("")
@click.option("--remove", "remove", multiple=True, type=click.Choice(BUDGET_NAMES), help="Remove this budget.")
@click.option("--clear", is_flag=True, help="Remove every budget the key has first.")
def budget(key_id: str, remove: tuple[str, ...], clear: bool, **budget_options: Any) -> None:
    """Set a key's budgets, e.g. `quarry keys budget KEY_ID --usd-day 5 --tokens-month 2000000`; running servers
    apply them within a second."""
    budgets = _budgets(budget_options)

    async def change(db: Database) -> None:
        if not any(k.id == key_id for k in await KeyStore(db).list(include_revoked=True)):
            raise click.ClickException(f"No API key with id `{key_id}`.")
        store = BudgetStore(db)
        if clear:
            await store.remove(key_id)
        if remove:
            await store.remove(key_id, remove)
        await store.put(key_id, budgets)

    _run(change)
    click.echo(f"Budgets of {key_id} set; `quarry keys show {key_id}` shows them.")


@keys.command("team")
@click.argument("key_id")
@click.argument("team", required=False)
@click.option("--remove", is_flag=True, help="Take the key out of its team.")
def team(key_id: str, team: str | None, remove: bool) -> None:
    """Put a key in a team (its calls then count against the team's budgets too), or take it out."""
    if (team is None) == (not remove):
        raise click.UsageError("Give a TEAM, or --remove.")
    key = _run(lambda db: KeyStore(db).set_team(key_id, team))
    click.echo(f"{key.id} ({key.name}) team: {key.team or 'none'}")


@keys.command("guardrail")
@click.argument("key_id")
@guardrail_options
@click.option("--remove", is_flag=True, help="Remove the key's own guardrail (the server's settings apply).")
def guardrail(key_id: str, remove: bool, **options: Any) -> None:
    """Set or remove a key's own Bedrock guardrail."""
    chosen = pop_guardrail(options)
    if (chosen is None) == (not remove):
        raise click.UsageError("Give --guardrail ID[:VERSION], or --remove.")

    async def put(db: Database) -> ApiKey:
        key = next((k for k in await KeyStore(db).list(include_revoked=True) if k.id == key_id), None)
        if key is None:
            raise click.UsageError(f"No API key with id `{key_id}`.")
        await KeyGuardrails(db).put(key_id, chosen)
        return key

    key = _run(put)
    said = f"{chosen.identifier}:{chosen.version}" if chosen else "none (the server's settings apply)"
    click.echo(f"{key.id} ({key.name}) guardrail: {said}")


@keys.command("fallbacks")
@click.argument("key_id")
@click.argument("models", nargs=-1)
def fallbacks(key_id: str, models: tuple[str, ...]) -> None:
    """Set a key's fallback chain, e.g. `quarry keys fallbacks KEY_ID sonnet haiku`; none given removes it (the
    server's `models.fallbacks` apply again). Running servers apply it within a second."""
    key = _run(lambda db: KeyStore(db).set_fallbacks(key_id, _names(models)))
    click.echo(f"Fallbacks of {key.id}: {', '.join(key.fallbacks) or 'none'}.")


def _names(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name.strip() for value in values for name in value.split(",") if name.strip())


@keys.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke a key by id (and its AWS credentials); every instance refuses it within a second."""

    async def end(db: Database) -> ApiKey:
        key = await KeyStore(db).revoke(key_id)
        await _aws_store(db).remove(key.id)
        return key

    key = _run(end)
    click.echo(f"Revoked {key.id} ({key.name}).")


@keys.command("aws")
@click.argument("key_id")
@click.option("--remove", is_flag=True, help="Remove the key's AWS credentials instead (the key goes on working).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
def aws_credentials(key_id: str, remove: bool, as_json: bool) -> None:
    """Issue an AWS access key id and secret for a key, for tools that sign with SigV4 (boto3, the AWS CLI, Claude
    Code in Bedrock mode with AWS credentials); replaces any the key had. The secret is shown once."""

    async def change(db: Database) -> tuple[ApiKey, tuple[AwsCredential, str] | None]:
        key = next((k for k in await KeyStore(db).list(include_revoked=True) if k.id == key_id), None)
        if key is None:
            raise click.ClickException(f"No API key with id `{key_id}`.")
        if remove:
            if not await _aws_store(db).remove(key.id):
                raise click.ClickException(f"The API key `{key_id}` has no AWS credentials.")
            return key, None
        return key, await _aws_store(db).issue(key)

    key, issued = _run(change)
    if issued is None:
        click.echo(f"Removed the AWS credentials of {key.id} ({key.name}).")
    elif as_json:
        _echo_json({"id": key.id, **issued[0].public(), "aws_secret_access_key": issued[1]})
    else:
        _show_aws(*issued)


@click.command()
@click.option("--by", type=click.Choice(["key", "model", "day", "api", "tier"]), default="key", show_default=True)
@click.option("--since", help="Only calls since this date (UTC), e.g. 2026-11-01.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def usage(by: str, since: str | None, as_json: bool) -> None:
    """Requests, errors, tokens, cost (USD) and latency, grouped."""
    start = parse_date(since) if since else None
    rows = _run(lambda db: usage_report(db, by, since=start))  # type: ignore[arg-type]  # click checked the choice
    if as_json:
        _echo_json(rows)
        return
    # By key, the id (what `quarry keys revoke` takes) and the name people know the key by.
    title = f"{'KEY':<22} {'NAME':<21}" if by == "key" else f"{by.upper():<44}"
    click.echo(
        f"{title} {'REQUESTS':>9} {'ERRORS':>7} {'INPUT':>10} {'OUTPUT':>10} {'CACHED':>9} {'COST USD':>11}"
        f" {'AVG MS':>8}"
    )
    for row in rows:
        cached = (row["cache_read_tokens"] or 0) + (row["cache_write_tokens"] or 0)
        if by == "key":
            name = f"{row['name'] or '?'}{' (revoked)' if row['revoked'] else ''}"
            group = f"{row['key'] or '-':<22} {name[:21]:<21}"
        else:
            group = f"{str(row[by])[:44]:<44}"
        click.echo(
            f"{group} {row['requests']:>9} {row['errors']:>7} {row['input_tokens']:>10}"
            f" {row['output_tokens']:>10} {cached:>9} {_usd(row['cost_usd']):>11} {row['avg_latency_ms'] or 0:>8.0f}"
        )
