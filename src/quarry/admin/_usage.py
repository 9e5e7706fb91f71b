"""Usage and spend: per key, model and day over the last days (7, 30 or 90), stacked bars of spend per day by model
and requests per day by key, and each table as CSV."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Sequence
from typing import Literal

from starlette.responses import Response

from quarry.admin._console import Console
from quarry.admin._guard import Visit, console_page
from quarry.admin._html import Html, html, join, page, table
from quarry.admin._svg import legend, stacked_bars
from quarry.auth import usage_report, usage_series
from quarry.store import Row

__all__ = ["usage_csv", "usage_page"]

_DAY = 86400
_SPANS = (7, 30, 90)
_GROUPS: tuple[Literal["key", "model", "day"], ...] = ("key", "model", "day")
_COLUMNS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
)
_HEADERS = {
    "input_tokens": "input tokens",
    "output_tokens": "output tokens",
    "cache_read_tokens": "cache read",
    "cache_write_tokens": "cache write",
    "cost_usd": "cost (USD)",
}
_MOST_STACKS = 7  # the rest is drawn as "other"


def _days(visit: Visit) -> int:
    try:
        days = int(visit.request.query_params.get("days", "30"))
    except ValueError:
        return 30
    return days if days in _SPANS else 30


def _since(days: int) -> int:
    return (int(time.time()) // _DAY - days + 1) * _DAY


async def _report(console: Console, by: Literal["key", "model", "day"], days: int) -> list[Row]:
    await console.usage.flush()
    return await usage_report(console.database, by, since=_since(days))


async def _names(console: Console) -> dict[str | None, str]:
    names: dict[str | None, str] = {key.id: key.name for key in await console.keys.list(include_revoked=True)}
    return names | {"bootstrap": "admin key", "local": "no key (open access)", None: "no valid key"}


def _stacks(
    rows: list[Row], measure: str, labels: Sequence[int], name: dict[str | None, str] | None
) -> dict[str, list[float]]:
    """Per group, its `measure` on each day; the groups with the most beyond the first few summed as "other"."""
    index = {start: position for position, start in enumerate(labels)}
    totals: dict[str, float] = {}
    per_group: dict[str, list[float]] = {}
    for row in rows:
        group = (name or {}).get(row["group"], row["group"]) if name is not None else row["group"]
        label = str(group or "—")
        values = per_group.setdefault(label, [0.0] * len(labels))
        values[index[row["start"]]] += float(row[measure])
        totals[label] = totals.get(label, 0.0) + float(row[measure])
    ranked = sorted(totals, key=lambda label: -totals[label])
    stacks = {label: per_group[label] for label in ranked[:_MOST_STACKS]}
    if len(ranked) > _MOST_STACKS:
        stacks["other"] = [sum(per_group[label][i] for label in ranked[_MOST_STACKS:]) for i in range(len(labels))]
    return stacks


async def _bars(console: Console, days: int) -> Html:
    since = _since(days)
    starts = list(range(since, since + days * _DAY, _DAY))
    labels = [time.strftime("%m-%d", time.gmtime(start)) for start in starts]
    by_model = await usage_series(console.database, since=since, bucket_s=_DAY, split="model")
    by_key = await usage_series(console.database, since=since, bucket_s=_DAY, split="key")
    spend = _stacks(by_model, "cost_usd", starts, None)
    calls = _stacks(by_key, "requests", starts, await _names(console))
    plots = [
        ("Spend per day (USD), by model", stacked_bars(labels, spend, label="spend by model"), legend(list(spend))),
        ("Requests per day, by key", stacked_bars(labels, calls, label="requests by key"), legend(list(calls))),
    ]
    return html(
        '<div class="plots">{}</div>',
        join(html('<div class="plot"><h3>{}</h3>{}{}</div>', title, chart, names) for title, chart, names in plots),
    )


def _cells(by: str, row: Row) -> list[object]:
    first: list[object] = [row.get(by) or "—"]
    if by == "key":
        first.append(row.get("name") or "—")
    return first + [row.get(column) if row.get(column) is not None else "—" for column in _COLUMNS]


@console_page
async def usage_page(visit: Visit) -> Response:
    console, days = visit.console, _days(visit)
    spans = join(
        html('<a href="/console/usage?days={}"{}>{} days</a>', span, Html(' class="on"') if span == days else "", span)
        for span in _SPANS
    )
    sections = []
    for by in _GROUPS:
        rows = await _report(console, by, days)
        headers = [by, *(["name"] if by == "key" else []), *(_HEADERS.get(name, name) for name in _COLUMNS)]
        sections.append(
            html(
                '<h2>By {} <a class="muted" href="/console/usage.csv?by={}&amp;days={}" download>CSV</a></h2>'
                '<div id="usage-{}">{}</div>',
                by,
                by,
                days,
                by,
                table(headers, [_cells(by, row) for row in rows], empty="No calls in this period."),
            )
        )
    body = html(
        '<h1>Usage and spend</h1><p class="filters">Period: {}</p>{}{}',
        join([spans], " "),
        await _bars(console, days),
        join(sections),
    )
    return page("Usage and spend", body, active="usage", csrf=visit.session.csrf)


def _spreadsheet_safe(cell: object) -> object:
    """A text cell a spreadsheet would run as a formula (`=…`, `+…`, `-…`, `@…`) is quoted (OWASP's CSV injection)."""
    if cell == "—":
        return ""
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


@console_page
async def usage_csv(visit: Visit) -> Response:
    by = visit.request.query_params.get("by", "key")
    if by not in _GROUPS:
        return Response("`by` must be key, model or day.\n", status_code=400, media_type="text/plain")
    days = _days(visit)
    rows = await _report(visit.console, by, days)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([by, *(["name"] if by == "key" else []), *_COLUMNS])
    for row in rows:
        writer.writerow([_spreadsheet_safe(cell) for cell in _cells(by, row)])
    filename = f"quarry-usage-by-{by}-{days}d.csv"
    headers = {"content-disposition": f'attachment; filename="{filename}"', "cache-control": "no-store"}
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
