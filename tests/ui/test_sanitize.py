"""The toolbox's sanitiser over a table of hostile fixtures: each is rendered as a browser's Markdown parser would
(CommonMark with raw HTML, GFM tables), and the HTML must hold nothing that runs or loads a script; honest Markdown
(code, quotes, links, tables) comes through as written."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from quarry.ui._kb_format import answer_markdown, passage_markdown, report_markdown
from quarry.ui._sanitize import safe_html, safe_markdown, safe_messages

# Each one ran script or navigated to script when clicked, with Gradio's own sanitiser alone.
HOSTILE = {
    "svg-a-href": '<svg height="40"><a href="javascript:window.__pwned=1"><text y="20">svg</text></a></svg>',
    "svg-a-xlink": '<svg><a xlink:href="javascript:window.__pwned=1"><rect width="50" height="50"/></a></svg>',
    "svg-animate": '<svg><a><animate attributeName="href"'
    ' values="javascript:window.__pwned=1"/><text>x</text></a></svg>',
    "svg-use-data": "<svg><use href=\"data:image/svg+xml,&lt;svg id='x'&gt;&lt;/svg&gt;#x\"/></svg>",
    "a-javascript": '<a href="javascript:window.__pwned=1">plain link</a>',
    "a-mixed-case": '<a href="JaVaScRiPt:window.__pwned=1">mixed case</a>',
    "a-entities": '<a href="&#106;avascript&#58;window.__pwned=1">entities</a>',
    "a-tab": '<a href="java&#x09;script:window.__pwned=1">tab</a>',
    "a-leading-space": '<a href=" \x01javascript:window.__pwned=1">leading</a>',
    "a-vbscript": '<a href="vbscript:msgbox(1)">vbscript</a>',
    "a-data": '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data link</a>',
    "a-onclick": '<a href="#" onclick="window.__pwned=1">onclick</a>',
    "img-onerror": '<img src=x onerror="window.__pwned=1">',
    "img-data": '<img src="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=">',
    "iframe": '<iframe src="javascript:window.__pwned=1"></iframe>',
    "iframe-srcdoc": '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>',
    "object": '<object data="javascript:window.__pwned=1"></object><embed src="javascript:window.__pwned=1">',
    "form": '<form action="javascript:window.__pwned=1"><button>form button</button></form>',
    "formaction": '<button formaction="javascript:window.__pwned=1">formaction</button>',
    "meta-refresh": '<meta http-equiv="refresh" content="0;url=javascript:window.__pwned=1">',
    "css-url": '<div style="background:url(javascript:window.__pwned=1)">styled</div>',
    "style-tag": "<style>*{background:url(javascript:window.__pwned=1)}</style>",
    "script": "<script>window.__pwned=1</script>",
    "details-ontoggle": '<details open ontoggle="window.__pwned=1"><summary>s</summary>d</details>',
    "math-xlink": '<math><maction actiontype="statusline" xlink:href="javascript:window.__pwned=1">m</maction></math>',
    "base": '<base href="javascript:window.__pwned=1//">',
    "input-autofocus": '<input autofocus onfocus="window.__pwned=1">',
    "md-link": "[markdown link](javascript:window.__pwned=1)",
    "md-link-space": "[spaced]( javascript:window.__pwned=1 )",
    "md-link-angle": "[angle](<javascript:window.__pwned=1>)",
    "md-link-entity": "[entity](&#106;avascript:window.__pwned=1)",
    "md-link-escape": "[escaped](javascript\\:window.__pwned=1)",
    "md-image-data": "![image](data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=)",
    "md-reference": "[reference][r]\n\n[r]: javascript:window.__pwned=1",
    "md-autolink": "<javascript:window.__pwned=1>",
    "html-block-hides-code": '<div>\n`<img src=x onerror="window.__pwned=1">`',
    "list-fence-ends": '- item\n  ```\n<img src=x onerror="window.__pwned=1">\n  ```',
    "entity-backslash": '&#92;`<img src=x onerror="window.__pwned=1">`',
    "table-cell-code": '| `a | <img src=x onerror="window.__pwned=1">` |\n|---|---|\n| 1 | 2 |',
    "fence-breakout": '```json\n{}\n```\n<svg><a href="javascript:window.__pwned=1"><text y="9">after</text></a></svg>',
}
_URL_ATTRIBUTES = {"href", "src", "xlink:href", "action", "formaction", "data", "srcdoc", "values", "content", "style"}
_DANGEROUS_TAGS = {"script", "style", "svg", "math", "iframe", "object", "embed", "form", "meta", "base", "input",
                   "button", "use", "animate", "link"}  # fmt: skip
_BAD_URL = re.compile(r"^\s*(?:[a-z]*script|data):|url\(", re.IGNORECASE)
# Hostile in a browser, but not as markdown-it renders them: it drops an unescaped `<` (md-autolink), decodes no
# entity before a backtick, and reads tables and escapes in its own way.
_NEUTRAL_HERE = {"md-autolink", "entity-backslash", "table-cell-code", "md-link-escape", "md-link-angle"}
RENDER = MarkdownIt("commonmark", {"html": True}).enable("table")
RENDER.validateLink = lambda url: True  # as marked, which Gradio uses: it lets any link scheme through


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def dangers(markdown: str) -> list[str]:
    """What in the rendered Markdown could run or load script."""
    return html_dangers(RENDER.render(markdown))


def html_dangers(html: str) -> list[str]:
    """What in the HTML could run or load script: dangerous tags, handlers, script or data URLs."""
    collector = _Collector()
    collector.feed(html)
    problems = []
    for tag, attrs in collector.found:
        if tag in _DANGEROUS_TAGS:
            problems.append(f"<{tag}>")
        for name, value in attrs:
            plain = re.sub(r"[\x00-\x20]", "", value or "")
            if name.startswith("on"):
                problems.append(f"{tag} {name}")
            elif name in _URL_ATTRIBUTES and _BAD_URL.search(plain):
                problems.append(f"{tag} {name}={value}")
    return problems


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_fixture_is_defused(name: str) -> None:
    fixture = HOSTILE[name]
    assert dangers(fixture) or name in _NEUTRAL_HERE  # each fixture is hostile unless sanitised
    cleaned = safe_markdown(fixture)
    assert dangers(cleaned) == [], cleaned
    assert "javascript:" not in cleaned.lower()
    assert "data:" not in cleaned.lower()
    assert not re.search(r"<[^>]*\son\w+\s*=", cleaned, re.IGNORECASE), cleaned


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_fixture_in_every_place_the_toolbox_shows_it(name: str) -> None:
    fixture = HOSTILE[name]
    source = {"n": 1, "document": fixture, "page": 2, "headings": [fixture], "text": fixture}
    shown = [
        answer_markdown(f"Answer [1] {fixture}", 1),
        passage_markdown(source),
        report_markdown({"added": [fixture], "failed": {fixture: fixture}, "chunks": 1}),
        *(message["content"] for message in safe_messages([{"role": "assistant", "content": fixture}])),
    ]
    for markdown in shown:
        assert dangers(markdown) == [], markdown
    assert html_dangers(safe_html(fixture)) == []


def test_the_markdown_dangers_check_sees_markdown_links() -> None:
    # The raw fixtures that are pure Markdown: a browser's parser turns them into script links.
    assert dangers(HOSTILE["md-link"]) == ["a href=javascript:window.__pwned=1"]
    assert dangers(HOSTILE["html-block-hides-code"]) == ["img onerror"]
    assert dangers(HOSTILE["list-fence-ends"]) == ["img onerror"]


@pytest.mark.parametrize(
    "text",
    [
        "```python\nif a < b and c > d:\n    print('<b>&amp;</b>')\n```",
        "Use `a<b && c>d` inline.",
        "> quoted line\n> second",
        '- [Quarry](https://example.com/docs?a=1&b=2 "title")\n- <https://example.com> and <ada@example.com>',
        "| a | b |\n|---|---|\n| 1 | 2 |",
        "**bold** _em_ <b>raw bold</b> H<sub>2</sub>O",
        "1. one\n   ```sh\n   echo '<x>'\n   ```\n2. two",
    ],
)
def test_honest_markdown_renders_as_written(text: str) -> None:
    assert RENDER.render(safe_markdown(text)) == RENDER.render(text)


def test_unsafe_destination_becomes_a_harmless_fragment() -> None:
    assert safe_markdown("[x](javascript:alert(1))") == "[x](#blocked-javascript(1))"
    assert safe_markdown("[ok](mailto:ada@example.com)") == "[ok](mailto:ada@example.com)"


@pytest.mark.parametrize("name", ["svg-a-href", "img-onerror", "md-link"])
def test_the_signed_in_name_is_text_in_the_settings_tab(name: str) -> None:
    # A name from the operator's users file is shown, never rendered as markup the browser would run.
    from quarry.ui._settings_tab import settings_values
    from quarry.ui._toolbox import Session, Toolbox, ToolboxConfig

    toolbox = Toolbox(ToolboxConfig(api_url=None, default_model="m"))
    assert dangers(f"Signed in as **{HOSTILE[name]}**.")  # what the tab showed before
    session = Session(user="u:x", api_url="http://q", model="m", signed_in=HOSTILE[name])
    who = settings_values(toolbox, session, [])[0]
    assert dangers(who) == [], who
    assert "javascript:" not in who.lower()
