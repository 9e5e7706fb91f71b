"""Models: the catalog (foundation models, inference profiles, aliases, from the catalog's cache) beside what the
gateway saw of each model lately (calls, availability: the share Bedrock answered, throttles, the last error) in
this gateway's region, and the state of the model's circuit breaker in that region (`Console.breaker_state`, read from
the runtime's breakers: closed, open and when it is retried, half-open)."""

from __future__ import annotations

import logging

from starlette.responses import Response

from quarry.admin._guard import Visit, console_page
from quarry.admin._html import Html, html, page, table
from quarry.admin._keys import when
from quarry.admin._traffic import ModelHealth
from quarry.errors import QuarryError

__all__ = ["models_page"]

log = logging.getLogger("quarry.console")


def _availability(health: ModelHealth | None) -> Html:
    if health is None or health.availability is None:
        return Html('<span class="muted">no calls</span>')
    share = health.availability
    style = "ok" if share >= 0.99 else "bad"
    return html('<span class="{}">{}%</span>', style, f"{share * 100:.1f}")


@console_page
async def models_page(visit: Visit) -> Response:
    console = visit.console
    seen = console.traffic.models()
    notice = Html("")
    try:
        entries = list(await console.catalog.entries())
    except QuarryError as error:  # no list was ever fetched: show what was seen, and say why the rest is missing
        log.warning("the console could not read the model catalog: %s", error.message)
        entries = []
        notice = html('<div class="note bad">The model catalog is not available: {}</div>', error.message)
    listed = {entry.id for entry in entries}
    rows = []

    def row(model: str, kind: str, owner: str, target: str | None) -> tuple[object, ...]:
        health = seen.get(model)
        breaker = console.breaker_state(model, console.region) if console.breaker_state is not None else None
        return (
            html("<code>{}</code>", model),
            f"alias of {target}" if target else kind,
            owner,
            console.region,
            health.calls if health else 0,
            _availability(health),
            health.throttled if health else 0,
            health.last_error or "" if health else "",
            when(health.last_call_at if health else None),
            breaker or "—",
        )

    # Models called lately first (busiest first), then the rest of the catalog in its order.
    for model in sorted(seen, key=lambda name: -seen[name].calls):
        entry = next((entry for entry in entries if entry.id == model), None)
        rows.append(
            row(
                model,
                entry.kind if entry else "not listed",
                entry.owned_by if entry else "",
                entry.target if entry else None,
            )
        )
    rows += [row(entry.id, entry.kind, entry.owned_by, entry.target) for entry in entries if entry.id not in seen]
    headers = (
        "Model",
        "Kind",
        "Provider",
        "Region",
        "Recent calls",
        "Available",
        "Throttled",
        "Last error",
        "Last call",
        "Circuit",
    )
    body = html(
        '<h1>Models</h1>{}<p class="muted">Availability and throttling from this gateway\'s last 200 calls per model '
        "(a throttle or a Bedrock failure counts against availability; a caller's own mistake does not). {} models in "
        'the catalog.</p><div id="models">{}</div>',
        notice,
        len(listed),
        table(headers, rows, empty="The catalog is empty and no model was called yet."),
    )
    return page("Models", body, active="models", csrf=visit.session.csrf)
