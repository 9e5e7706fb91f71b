"""Usage rows from the store as plots: hourly series over the last day (or days), empty hours drawn as zero, and
what is still queued by the usage writer flushed first so the plot includes the last call."""

from __future__ import annotations

import time

from quarry.admin._console import Console
from quarry.admin._html import Html, html, join
from quarry.admin._svg import line_chart
from quarry.auth import usage_series

__all__ = ["HOUR", "history_plots", "spent_today"]

HOUR = 3600
_MEASURES = (("requests", "Requests per hour"), ("tokens", "Tokens per hour"), ("cost_usd", "Spend per hour (USD)"))


async def history_plots(console: Console, *, hours: int = 24, key_id: str | None = None) -> Html:
    """Requests, tokens and spend per hour over the last `hours`, for the whole gateway or one key."""
    await console.usage.flush()
    now = time.time()
    first = (int(now) // HOUR - hours + 1) * HOUR
    rows = await usage_series(console.database, since=first, bucket_s=HOUR, key_id=key_id)
    by_start = {row["start"]: row for row in rows}
    starts = range(first, first + hours * HOUR, HOUR)
    plots = []
    for measure, title in _MEASURES:
        points = [(start + HOUR / 2, float(by_start[start][measure]) if start in by_start else 0.0) for start in starts]
        chart = line_chart({title: points}, start=first, end=first + hours * HOUR, label=title)
        plots.append(html('<div class="plot" data-plot="{}"><h3>{}</h3>{}</div>', measure, title, chart))
    return html('<div class="plots">{}</div>', join(plots))


async def spent_today(console: Console) -> tuple[float, int]:
    """USD and requests since midnight UTC, from the usage records."""
    await console.usage.flush()
    midnight = int(time.time()) // 86400 * 86400
    rows = await usage_series(console.database, since=midnight, bucket_s=86400)
    return sum(row["cost_usd"] for row in rows), sum(row["requests"] for row in rows)
