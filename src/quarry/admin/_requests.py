"""Requests: the recent-request log (time, key, route, model asked and used, status, tokens, cost, latency, Quarry's
own overhead, error type, the trace id when tracing is on), newest first, filtered by key, model, outcome or error
type. From this app's memory: never prompt or answer text, and gone at restart (the usage records keep the counts)."""

from __future__ import annotations

import time

from starlette.responses import Response

from quarry.admin._guard import Visit, console_page
from quarry.admin._html import Html, html, join, page, table
from quarry.admin._recent import RequestFilter, RequestRow

__all__ = ["requests_page"]


def _cost(value: float | None) -> str:
    return "—" if value is None else f"${value:.6f}"


def _row(row: RequestRow) -> tuple[object, ...]:
    failed = row.status >= 400 or row.error_type is not None
    status = html('<span class="{}">{}</span>', "bad" if failed else "ok", row.status)
    used = "" if row.model == row.model_requested else (row.model or "")
    return (
        time.strftime("%H:%M:%S", time.gmtime(row.at)),
        row.key_name or row.key_id or "—",
        row.route,
        row.model_requested or row.model or "—",
        used,
        status,
        row.input_tokens,
        row.output_tokens,
        _cost(row.cost_usd),
        f"{row.latency_s * 1000:.0f} ms",
        f"{row.overhead_s * 1000:.1f} ms",
        row.error_type or "",
        html("<code>{}</code>", row.trace_id) if row.trace_id else "",
    )


def _select(name: str, label: str, options: list[tuple[str, str]], chosen: str) -> Html:
    choices = join(
        html('<option value="{}"{}>{}</option>', value, Html(" selected") if value == chosen else "", text)
        for value, text in options
    )
    return html('<label>{}<select name="{}">{}</select></label>', label, name, choices)


@console_page
async def requests_page(visit: Visit) -> Response:
    query = visit.request.query_params
    where = RequestFilter(
        key=query.get("key", "").strip()[:200],
        model=query.get("model", "").strip()[:200],
        outcome=query.get("outcome", "") if query.get("outcome", "") in ("ok", "error") else "",
        error_type=query.get("error_type", "").strip()[:100],
    )
    recent = visit.console.recent
    rows = recent.rows(where)
    errors = [("", "any"), *((kind, kind) for kind in recent.error_types())]
    filters = html(
        '<form class="filters" method="get" action="/console/requests">'
        '<label>Key<input name="key" value="{}" placeholder="name or id"></label>'
        '<label>Model<input name="model" value="{}" placeholder="asked or used"></label>{}{}'
        '<button type="submit">Filter</button> <a href="/console/requests">Clear</a></form>',
        where.key,
        where.model,
        _select("outcome", "Outcome", [("", "any"), ("ok", "succeeded"), ("error", "failed")], where.outcome),
        _select("error_type", "Error type", errors, where.error_type),
    )
    headers = (
        "Time (UTC)",
        "Key",
        "Route",
        "Model asked",
        "Model used",
        "Status",
        "Tokens in",
        "Tokens out",
        "Cost",
        "Latency",
        "Overhead",
        "Error",
        "Trace id",
    )
    body = html(
        '<h1>Requests</h1>{}<div id="requests">{}</div><p class="muted">The newest {} calls this server answered '
        "since it started (kept in memory, never their text).</p>",
        filters,
        table(headers, [_row(row) for row in rows], empty="No API calls match."),
        len(rows),
    )
    return page("Requests", body, active="requests", csrf=visit.session.csrf)
