"""One key: its settings (scopes, fallback chain, team, dates), each budget's state (spent, reserved, remaining, when it
resets) and its requests, tokens and spend per hour over the last day."""

from __future__ import annotations

from starlette.responses import Response

from quarry.admin._guard import Visit, console_page
from quarry.admin._html import html, page, table
from quarry.admin._keys import fallbacks_text, when
from quarry.admin._timeline import history_plots

__all__ = ["key_page"]


@console_page
async def key_page(visit: Visit) -> Response:
    console, key_id = visit.console, visit.request.path_params["key_id"]
    key = next((key for key in await console.keys.list(include_revoked=True) if key.id == key_id), None)
    if key is None:
        body = html('<h1>Key</h1><div class="note bad">No key with the id {}.</div>', key_id)
        return page("Key", body, active="keys", csrf=visit.session.csrf, status=404)
    states = await console.budgets.state(key.id) if console.budgets is not None else []
    budgets = table(
        ("Budget", "Spent", "Reserved", "Remaining", "Resets"),
        [
            (
                state.budget.describe(),
                round(state.spent, 6),
                round(state.reserved, 6),
                round(max(0.0, state.budget.amount - state.used), 6),
                when(state.resets),
            )
            for state in states
        ],
        empty="No budgets.",
    )
    facts = table(
        ("Id", "Key", "Models", "Fallbacks", "Team", "Created", "Expires", "Last used", "Revoked"),
        [
            (
                key.id,
                html("<code>{}…</code>", key.prefix),
                ", ".join(key.models) or "every model",
                fallbacks_text(key),
                key.team or "—",
                when(key.created_at),
                when(key.expires_at),
                when(key.last_used_at),
                when(key.revoked_at),
            )
        ],
    )
    body = html(
        '<h1>Key {}</h1>{}<h2>Budgets</h2>{}<h2>The last 24 hours</h2>{}<p><a href="/console/keys">All keys</a></p>',
        key.name,
        facts,
        budgets,
        await history_plots(console, key_id=key.id),
    )
    return page(f"Key {key.name}", body, active="keys", csrf=visit.session.csrf)
