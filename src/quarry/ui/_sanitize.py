"""The toolbox's one gate for text that becomes HTML: model answers, documents and error messages are Markdown that
Gradio renders in the browser, and Gradio's own sanitiser lets an SVG `<a href="javascript:…">` through (it checks
`href` only on HTML anchors). So Quarry cleans the Markdown first, with nh3 (an allow-list sanitiser, ammonia).

- Raw HTML keeps only the tags and attributes below; URLs only with the schemes below, in any attribute, SVG
  included (SVG and MathML are dropped whole: they are not on the list).
- Markdown link and image destinations (`[t](…)`, `![a](…)`, `[r]: …`) with any other scheme are defused.
- Code (fenced blocks, one-line code spans) is left as written, so that `a < b` in code still reads so; when raw HTML
  around code could make the browser's Markdown parser read that code as HTML, nothing is left as written.
"""

from __future__ import annotations

import functools
import html
import re
from typing import Any

import nh3

__all__ = ["SAFE_SCHEMES", "safe_html", "safe_markdown", "safe_messages"]

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
# No `pre`, `script`, `style`, `textarea`, comments or `<!…>`/`<?…>`: in Markdown those open HTML blocks that a blank
# line does not end, which would let code that follows be read as HTML. No `style`/`class` attributes either (CSS
# `url(javascript:)`, and overlays that dress up as the toolbox).
_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "q", "s",
        "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
        "u", "ul",
    }
)  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan"},
    "abbr": {"title"},
}
_CLEANER = nh3.Cleaner(
    tags=set(_TAGS),
    clean_content_tags={"script", "style", "iframe", "object", "embed", "template", "noscript", "svg", "math"},
    attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
    url_schemes=set(SAFE_SCHEMES),
    strip_comments=True,
    link_rel="noopener noreferrer nofollow",
)  # built once: its settings never change

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# A Markdown link or image destination, or a link reference definition's: the part that can name a scheme.
_DESTINATION = re.compile(r"(\]\(\s*|^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*(?:\n[ \t]*)?)([^\s()<>]+)", re.MULTILINE)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
_TICK_OR_ESCAPE = re.compile(r"\\.|`+")
_INVISIBLE = re.compile(r"[\x00-\x20\x7f\\]")  # what browsers and Markdown drop from a URL before reading it
# A line whose first thing is a tag (after list and quote markers): in Markdown it may open an HTML block, which runs
# to the next blank line; code found there might be read as HTML, so it is not left as written.
_HTML_LINE = re.compile(r"^[ \t>*+\-0-9.)]*<(?:/|[A-Za-z][A-Za-z0-9-]*(?:[\s/>]|$))", re.MULTILINE)
_BLANK_LINE = re.compile(r"^[ \t]*$", re.MULTILINE)
_AUTOLINK = re.compile(r"<(?:(?:https?|mailto):[^\s<>`]*|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)>", re.IGNORECASE)


def safe_html(text: str) -> str:
    """HTML with only the allow-listed tags, attributes and URL schemes."""
    return _CLEANER.clean(text)


def _defuse_destination(match: re.Match[str]) -> str:
    lead, target = match.group(1), match.group(2)
    plain = _INVISIBLE.sub("", html.unescape(target)).lower()
    scheme = _SCHEME.match(plain)
    if scheme is None or scheme.group(1) in SAFE_SCHEMES:
        return match.group(0)
    return f"{lead}#blocked-{scheme.group(1)[:20]}"


def _clean_text(text: str) -> str:
    """A stretch of Markdown outside code: raw HTML allow-listed, unsafe link destinations defused."""
    cleaned = _CLEANER.clean(text).replace("&gt;", ">")  # a bare `>` opens nothing, and quotes need it
    return _DESTINATION.sub(_defuse_destination, cleaned)


def _code_spans(line: str) -> list[tuple[int, int]]:
    """Where one line's code spans are: backtick runs closed by a run of the same length, escapes honoured."""
    spans: list[tuple[int, int]] = []
    if "`" not in line:
        return spans
    i = 0
    while (opening := _TICK_OR_ESCAPE.search(line, i)) is not None:
        i = opening.end()
        if opening.group()[0] == "\\":  # an escaped character opens nothing (inside a span it would be literal)
            continue
        closing = re.compile(rf"(?<!`)`{{{len(opening.group())}}}(?!`)").search(line, i)
        if closing is None:
            continue
        # A table cell ends at `|` even inside backticks, so such a span is not trusted to be code.
        if "|" not in line[opening.start() : closing.end()]:
            spans.append((opening.start(), closing.end()))
        i = closing.end()
    return spans


def _pieces(text: str) -> list[tuple[bool, str]]:
    """The text as (is_code, piece) in order: fenced blocks (to their closing fence or the end), code spans, rest."""
    pieces: list[tuple[bool, str]] = []
    lines = text.splitlines(keepends=True)
    prose: list[str] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None or (opening.group(1)[0] == "`" and "`" in lines[i][opening.end() :]):
            prose.append(lines[i])
            i += 1
            continue
        fence = opening.group(1)
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        end = next((j for j in range(i + 1, len(lines)) if closing.match(lines[j].rstrip("\n"))), len(lines) - 1)
        if not _holds(lines[i], lines[i + 1 : end]):  # not code past the item's end: its lines are read anew
            prose.append(lines[i])
            i += 1
            continue
        if not _altered("".join(lines[i : end + 1])):  # code that cleaning leaves as it is, fences and all
            prose += lines[i : end + 1]
            i = end + 1
            continue
        pieces += _inline_pieces("".join(prose))
        prose = []
        pieces.append((True, "".join(lines[i : end + 1])))
        i = end + 1
    pieces += _inline_pieces("".join(prose))
    return [piece for piece in pieces if piece[1]]


def _altered(code: str) -> bool:
    """Whether cleaning would change this code's text (`>` it leaves alone; see `_clean_text`)."""
    return "<" in code or "&" in code or "\u00a0" in code


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _holds(opening: str, body: list[str]) -> bool:
    """Whether a fence indented under a list item keeps its lines: one indented less ends the item and the code."""
    return all(_indent(line) >= _indent(opening) for line in body if line.strip())


def _inline_pieces(text: str) -> list[tuple[bool, str]]:
    pieces: list[tuple[bool, str]] = []
    start = 0
    offset = 0
    for line in text.splitlines(keepends=True):
        if "`" in line or "<" in line:  # most lines have neither: nothing to keep as written
            spans = sorted([*((m.start(), m.end()) for m in _AUTOLINK.finditer(line)), *_code_spans(line)])
            taken = 0
            for left, right in spans:
                if left < taken:  # inside the one before (a link in code is code): the leftmost wins
                    continue
                if not _altered(line[left:right]):  # cleaning leaves it as it is: it need not be set apart
                    continue
                pieces.append((False, text[start : offset + left]))
                pieces.append((True, line[left:right]))
                start, taken = offset + right, right
        offset += len(line)
    pieces.append((False, text[start:]))
    return pieces


def _in_html_block(text: str, positions: list[int]) -> bool:
    """Whether any of `positions` may lie in a Markdown HTML block: from a line starting with a tag to a blank line."""
    if not positions:
        return False
    marks = [(match.start(), True) for match in _HTML_LINE.finditer(text)]
    marks += [(match.start(), False) for match in _BLANK_LINE.finditer(text)]
    if not any(opens for _, opens in marks):
        return False
    inside, ordered = False, iter(sorted(marks))
    mark = next(ordered, None)
    for position in sorted(positions):
        while mark is not None and mark[0] < position:
            inside = mark[1]
            mark = next(ordered, None)
        if inside:
            return True
    return False


def safe_markdown(text: str) -> str:
    """Markdown whose rendering can run no script and load nothing but http(s) (see the module's docstring)."""
    return _safe_markdown(text)


# A pure function's memo: a chat re-renders its whole history on every streamed delta, and only the growing answer
# is new; bounded, and holding nothing but text the page shows anyway.
@functools.lru_cache(maxsize=256)
def _safe_markdown(text: str) -> str:
    text = text.replace("\r\n", "\n")
    pieces = _pieces(text)
    out: list[str] = []
    code_at: list[int] = []
    length = 0
    for is_code, piece in pieces:
        shown = piece if is_code else _clean_text(piece)
        if is_code:
            code_at.append(length)
        out.append(shown)
        length += len(shown)
    result = "".join(out)
    if _in_html_block(result, code_at):
        return _clean_text(text)  # raw HTML around code: clean everything, code included
    # Cleaning must not have changed which stretches are code (an entity decoded into a `\`, say): else clean all.
    if [piece for piece in _pieces(result) if piece[0]] != [piece for piece in pieces if piece[0]]:
        return _clean_text(text)
    return result


def safe_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chatbot messages with their text made safe (`safe_markdown`); files and metadata as they were."""
    return [
        {**message, "content": safe_markdown(text)} if isinstance(text := message.get("content"), str) else message
        for message in messages
    ]
