"""The overview: how the gateway is doing now (requests and tokens per second, errors by kind, latency p50 and p99,
Quarry's own overhead p50 and p99 — its time less the wait on Bedrock —, spend today) and over the last day. The
live part is a fragment the page's script fetches again every few seconds; the page itself already contains it, so
the first paint needs no script at all."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from quarry.admin._guard import Visit, console_page
from quarry.admin._html import Html, html, join, page
from quarry.admin._svg import line_chart, number
from quarry.admin._timeline import history_plots, spent_today
from quarry.admin._traffic import Second, percentile

__all__ = ["LIVE_SCRIPT", "live", "overview", "script"]

_LIVE_S = 300  # the live plots: the last five minutes
_BIN_S = 5  # seconds per point
_RATE_S = 60  # requests/s and tokens/s: averaged over the last minute

# Fetches the live fragment again every 3 s while the tab is visible (served as a file: the page's CSP allows no
# inline script).
LIVE_SCRIPT = """\
(() => {
  const live = document.getElementById("live");
  if (!live) return;
  const refresh = async () => {
    if (document.hidden) return;
    try {
      const answer = await fetch(live.dataset.src, {credentials: "same-origin", cache: "no-store"});
      if (answer.redirected || answer.status === 403) location.reload();  // signed out: the sign-in page
      else if (answer.ok) live.innerHTML = await answer.text();
    } catch (error) { /* the server is restarting: try again at the next tick */ }
  };
  setInterval(refresh, 3000);
})();
"""


def _card(label: str, value: str, name: str) -> Html:
    return html(
        '<div class="card" data-card="{}"><div class="v">{}</div><div class="l">{}</div></div>', name, value, label
    )


def _ms(seconds: float | None, digits: int = 0) -> str:
    """Milliseconds; the overhead with a decimal, as it is often well under one."""
    return "—" if seconds is None else f"{seconds * 1000:.{digits}f} ms"


def _bins(seconds: list[Second]) -> list[list[Second]]:
    return [seconds[i : i + _BIN_S] for i in range(0, len(seconds), _BIN_S)]


async def _live(visit: Visit) -> Html:
    console = visit.console
    now = time.time()
    seconds = console.traffic.seconds(_LIVE_S, now)
    minute = seconds[-_RATE_S:]
    latencies = [value for second in minute for value in second.latencies]
    overheads = [value for second in minute for value in second.overheads]
    errors: dict[str, int] = {}
    for second in seconds:
        for kind, count in second.errors.items():
            errors[kind] = errors.get(kind, 0) + count
    spend, requests_today = await spent_today(console)
    cards = [
        _card("requests/s (last minute)", f"{sum(s.requests for s in minute) / _RATE_S:.2f}", "rps"),
        _card("tokens/s (last minute)", number(sum(s.tokens for s in minute) / _RATE_S), "tps"),
        _card("latency p50 (last minute)", _ms(percentile(latencies, 0.5)), "p50"),
        _card("latency p99 (last minute)", _ms(percentile(latencies, 0.99)), "p99"),
        _card("errors (last 5 min)", str(sum(errors.values())), "errors"),
        _card("spend today (UTC)", f"${spend:.4f}", "spend"),
        _card("requests today", str(requests_today), "today"),
        _card("Quarry's overhead p50 (last minute)", _ms(percentile(overheads, 0.5), 1), "overhead-p50"),
        _card("Quarry's overhead p99 (last minute)", _ms(percentile(overheads, 0.99), 1), "overhead-p99"),
    ]
    bins = _bins(seconds)
    start, end = seconds[0].at, seconds[-1].at + 1

    def points(measure: str) -> list[tuple[float, float]]:
        return [(chunk[0].at + _BIN_S / 2, sum(getattr(s, measure) for s in chunk) / _BIN_S) for chunk in bins]

    def latency(share: float) -> list[tuple[float, float]]:
        found = []
        for chunk in bins:
            value = percentile([v for s in chunk for v in s.latencies], share)
            if value is not None:
                found.append((chunk[0].at + _BIN_S / 2, value * 1000))
        return found

    quiet = "no API calls in the last 5 minutes"
    plots = [
        ("Requests per second", line_chart({"requests/s": points("requests")}, start=start, end=end, empty=quiet)),
        ("Tokens per second", line_chart({"tokens/s": points("tokens")}, start=start, end=end, empty=quiet)),
        (
            "Latency (ms): p50 blue, p99 orange",
            line_chart({"p50": latency(0.5), "p99": latency(0.99)}, start=start, end=end, empty=quiet),
        ),
    ]
    error_rows = join(html("<li>{}: {}</li>", kind, count) for kind, count in sorted(errors.items()))
    return html(
        '<div class="cards">{}</div><h2>Live: the last 5 minutes</h2><div class="plots">{}</div>'
        '<h2>Errors by kind (last 5 min)</h2><ul class="errors">{}</ul>',
        join(cards),
        join(html('<div class="plot"><h3>{}</h3>{}</div>', title, chart) for title, chart in plots),
        error_rows or Html('<li class="empty">None.</li>'),
    )


@console_page
async def overview(visit: Visit) -> Response:
    body = html(
        '<h1>Overview</h1><div id="live" data-src="/console/live">{}</div><h2>The last 24 hours</h2>{}'
        '<script src="/console/console.js" defer></script>',
        await _live(visit),
        await history_plots(visit.console),
    )
    return page("Overview", body, active="overview", csrf=visit.session.csrf)


@console_page
async def live(visit: Visit) -> Response:
    return HTMLResponse(await _live(visit), headers={"cache-control": "no-store"})


async def script(_: Request) -> Response:
    return Response(LIVE_SCRIPT, media_type="text/javascript", headers={"cache-control": "max-age=3600"})
