"""Keys: the list, a form to create one (scopes, limits, budgets, expiry, fallback chain, team), its secret shown once,
rotation (a new secret with the same settings, the old one revoked) and revocation, through quarry.auth's KeyStore and
budgets."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from starlette.responses import Response

from quarry.admin._console import Console
from quarry.admin._guard import Form, Visit, console_page
from quarry.admin._html import Html, html, join, page, table
from quarry.auth import BUDGET_NAMES, ApiKey, Budget, Limits, parse_budgets
from quarry.errors import InvalidRequest, QuarryError

__all__ = ["create_key", "fallbacks_text", "keys_page", "revoke_key", "rotate_key", "when"]


def when(timestamp: float | None) -> str:
    return "—" if timestamp is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(timestamp))


def _number(form: Form, name: str, kind: type[int] | type[float]) -> float | None:
    text = form.get(name)
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise InvalidRequest(f"{name} must be a number (or empty for none).", param=name) from None


def _limits(form: Form) -> Limits:
    rpm, tpm, concurrency = (_number(form, name, int) for name in ("rpm", "tpm", "max_concurrency"))
    return Limits(
        None if rpm is None else int(rpm),
        None if tpm is None else int(tpm),
        None if concurrency is None else int(concurrency),
    )


def _expires(form: Form) -> float | None:
    text = form.get("expires")
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise InvalidRequest("expires must be a date, e.g. 2027-01-31.", param="expires") from None


def _budgets(form: Form) -> list[Budget]:
    amounts = {name: _number(form, name, float) for name in BUDGET_NAMES}
    return parse_budgets(amounts, _number(form, "budget_soft", float))


async def _budgets_of(console: Console) -> dict[str, tuple[Budget, ...]]:
    return await console.budgets.store.all() if console.budgets is not None else {}


def _scopes(key: ApiKey) -> str:
    return ", ".join(key.models) or "every model"


def fallbacks_text(key: ApiKey) -> str:
    return " → ".join(key.fallbacks) or "none"


def _names(form: Form, name: str) -> tuple[str, ...]:
    """A comma- (or line-) separated list, in its order."""
    return tuple(part.strip() for part in form.get(name).replace("\n", ",").split(",") if part.strip())


def _limits_text(key: ApiKey) -> str:
    limits = key.limits
    parts = [f"{limits.rpm} rpm" if limits.rpm else "", f"{limits.tpm} tpm" if limits.tpm else ""]
    parts.append(f"{limits.max_concurrency} at once" if limits.max_concurrency else "")
    return ", ".join(part for part in parts if part) or "none"


def _field(label: str, name: str, kind: str = "text", hint: str = "") -> Html:
    return html('<label>{}<input name="{}" type="{}" placeholder="{}"></label>', label, name, kind, hint)


def _create_form(csrf: str, budgets: bool) -> Html:
    fields = [
        _field("Name", "name", hint="team or tool"),
        _field("Models (patterns, comma-separated)", "models", hint="empty: every model; e.g. *claude*, kb:docs"),
        _field("Requests per minute", "rpm", "number"),
        _field("Tokens per minute", "tpm", "number"),
        _field("Calls at once", "max_concurrency", "number"),
        _field("Expires (UTC date)", "expires", "date"),
        _field("Fallbacks (models in order, comma-separated)", "fallbacks", hint="empty: none; e.g. claude-haiku-4-5"),
        _field("Team", "team", hint="empty: none; its budgets count too"),
    ]
    if budgets:
        for name in BUDGET_NAMES:
            measure, _, period = name.partition("_")
            unit = "USD" if measure == "usd" else "tokens"
            fields.append(_field(f"Budget: {unit} per {period}", name, "number", "none"))
        fields.append(_field("Warn at (share of a budget)", "budget_soft", "number", "e.g. 0.8"))
    return html(
        '<h2>Create a key</h2><form method="post" action="/console/keys" id="create-key"><div class="grid">{}</div>'
        '<input type="hidden" name="csrf" value="{}"><p><button type="submit">Create key</button></p></form>',
        join(fields),
        csrf,
    )


def _action(key: ApiKey, what: str, label: str, csrf: str, style: str) -> Html:
    return html(
        '<form class="inline" method="post" action="/console/keys/{}/{}"><input type="hidden" name="csrf" value="{}">'
        '<button class="{}" data-action="{}">{}</button></form>',
        key.id,
        what,
        csrf,
        style,
        what,
        label,
    )


async def _keys_body(visit: Visit, notice: Html | None = None) -> Html:
    console, csrf = visit.console, visit.session.csrf
    keys = await console.keys.list(include_revoked=True)
    budgets = await _budgets_of(console)
    now = time.time()
    rows = []
    for key in reversed(keys):
        status = "revoked" if key.revoked_at else ("expired" if not key.usable(now) else "active")
        actions = Html("")
        if status == "active":
            actions = join(
                (_action(key, "rotate", "Rotate", csrf, "quiet"), _action(key, "revoke", "Revoke", csrf, "danger")), " "
            )
        name = html('<a href="/console/keys/{}">{}</a>', key.id, key.name)
        spent = "; ".join(budget.describe() for budget in budgets.get(key.id, ())) or "none"
        rows.append(
            (
                name,
                html("<code>{}…</code>", key.prefix),
                _scopes(key),
                _limits_text(key),
                fallbacks_text(key),
                key.team or "—",
                spent,
                when(key.created_at),
                when(key.last_used_at),
                status,
                actions,
            )
        )
    listing = table(
        ("Name", "Key", "Models", "Limits", "Fallbacks", "Team", "Budgets", "Created", "Last used", "Status", ""),
        rows,
        empty="No team keys yet: create the first below.",
    )
    return html(
        '<h1>Keys</h1>{}<div id="keys">{}</div>{}',
        notice or "",
        listing,
        _create_form(csrf, console.budgets is not None),
    )


def _secret_notice(title: str, key: ApiKey, secret: str) -> Html:
    return html(
        '<div class="note" id="new-secret"><b>{}</b> — copy it now: it is not stored and will not be shown again.'
        '<p><span class="secret" id="secret">{}</span></p>Key <b>{}</b> ({}).</div>',
        title,
        secret,
        key.name,
        key.id,
    )


def _error(error: QuarryError) -> Html:
    return html('<div class="note bad" role="alert">{}</div>', error.message)


@console_page
async def keys_page(visit: Visit) -> Response:
    return page("Keys", await _keys_body(visit), active="keys", csrf=visit.session.csrf)


@console_page
async def create_key(visit: Visit) -> Response:
    console, form = visit.console, visit.form
    try:
        budgets = _budgets(form) if console.budgets is not None else []
        key, secret = await console.keys.create(
            form.get("name"),
            models=_names(form, "models"),
            limits=_limits(form),
            expires_at=_expires(form),
            fallbacks=_names(form, "fallbacks"),
            team=form.get("team").strip() or None,
        )
    except QuarryError as error:
        return page("Keys", await _keys_body(visit, _error(error)), active="keys", csrf=visit.session.csrf, status=400)
    if console.budgets is not None and budgets:
        await console.budgets.store.put(key.id, budgets)
    # The secret is in this answer only (no redirect to a URL that would hold it); the browser must not keep it.
    notice = _secret_notice("New key created", key, secret)
    return page("Keys", await _keys_body(visit, notice), active="keys", csrf=visit.session.csrf, status=201)


async def _find(console: Console, key_id: str) -> ApiKey | None:
    return next((key for key in await console.keys.list(include_revoked=True) if key.id == key_id), None)


@console_page
async def rotate_key(visit: Visit) -> Response:
    """A new secret with the old key's name, scopes, limits, expiry, fallbacks, team and budgets; the old key is
    revoked."""
    console = visit.console
    old = await _find(console, visit.request.path_params["key_id"])
    if old is None or old.revoked_at is not None:
        notice = html('<div class="note bad">{}</div>', "No active key with that id.")
        return page("Keys", await _keys_body(visit, notice), active="keys", csrf=visit.session.csrf, status=404)
    expires = old.expires_at if old.expires_at and old.expires_at > time.time() else None
    key, secret = await console.keys.create(
        old.name, models=old.models, limits=old.limits, expires_at=expires, fallbacks=old.fallbacks, team=old.team
    )
    if console.budgets is not None:
        budgets = (await _budgets_of(console)).get(old.id, ())
        if budgets:
            await console.budgets.store.put(key.id, budgets)
    await console.keys.revoke(old.id)
    notice = _secret_notice(f"Key rotated ({old.prefix}… is revoked)", key, secret)
    return page("Keys", await _keys_body(visit, notice), active="keys", csrf=visit.session.csrf)


@console_page
async def revoke_key(visit: Visit) -> Response:
    try:
        key = await visit.console.keys.revoke(visit.request.path_params["key_id"])
    except QuarryError as error:
        return page("Keys", await _keys_body(visit, _error(error)), active="keys", csrf=visit.session.csrf, status=404)
    notice = html('<div class="note">Key <b>{}</b> ({}…) is revoked.</div>', key.name, key.prefix)
    return page("Keys", await _keys_body(visit, notice), active="keys", csrf=visit.session.csrf)
