"""Citations: the prompt numbers passages, [n] in the answer resolves to its source, and weak hits are dropped."""

from __future__ import annotations

import pytest

from quarry.kb._answers import Answer, cited_numbers, relevant_hits, system_prompt
from quarry.kb._models import ChunkRecord, DocumentRecord, Hit, ScoredChunk
from quarry.kb._retrieval import keyword_text, reciprocal_rank_fusion


def _hit(n: int, *, keyword: float | None = None, vector: float | None = None, page: int | None = None) -> Hit:
    document = DocumentRecord(
        id=f"d{n}", source=f"/kb/doc{n}.pdf", name=f"doc{n}.pdf", content_hash="h", media_type="application/pdf"
    )
    chunk = ChunkRecord(
        id=f"c{n}", document_id=document.id, ordinal=0, text=f"Passage number {n}.", page=page, headings=("Intro",)
    )
    return Hit(chunk=chunk, document=document, score=1.0 / n, keyword_score=keyword, vector_score=vector)


@pytest.mark.parametrize(
    ("text", "count", "expected"),
    [
        ("Leave is 25 days [2]. Carry-over is capped [1][3].", 3, [2, 1, 3]),
        ("Both say so [1, 3] and again [3].", 3, [1, 3]),
        ("Out of range [7] and zero [0] are ignored [2].", 3, [2]),
        ("No citations here.", 3, []),
        ("Years like [2024] are not passages.", 3, []),
    ],
)
def test_cited_numbers(text: str, count: int, expected: list[int]) -> None:
    assert cited_numbers(text, count) == expected


def test_sources_resolve_each_citation() -> None:
    hits = [_hit(1, keyword=3.0, page=4), _hit(2, vector=0.8)]
    answer = Answer(text="It is in the second [2].", hits=hits)
    sources = answer.sources()
    assert [(s["n"], s["cited"], s["document"], s["page"]) for s in sources] == [
        (1, False, "doc1.pdf", 4),
        (2, True, "doc2.pdf", None),
    ]
    assert sources[1]["text"] == "Passage number 2."
    assert sources[1]["source"] == "/kb/doc2.pdf"
    assert answer.to_json()["citations"] == [2]


def test_system_prompt_numbers_passages_with_their_place() -> None:
    prompt = system_prompt("handbook", [_hit(1, page=4), _hit(2)])
    assert 'knowledge base "handbook"' in prompt
    assert "[1] (doc1.pdf, page 4, Intro)\nPassage number 1." in prompt
    assert "[2] (doc2.pdf, Intro)\nPassage number 2." in prompt


def test_relevance_keeps_keyword_matches_and_close_vectors() -> None:
    hits = [_hit(1, keyword=2.0, vector=0.1), _hit(2, vector=0.45), _hit(3, vector=0.2), _hit(4)]
    kept = relevant_hits(hits, 0.3)
    assert [hit.document.id for hit in kept] == ["d1", "d2", "d4"]  # d4: a managed KB's hit, judged by Bedrock


def test_keyword_text_drops_stopwords_unless_nothing_is_left() -> None:
    assert keyword_text("How do I turn on the WAL mode?") == "turn WAL mode"
    assert keyword_text("what is it") == "what is it"


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    keyword = [ScoredChunk("a", 9.0), ScoredChunk("b", 5.0), ScoredChunk("c", 1.0)]
    vector = [ScoredChunk("c", 0.9), ScoredChunk("b", 0.8), ScoredChunk("d", 0.7)]
    fused = reciprocal_rank_fusion([keyword, vector], k=60)
    # c (3rd and 1st) edges out b (2nd and 2nd); both beat what only one list found
    assert [chunk_id for chunk_id, _ in fused] == ["c", "b", "a", "d"]
    assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[1][1] == pytest.approx(2 / 62)


def test_weights_tilt_fusion_toward_one_list() -> None:
    keyword = [ScoredChunk("a", 9.0), ScoredChunk("b", 5.0)]
    vector = [ScoredChunk("b", 0.9), ScoredChunk("a", 0.8)]
    weighted = reciprocal_rank_fusion([keyword, vector], k=10, weights=[2.0, 1.0])
    assert [chunk_id for chunk_id, _ in weighted] == ["a", "b"]
    assert weighted[0][1] == pytest.approx(2 / 11 + 1 / 12)
