"""HTML as Python builds it: `Html` is markup that is safe as it is, `html(template, …)` fills a template with
values escaped unless they are `Html` already, and `page()` is the console's one layout (CSS inline, no external
request of any kind: the machine may be offline, and a page is one round trip)."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from starlette.responses import HTMLResponse

__all__ = ["Html", "html", "join", "page", "table"]


class Html(str):
    """Markup that is already safe: never escaped again."""

    __slots__ = ()


def _safe(value: object) -> str:
    if isinstance(value, Html):
        return value
    return escape("" if value is None else str(value), quote=True)


def html(template: str, *args: object, **kwargs: object) -> Html:
    """`template` (markup the code wrote) with `{}` fields filled by escaped values."""
    return Html(template.format(*(_safe(arg) for arg in args), **{k: _safe(v) for k, v in kwargs.items()}))


def join(parts: Iterable[object], separator: str = "") -> Html:
    return Html(separator.join(_safe(part) for part in parts))


def table(headers: Iterable[str], rows: Iterable[Iterable[object]], *, empty: str = "Nothing yet.") -> Html:
    """A table; cells are escaped unless they are Html. Numbers align right (the `num` class)."""
    head = join(html("<th>{}</th>", header) for header in headers)
    body = [
        join(
            html('<td class="num">{}</td>', cell) if isinstance(cell, int | float) else html("<td>{}</td>", cell)
            for cell in row
        )
        for row in rows
    ]
    if not body:
        return html('<p class="empty">{}</p>', empty)
    return html(
        "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>",
        head,
        join(html("<tr>{}</tr>", row) for row in body),
    )


_NAV = (
    ("overview", "/console/", "Overview"),
    ("keys", "/console/keys", "Keys"),
    ("usage", "/console/usage", "Usage & spend"),
    ("models", "/console/models", "Models"),
    ("requests", "/console/requests", "Requests"),
    ("knowledge", "/console/knowledge", "Knowledge bases"),
)

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d232b;background:#f5f6f8}
header{display:flex;align-items:center;gap:24px;padding:0 24px;height:52px;background:#1d232b;color:#fff}
header b{font-size:16px;letter-spacing:.02em}
header nav{display:flex;gap:4px;flex:1}
header nav a{color:#c9d1d9;text-decoration:none;padding:6px 10px;border-radius:6px}
header nav a.on,header nav a:hover{background:#353d47;color:#fff}
header form{margin:0}
main{padding:20px 24px;max-width:1400px}
h1{font-size:20px;margin:0 0 14px}
h2{font-size:15px;margin:22px 0 8px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:12px}
.card{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:10px 14px}
.card .v{font-size:22px;font-weight:600}
.card .l{color:#5b6570;font-size:12px}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:12px}
.plot{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:8px 12px}
.plot h3{font-size:13px;margin:0 0 4px;color:#3b444e}
svg{display:block;width:100%;height:auto}
table{border-collapse:collapse;background:#fff;width:100%;border:1px solid #e1e4e8}
th,td{padding:5px 9px;border-bottom:1px solid #eef0f2;text-align:left;overflow-wrap:anywhere}
th,td.num{white-space:nowrap}
th{background:#f0f2f4;font-weight:600;font-size:12px;color:#3b444e}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.empty{color:#5b6570}
form.inline{display:inline}
input,select{font:inherit;padding:4px 6px;border:1px solid #c4cad1;border-radius:5px}
button{font:inherit;padding:5px 12px;border:0;border-radius:5px;background:#2f6fde;color:#fff;cursor:pointer}
button.quiet{background:#5b6570}
button.danger{background:#c0392b}
.grid{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:8px 14px;
background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:12px}
.grid label{display:flex;flex-direction:column;font-size:12px;color:#3b444e;gap:3px}
.note{background:#fff8e1;border:1px solid #f0d98c;border-radius:8px;padding:10px 14px;margin:0 0 14px}
.ok{color:#1e7e34}
.bad{color:#c0392b}
.secret{font:13px ui-monospace,monospace;background:#1d232b;color:#fff;
padding:6px 10px;border-radius:5px;user-select:all}
.filters{display:flex;gap:8px;align-items:end;margin:0 0 12px;flex-wrap:wrap}
.filters label{display:flex;flex-direction:column;font-size:12px;gap:3px}
.legend{font-size:12px;color:#3b444e}
.legend i{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;border-radius:2px}
.signin{max-width:380px;margin:90px auto;background:#fff;border:1px solid #e1e4e8;border-radius:10px;padding:22px}
.signin input{width:100%;margin:6px 0 12px}
.muted{color:#5b6570;font-size:12px}
"""


def page(title: str, body: Html, *, active: str = "", csrf: str | None = None, status: int = 200) -> HTMLResponse:
    """A console page: the header with its navigation and sign-out (when signed in), then `body`."""
    if csrf is None:
        header = Html("<header><b>Quarry console</b></header>")
    else:
        links = join(
            html('<a href="{}" class="{}">{}</a>', href, "on" if name == active else "", label)
            for name, href, label in _NAV
        )
        header = html(
            '<header><b>Quarry console</b><nav>{}</nav><form method="post" action="/console/sign-out">'
            '<input type="hidden" name="csrf" value="{}"><button class="quiet">Sign out</button></form></header>',
            links,
            csrf,
        )
    document = html(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{} · Quarry console</title>'
        '<meta name="viewport" content="width=device-width,initial-scale=1"><style>{}</style></head>'
        "<body>{}<main>{}</main></body></html>",
        title,
        Html(_CSS),
        header,
        body,
    )
    # No cache: a page shows keys and spend; no frames: the forms must not be clickjacked.
    headers = {
        "cache-control": "no-store",
        "x-frame-options": "DENY",
        "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        "referrer-policy": "same-origin",
        "x-content-type-options": "nosniff",
    }
    return HTMLResponse(document, status_code=status, headers=headers)
