"""Pages per second of knowledge-base ingestion's CPU work on one core: PDF text extraction, then chunking.

    python bench/kb_extract.py [--pages 500] [--rounds 5]

Writes (once, with reportlab's page layout engine) a text PDF of `--pages` A4 pages of varied English prose in
justified paragraphs under section and subsection headings, with a title and page numbers, and keeps it under
bench/.cache/ for later runs. Then, pinned to one core where the OS allows, times `--rounds` rounds of each of:
extraction alone (`load_document`), extraction and chunking at the defaults (300 tokens, 20% overlap), extraction
with hierarchical chunking (1500-token parents), and chunking alone. Figures are this process's CPU time (user and
system), the best round of each (the machine is shared and noise only ever adds). Prints a Markdown table and the
command line; the target is 200 pages/s for extraction and chunking.
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

from quarry.kb._chunking import chunk_document
from quarry.kb._loaders import full_text, load_document
from quarry.kb._tokens import count_tokens

CACHE = Path(__file__).resolve().parent / ".cache"

_COMMON_WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which but have an they "
    "you were her she there one all we their can has more when will would if no what so its who about into than "
    "them these may some time could our only other then also any two first after how new most made over such "
    "where through years way well even because each many those just people must before great through between"
)
_RARE_WORDS = (
    "harbour estuary navigation measurement tidal current gravitational attraction coastline lighthouse keeper "
    "schedule maintenance inspection procedure equipment hydraulic pressure valve turbine generator voltage "
    "regulation compliance documentation customer invoice quarterly revenue forecast allocation infrastructure "
    "deployment configuration authentication certificate encryption latency throughput availability redundancy "
    "recovery incident escalation stakeholder requirement specification prototype evaluation benchmark analysis "
    "committee recommendation amendment jurisdiction liability warranty agreement obligation termination notice"
)
_COMMON, _RARE = _COMMON_WORDS.split(), _RARE_WORDS.split()


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_RARE) if rng.random() < 0.3 else rng.choice(_COMMON) for _ in range(rng.randint(5, 32))]
    if len(words) > 12 and rng.random() < 0.5:
        words[rng.randint(3, len(words) - 4)] += ","
    if rng.random() < 0.08:
        words.insert(rng.randint(1, len(words) - 1), f"{rng.randint(2, 9999)}")
    return " ".join(words).capitalize() + rng.choice("....!?")


def write_pdf(path: Path, pages: int, seed: int = 1) -> None:
    """A PDF of about `pages` pages (the layout engine decides where pages break)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    rng = random.Random(seed)
    styles = getSampleStyleSheet()
    body = styles["BodyText"].clone("Justified", alignment=4)
    story: list[object] = []
    written, chapter = 0, 0
    while written < pages * 4220:  # about 4,300 characters fill an A4 page in 10pt type, headings and gaps included
        chapter += 1
        story.append(Paragraph(f"{chapter}. {' '.join(rng.sample(_RARE, 3)).title()}", styles["Heading1"]))
        for section in range(1, rng.randint(2, 5)):
            story.append(Paragraph(f"{chapter}.{section} {' '.join(rng.sample(_RARE, 2)).title()}", styles["Heading2"]))
            for _ in range(rng.randint(2, 6)):
                paragraph = " ".join(_sentence(rng) for _ in range(rng.randint(2, 9)))
                story.append(Paragraph(paragraph, body))
                written += len(paragraph)
            story.append(Spacer(1, 6))

    def number(canvas: object, doc: object) -> None:
        canvas.drawRightString(A4[0] - 72, 40, str(doc.page))  # type: ignore[attr-defined]

    tmp = path.with_suffix(".tmp")
    document = SimpleDocTemplate(str(tmp), pagesize=A4, title="Harbour Operations Manual", invariant=True)
    document.build(story, onFirstPage=number, onLaterPages=number)  # type: ignore[arg-type]
    tmp.replace(path)


def cpu_seconds(work: Callable[[], object]) -> float:
    started = time.process_time()
    work()
    return time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"kb_extract-{args.pages}-v1.pdf"
    if not path.exists():
        started = time.perf_counter()
        write_pdf(path, args.pages)
        print(f"wrote {path} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    data, name = path.read_bytes(), path.name

    doc = load_document(data, name)
    pages = doc.pages or 0
    text = full_text(doc)
    flat, tree = chunk_document(doc), chunk_document(doc, hierarchical=True)
    print(f"{path.name}: {len(data) / 1e6:.1f} MB, {pages} pages, {len(text) / pages:.0f} characters and")
    print(f"{count_tokens(text) / pages:.0f} tokens a page; {len(flat)} chunks, {len(tree)} hierarchical children")
    print()

    stages: list[tuple[str, Callable[[], object]]] = [
        ("extraction", lambda: load_document(data, name)),
        ("extraction + chunking (300 tokens, 20%)", lambda: chunk_document(load_document(data, name))),
        ("extraction + hierarchical (1500/300)", lambda: chunk_document(load_document(data, name), hierarchical=True)),
        ("chunking alone (300 tokens, 20%)", lambda: chunk_document(doc)),
    ]
    times: dict[str, list[float]] = {label: [] for label, _ in stages}
    for _ in range(args.rounds):  # stages take turns, so that all of them see the same machine
        for label, work in stages:
            times[label].append(cpu_seconds(work))
    print(f"| stage | CPU s, best of {args.rounds} | pages/s | ms/page |")
    print("|---|---:|---:|---:|")
    for label, _ in stages:
        seconds = min(times[label])
        print(f"| {label} | {seconds:.3f} | {pages / seconds:,.0f} | {seconds / pages * 1e3:.2f} |")
    print()
    print("one core:", sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "not pinned")
    print("$", shlex.join(["python", *sys.argv]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
