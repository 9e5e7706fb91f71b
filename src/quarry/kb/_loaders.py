"""Documents' bytes to text in sections: PDF (pypdfium2), Word (python-docx), Markdown, HTML (the standard library's
parser), plain text.

A document's full text is its sections' texts joined by a blank line ("\\n\\n"); each section's `start` is its offset
in that text, which is what chunks' offsets and citations point into.
"""

from __future__ import annotations

import codecs
import importlib.util
import re
from collections.abc import Iterable
from html.parser import HTMLParser

from quarry.errors import InvalidRequest
from quarry.kb._docx import DOCX, docx_blocks
from quarry.kb._models import LoadedDocument, Section
from quarry.kb._pdf_limits import PdfLimits
from quarry.kb._pdf_process import read_pdf_text

__all__ = ["SUPPORTED_SUFFIXES", "full_text", "load_document", "media_type_for"]

PDF, MARKDOWN, HTML, TEXT = "application/pdf", "text/markdown", "text/html", "text/plain"

SUPPORTED_SUFFIXES: dict[str, str] = {
    ".pdf": PDF,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".html": HTML,
    ".htm": HTML,
    ".xhtml": HTML,
    ".txt": TEXT,
    ".text": TEXT,
    ".docx": DOCX,
}
_ALIASES = {"text/x-markdown": MARKDOWN, "application/xhtml+xml": HTML, "application/x-pdf": PDF}

# One part of a document before offsets are known: text, page, heading path.
_Part = tuple[str, int | None, tuple[str, ...]]


def media_type_for(name: str, data: bytes) -> str | None:
    """The media type of a file called `name` holding `data`: by its suffix, else a PDF by its signature; None if
    neither tells."""
    dot = name.rfind(".")
    if dot >= 0 and (media_type := SUPPORTED_SUFFIXES.get(name[dot:].lower())):
        return media_type
    # PDF readers accept the header anywhere in the first kilobyte (some writers put junk before it).
    return PDF if b"%PDF-" in data[:1024] else None


def full_text(doc: LoadedDocument) -> str:
    """The text `Section.start` and chunk offsets refer to."""
    return "\n\n".join(section.text for section in doc.sections)


def load_document(
    data: bytes, name: str, media_type: str | None = None, *, pdf_limits: PdfLimits | None = None
) -> LoadedDocument:
    """Read a document; InvalidRequest naming `name` when it is of an unsupported type, unreadable, empty or past
    one of `pdf_limits` (the defaults when None)."""
    kind = media_type.split(";", 1)[0].strip().lower() if media_type else ""
    kind = _ALIASES.get(kind, kind)
    if kind not in (PDF, MARKDOWN, HTML, TEXT, DOCX):
        kind = media_type_for(name, data) or ""
    if not kind:
        supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise InvalidRequest(f"{name}: unsupported file type (supported: {supported})", param="file")
    if kind == PDF:
        doc = _load_pdf(data, name, pdf_limits or PdfLimits())
    elif kind == DOCX:
        title, blocks = docx_blocks(data, name)
        doc = LoadedDocument(_sections(_outline(blocks)), kind, title)
    else:
        text = _decode(data, name, html=kind == HTML)
        if kind == MARKDOWN:
            title, parts = _markdown(text)
        elif kind == HTML:
            title, parts = _html(text)
        else:
            title, parts = None, [(_tidy(text), None, ())]
        doc = LoadedDocument(_sections(parts), kind, title)
    if not doc.sections:
        hint = " (a scanned PDF needs OCR first)" if kind == PDF else ""
        raise InvalidRequest(f"{name}: the document has no text{hint}", param="file")
    return doc


def _sections(parts: Iterable[_Part]) -> list[Section]:
    """Sections with their offsets in the full text; parts without text are left out."""
    sections: list[Section] = []
    start = 0
    for text, page, headings in parts:
        if text:
            sections.append(Section(text, page, headings, start))
            start += len(text) + 2
    return sections


_SPACES = re.compile(r"[^\S\n]+")  # whitespace but newlines
_LINE_ENDS = re.compile(r" ?\n ?")
_BLANK_LINES = re.compile(r"\n{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufeff]")


def _tidy(text: str) -> str:
    """Plain text with single spaces, no blank lines beyond one between paragraphs, no padding."""
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n"))
    return _BLANK_LINES.sub("\n\n", _LINE_ENDS.sub("\n", _SPACES.sub(" ", text))).strip()


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16's, which it starts with
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([\w.:-]+)""", re.I)


def _decode(data: bytes, name: str, *, html: bool = False) -> str:
    """Text from bytes: by byte-order mark, else (HTML) by the charset its <meta> declares, else UTF-8."""
    encoding = next((encoding for bom, encoding in _BOMS if data.startswith(bom)), "")
    if not encoding and html and (declared := _META_CHARSET.search(data[:4096])):
        # A page that can declare its charset in ASCII is not in UTF-16 whatever it says (HTML's rule too).
        encoding = declared[1].decode("ascii").lower().replace("utf-16", "utf-8").replace("utf-32", "utf-8")
    encoding = encoding or "utf-8"
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        raise InvalidRequest(f"{name}: not UTF-8 (or UTF-16 with a byte-order mark) text", param="file") from None
    if "\x00" in text:
        raise InvalidRequest(f"{name}: binary data, not text", param="file")
    return text


# --- PDF ---------------------------------------------------------------------------------------------------------


# pdfium marks a hyphen it removed at a line end (the word continues on the next line) with U+FFFE (older builds: \x02).
_SOFT_HYPHEN = re.compile(r"[\ufffe\x02]")
# A page number alone on the page's first or last line ("12", "Page 12", "12 of 40", "- 12 -") says nothing.
_NUMBER_LINE = r"[-\u2013 ]*(?:page )?\d{1,5}(?: ?(?:/|of) ?\d{1,5})?[-\u2013 ]*"
_PAGE_NUMBER = re.compile(rf"\A{_NUMBER_LINE}\n|\n{_NUMBER_LINE}\Z", re.I)


def _load_pdf(data: bytes, name: str, limits: PdfLimits) -> LoadedDocument:
    if importlib.util.find_spec("pypdfium2") is None:  # pragma: no cover - the tests run with the kb extra
        raise InvalidRequest("reading PDFs needs the `kb` extra: pip install 'quarry[kb]'")
    limits.check_streams(data, name)  # the common bomb, refused with its own message before any process starts
    read = read_pdf_text(data, name, limits)
    parts: list[_Part] = [
        (_PAGE_NUMBER.sub("", _tidy(_SOFT_HYPHEN.sub("", raw))), number, ()) for number, raw in enumerate(read.pages, 1)
    ]
    title = read.title.strip()
    # "untitled" is what several writers (reportlab among them) put there when nobody gave a title.
    return LoadedDocument(_sections(parts), PDF, title if title.lower() not in ("", "untitled") else None, len(parts))


# --- headings --------------------------------------------------------------------------------------------------------


def _outline(blocks: Iterable[tuple[int, str]]) -> list[_Part]:
    """Sections from a run of blocks, (0, text) for body text and (level, text) for a heading: each heading starts a
    section whose text is the heading then its body; a heading with no body of its own only names the sections under
    it (in their heading paths)."""
    parts: list[_Part] = []
    path: list[tuple[int, str]] = []
    body: list[str] = []

    def close() -> None:
        if body:
            parts.append(("\n\n".join([path[-1][1], *body] if path else body), None, tuple(t for _, t in path)))
            body.clear()

    for level, text in blocks:
        if not level:
            body.append(text)
            continue
        close()
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, text))
    close()
    return parts


_TRAILING_SPACE = re.compile(r"[^\S\n]+\n")


def _tidy_lines(text: str) -> str:
    """Text with its lines' indentation kept (code), trailing spaces and extra blank lines gone."""
    return _BLANK_LINES.sub("\n\n", _TRAILING_SPACE.sub("\n", text + "\n")).strip("\n")


# --- Markdown --------------------------------------------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_TITLE = re.compile(r"^title:[ \t]*(.*?)[ \t]*$", re.M)
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def _markdown(text: str) -> tuple[str | None, list[_Part]]:
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    title = None
    if front := _FRONT_MATTER.match(text):
        if found := _FRONT_TITLE.search(front[1] or ""):
            title = found[1].strip("'\"") or None
        text = text[front.end() :]
    blocks: list[tuple[int, str]] = []
    lines: list[str] = []  # the body under the latest heading
    paragraph: int | None = None  # where in `lines` the paragraph being read began
    fence = ""

    def heading(level: int, name: str) -> None:
        nonlocal title
        if body := _tidy_lines("\n".join(lines)):
            blocks.append((0, body))
        lines.clear()
        if name:
            blocks.append((level, name))
            if level == 1 and title is None:
                title = name

    for line in text.split("\n"):
        if fence:  # inside a fenced code block: text as it is, until the closing fence
            lines.append(line)
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = ""
            continue
        if opening := _FENCE.match(line):
            fence, paragraph = opening[1], None
            lines.append(line)
        elif atx := _ATX.fullmatch(line):
            heading(len(atx[1]), (atx[2] or "").strip())
            paragraph = None
        elif (setext := _SETEXT.fullmatch(line)) and paragraph is not None:
            name = " ".join(part.strip() for part in lines[paragraph:])
            del lines[paragraph:]
            heading(1 if setext[1][0] == "=" else 2, name)
            paragraph = None
        elif not line.strip():
            lines.append(line)
            paragraph = None
        elif not (setext and setext[1][0] == "-" and len(setext[1]) >= 3):  # a thematic break is no text
            if paragraph is None:
                paragraph = len(lines)
            lines.append(line)
    heading(0, "")
    return title, _outline(blocks)


# --- HTML ------------------------------------------------------------------------------------------------------------


# Never content. A header is the page's banner only outside <main> and <article> (as ARIA maps it); inside an
# article it holds the article's title and byline, which are kept. Footers are boilerplate wherever they are.
def _tags(names: str) -> frozenset[str]:
    return frozenset(names.split())


_SKIP = _tags("script style noscript template svg math iframe object canvas nav header footer aside form select button")
_SKIP_ROLES = frozenset({"navigation", "banner", "contentinfo"})
_VOID = _tags("area base br col embed hr img input link meta param source track wbr")
_HEADINGS = _tags("h1 h2 h3 h4 h5 h6")
_BLOCKS = _tags(
    "address article blockquote body dd details dialog div dl dt fieldset figcaption figure hr html main ol p pre "
    "section summary table tbody thead tfoot ul"
)
_LINES = frozenset({"br", "li", "tr"})
_CELLS = frozenset({"td", "th"})


class _HtmlText(HTMLParser):
    """Collects an HTML page's content as blocks (see `_outline`), each marked whether it is inside <main> or
    <article>, and its <title>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[int, str, bool]] = []
        self.title = ""
        self.has_main = False
        self._skipping = ""  # the tag of the element being skipped
        self._skip_depth = 0  # how many of that tag are open inside it
        self._main = self._pre = self._heading = 0
        self._in_title = False
        self._lines: list[list[str]] = [[]]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skipping:
            self._skip_depth += tag == self._skipping
            return
        attributes = dict(attrs)
        if (
            (tag in _SKIP and not (tag == "header" and self._main))
            or attributes.get("role") in _SKIP_ROLES
            or "hidden" in attributes
            or attributes.get("aria-hidden") == "true"
        ):
            if tag not in _VOID:
                self._skipping, self._skip_depth = tag, 1
            return
        if tag == "title":
            self._in_title = True
        elif tag in _HEADINGS:
            self._flush()
            self._heading = int(tag[1])
        elif tag in _BLOCKS:
            self._flush()
        elif tag in _LINES:
            self._lines.append([])
        elif tag in _CELLS:
            self._lines[-1].append(" ")
        if tag in ("main", "article"):
            self._main += 1
            self.has_main = True
        self._pre += tag == "pre"

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            self._skip_depth -= tag == self._skipping
            if not self._skip_depth:
                self._skipping = ""
            return
        if tag == "title":
            self._in_title = False
        elif tag in _HEADINGS or tag in _BLOCKS:
            self._flush()
        elif tag in _LINES:
            self._lines.append([])
        if tag in ("main", "article") and self._main:
            self._main -= 1
        if tag == "pre" and self._pre:
            self._pre -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skipping:
            self._lines[-1].append(data)

    def close(self) -> None:
        super().close()
        self._flush()

    def _flush(self) -> None:
        """End the block being read: its lines become a paragraph (or the heading's text)."""
        lines = ["".join(pieces) for pieces in self._lines]
        self._lines = [[]]
        if self._pre and not self._heading:
            text = _tidy_lines("\n".join(lines))
        else:
            text = "\n".join(filter(None, (" ".join(line.split()) for line in lines)))
        if self._heading:
            text, level, self._heading = " ".join(text.split()), self._heading, 0
        else:
            level = 0
        if text:
            self.blocks.append((level, text, self._main > 0))


def _html(text: str) -> tuple[str | None, list[_Part]]:
    parser = _HtmlText()
    parser.feed(_CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")))
    parser.close()
    blocks = parser.blocks
    if parser.has_main and any(inside for _, _, inside in blocks):
        blocks = [block for block in blocks if block[2]]
    title = " ".join(parser.title.split()) or next((text for level, text, _ in blocks if level == 1), None)
    return title, _outline((level, text) for level, text, _ in blocks)
