"""Chunks respect their token limit, start at sentences, stay inside a section, overlap, and point into the text."""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path

import pytest

from quarry.errors import InvalidRequest
from quarry.kb._chunking import SMALL_TAIL, chunk_document
from quarry.kb._loaders import full_text, load_document
from quarry.kb._models import ChunkDraft, LoadedDocument
from quarry.kb._tokens import count_tokens, token_spans
from tests.kb._pdf import write_pdf

VOCABULARY = (
    "the a of harbour tide moon water current depth chart sailor morning evening pulls rises falls twice daily "
    "gravitational attraction coastline estuary navigation measurement predictable"
)
WORDS = VOCABULARY.split()


def prose(rng: random.Random, sentences: int, *, shortest: int = 3, longest: int = 25) -> list[str]:
    """Sentences that each begin "Sentence N" (N unique across calls with the same rng), ending in . ! or ?."""
    first = rng.randrange(10**6) * 1000
    return [
        f"Sentence {first + n} " + " ".join(rng.choices(WORDS, k=rng.randint(shortest, longest))) + rng.choice(".!?")
        for n in range(sentences)
    ]


def markdown_document(seed: int = 7) -> LoadedDocument:
    rng = random.Random(seed)
    parts = []
    for heading in ("# Tides", "## Springs and neaps", "## Charts", "# Currents"):
        paragraphs = [" ".join(prose(rng, rng.randint(1, 9))) for _ in range(rng.randint(2, 6))]
        parts.append(heading + "\n\n" + "\n\n".join(paragraphs))
    return load_document("\n\n".join(parts).encode(), "sea.md")


def check_offsets_and_sections(doc: LoadedDocument, chunks: list[ChunkDraft]) -> None:
    """Offsets are exact, and every chunk lies inside one section and carries its headings and page."""
    text = full_text(doc)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        [section] = [s for s in doc.sections if s.start <= chunk.start < s.start + len(s.text)]
        assert chunk.end <= section.start + len(section.text)
        assert (chunk.headings, chunk.page) == (section.headings, section.page)


def by_section(chunks: list[ChunkDraft]) -> list[list[ChunkDraft]]:
    groups: dict[tuple[tuple[str, ...], int | None], list[ChunkDraft]] = {}
    for chunk in chunks:
        groups.setdefault((chunk.headings, chunk.page), []).append(chunk)
    return list(groups.values())


# --- tokens ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("", 0),
        ("   \n\n ", 0),
        ("the", 1),
        ("tide", 1),
        ("extraction", 3),  # extr acti on
        ("2024", 2),  # 202 4
        ("Hello, world!", 6),  # Hell o , worl d !
        ("知识库。", 4),
        ("東京タワー", 5),
        ("snake_case", 4),  # snak e _ case
    ],
)
def test_token_estimate(text: str, tokens: int) -> None:
    assert count_tokens(text) == tokens
    assert len(token_spans(text)) == tokens


def test_token_counts_add_up_across_a_cut_at_a_token_boundary() -> None:
    text = "Measurement of the gravitational attraction, 1234567 times: 潮汐は毎日二回 rises."
    for start, _ in token_spans(text):
        assert count_tokens(text[:start]) + count_tokens(text[start:]) == count_tokens(text)


# --- limits, sentences, sections -------------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_tokens", [20, 60, 300])
@pytest.mark.parametrize("overlap", [0.0, 0.2, 0.5])
def test_chunks_keep_to_the_limit_start_at_sentences_and_cover_the_text(chunk_tokens: int, overlap: float) -> None:
    doc = markdown_document()
    chunks = chunk_document(doc, chunk_tokens=chunk_tokens, overlap=overlap)
    check_offsets_and_sections(doc, chunks)
    headings = {section.text.split("\n\n", 1)[0] for section in doc.sections}
    for section_chunks in by_section(chunks):
        *most, last = section_chunks
        assert all(count_tokens(chunk.text) <= chunk_tokens for chunk in most)
        assert count_tokens(last.text) <= chunk_tokens * (1 + SMALL_TAIL)
        for chunk in section_chunks:
            # a sentence can be longer than 20 tokens and then be cut; else chunks start at a sentence or heading
            starts_sentence = chunk.text.startswith("Sentence ") or chunk.text.split("\n\n", 1)[0] in headings
            assert starts_sentence or chunk_tokens == 20
        for previous, chunk in itertools.pairwise(section_chunks):
            assert previous.start < chunk.start
            shared = count_tokens(full_text(doc)[chunk.start : previous.end]) if chunk.start < previous.end else 0
            assert shared <= overlap * chunk_tokens
            assert not full_text(doc)[previous.end : chunk.start].strip()  # nothing left out between chunks
    # every sentence is in a chunk
    for sentence in re.findall(r"Sentence \d+ [^.!?]*[.!?]", full_text(doc)):
        assert any(sentence in chunk.text for chunk in chunks) or chunk_tokens == 20


def test_overlap_repeats_the_previous_chunks_last_sentences() -> None:
    rng = random.Random(3)
    doc = load_document(" ".join(prose(rng, 300, shortest=2, longest=8)).encode(), "a.txt")
    chunks = chunk_document(doc, chunk_tokens=200, overlap=0.2)
    assert len(chunks) > 10
    for previous, chunk in itertools.pairwise(chunks):
        shared = previous.text[chunk.start - previous.start :]
        assert chunk.text.startswith(shared)
        assert shared.startswith("Sentence ")
        assert 0 < count_tokens(shared) <= 40
    no_overlap = chunk_document(doc, chunk_tokens=200, overlap=0)
    assert all(a.end < b.start for a, b in itertools.pairwise(no_overlap))
    assert len(no_overlap) < len(chunks)


def test_a_sentence_longer_than_a_chunk_is_cut_between_words() -> None:
    rng = random.Random(5)
    long = "Sentence 1 " + " ".join(rng.choices(WORDS, k=600)) + "."
    doc = load_document(f"Before it. {long} After it.".encode(), "a.txt")
    chunks = chunk_document(doc, chunk_tokens=100, overlap=0.2)
    text = full_text(doc)
    assert all(count_tokens(chunk.text) <= 100 for chunk in chunks[:-1])
    for chunk in chunks:
        assert chunk.start == 0 or text[chunk.start - 1] == " "  # begins a word
        assert chunk.end == len(text) or text[chunk.end] == " "  # ends one
    assert chunks[0].text.startswith("Before it. Sentence 1 ")
    assert chunks[-1].text.endswith(". After it.")
    assert all(a.start < b.start < a.end for a, b in itertools.pairwise(chunks))  # they still overlap


def test_abbreviations_and_decimals_do_not_end_sentences() -> None:
    text = " ".join(["The depth was 3.5 m, e.g. at the pier, and rose quickly after noon today."] * 2)
    chunks = chunk_document(load_document(text.encode(), "a.txt"), chunk_tokens=40, overlap=0)  # 29 tokens each
    assert [chunk.text for chunk in chunks] == [text[: len(text) // 2], text[len(text) // 2 + 1 :]]


def test_a_small_tail_joins_the_chunk_before_it() -> None:
    body = "The sea. " * 29 + "End."  # 29 sentences of 3 tokens then 2 tokens: 89 tokens
    [chunk] = chunk_document(load_document(body.encode(), "a.txt"), chunk_tokens=80, overlap=0)
    assert chunk.text == body
    # a tail of 12 tokens (15% of 80) or more is a chunk of its own
    assert len(chunk_document(load_document(("The sea. " * 30).encode(), "a.txt"), chunk_tokens=80, overlap=0)) == 2


def test_cjk_text_is_cut_at_its_full_stops() -> None:
    sentence = "潮汐是由月球引力引起的海水周期性涨落。"  # 19 tokens
    doc = load_document((sentence * 40).encode(), "tides.txt")
    chunks = chunk_document(doc, chunk_tokens=100, overlap=0.2)
    check_offsets_and_sections(doc, chunks)
    assert {chunk.text.count(sentence) * len(sentence) == len(chunk.text) for chunk in chunks} == {True}
    assert all(count_tokens(chunk.text) <= 100 for chunk in chunks)
    assert [chunk.text.count(sentence) for chunk in chunks[:2]] == [5, 5]  # 95 tokens each, one sentence shared
    assert chunks[1].start == chunks[0].end - len(sentence)


def test_pdf_chunks_stay_on_their_page(tmp_path: Path) -> None:
    rng = random.Random(11)
    pages = [[" ".join(prose(rng, 3, shortest=4, longest=7)) for _ in range(12)] for _ in range(3)]
    doc = load_document(write_pdf(tmp_path / "a.pdf", pages).read_bytes(), "a.pdf")
    chunks = chunk_document(doc, chunk_tokens=120)
    check_offsets_and_sections(doc, chunks)
    assert {chunk.page for chunk in chunks} == {1, 2, 3}
    assert all(chunk.text.startswith("Sentence ") for chunk in chunks)


# --- hierarchical ----------------------------------------------------------------------------------------------------


def test_hierarchical_children_are_cut_inside_their_parents() -> None:
    doc = markdown_document(seed=21)
    chunks = chunk_document(doc, chunk_tokens=40, hierarchical=True, parent_tokens=150)
    check_offsets_and_sections(doc, chunks)
    text = full_text(doc)
    parents = {chunk.parent for chunk in chunks}
    assert None not in parents
    assert len(parents) > len(doc.sections)  # some sections have several parents
    for chunk in chunks:
        assert chunk.parent is not None
        offset = text.find(chunk.parent)
        assert offset <= chunk.start
        assert chunk.end <= offset + len(chunk.parent)
        assert count_tokens(chunk.parent) <= 150 * (1 + SMALL_TAIL)
        assert count_tokens(chunk.text) <= 40 * (1 + SMALL_TAIL)
    # each parent is covered by its children, which are each shorter than it
    for parent in parents:
        assert parent is not None
        children = [chunk for chunk in chunks if chunk.parent == parent]
        assert children[0].text == parent[: len(children[0].text)]
        assert children[-1].text == parent[-len(children[-1].text) :]
    flat = chunk_document(doc, chunk_tokens=40)
    assert {chunk.parent for chunk in flat} == {None}


# --- arguments -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"chunk_tokens": 19}, "chunk_tokens"),
        ({"chunk_tokens": 8193}, "chunk_tokens"),
        ({"overlap": -0.1}, "overlap"),
        ({"overlap": 0.51}, "overlap"),
        ({"hierarchical": True, "chunk_tokens": 300, "parent_tokens": 300}, "parent_tokens"),
    ],
)
def test_arguments_out_of_range_are_refused(arguments: dict[str, int | float | bool], param: str) -> None:
    doc = load_document(b"Some text.", "a.txt")
    with pytest.raises(InvalidRequest) as raised:
        chunk_document(doc, **arguments)  # type: ignore[arg-type]  # the table mixes the arguments' types
    assert raised.value.param == param
