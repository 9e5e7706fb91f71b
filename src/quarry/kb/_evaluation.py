"""Scoring retrieval against a labelled set of questions: recall@5, MRR and nDCG@10 per search mode.

An evaluation set is a JSON file of questions, each with the documents that answer it and a grade
(2 = answers it, 1 = related), next to a `corpus/` folder holding those documents. Searches return document
names in rank order; several chunks of one document count as that document once, at its best rank.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quarry.errors import InvalidRequest, NotFound

__all__ = [
    "EvalSet",
    "Question",
    "QuestionResult",
    "Scores",
    "distinct",
    "evaluate",
    "format_report",
    "load_eval_set",
    "ndcg_at",
    "recall_at",
    "reciprocal_rank",
]

RECALL_K = 5
NDCG_K = 10


def distinct(ranked_docs: Sequence[str]) -> list[str]:
    """Document names in rank order, each once, where it first appears."""
    return list(dict.fromkeys(ranked_docs))


def _relevant(relevant: Mapping[str, int]) -> set[str]:
    found = {doc for doc, grade in relevant.items() if grade >= 1}
    if not found:
        raise InvalidRequest("a question needs at least one relevant document (grade 1 or more)")
    return found


def recall_at(ranked_docs: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """The share of the relevant documents (grade ≥ 1) found in the first k distinct documents."""
    wanted = _relevant(relevant)
    return len(wanted.intersection(distinct(ranked_docs)[:k])) / len(wanted)


def reciprocal_rank(ranked_docs: Sequence[str], relevant: Mapping[str, int]) -> float:
    """1 / the rank of the first relevant document, 0 when none is found."""
    wanted = _relevant(relevant)
    return next((1 / rank for rank, doc in enumerate(distinct(ranked_docs), 1) if doc in wanted), 0.0)


def ndcg_at(ranked_docs: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    """Normalised discounted cumulative gain of the first k distinct documents: the gain is the grade,
    discounted by log2(rank + 1), over the same sum for the best possible ranking of the graded documents."""
    _relevant(relevant)
    gains = [relevant.get(doc, 0) for doc in distinct(ranked_docs)[:k]]
    ideal = sorted((grade for grade in relevant.values() if grade > 0), reverse=True)[:k]
    return _dcg(gains) / _dcg(ideal)


def _dcg(gains: Sequence[int]) -> float:
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, 1))


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    question: str
    relevant: Mapping[str, int]  # document name -> grade: 2 answers the question, 1 is related


@dataclass(frozen=True, slots=True)
class EvalSet:
    name: str
    questions: tuple[Question, ...]
    corpus: Path  # the folder holding the documents the questions are labelled with

    @property
    def documents(self) -> frozenset[str]:
        """Every document some question is labelled with."""
        return frozenset(doc for question in self.questions for doc in question.relevant)


def load_eval_set(path: Path) -> EvalSet:
    """Read and check an evaluation set: a questions JSON file, or a folder holding `questions.json`."""
    if path.is_dir():
        path = path / "questions.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"no evaluation set at {path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidRequest(f"{path}: expected an object with 'name' and 'questions'")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"{path}: 'name' must be a non-empty string")
    items = data.get("questions")
    if not isinstance(items, list) or not items:
        raise InvalidRequest(f"{path}: 'questions' must be a non-empty list")
    questions: list[Question] = []
    seen: set[str] = set()
    for index, item in enumerate(items, 1):
        question = _question(item, f"question #{index}")
        if question.id in seen:
            raise InvalidRequest(f"question {question.id}: the id is used twice")
        seen.add(question.id)
        questions.append(question)
    eval_set = EvalSet(name=name, questions=tuple(questions), corpus=path.parent / "corpus")
    if eval_set.corpus.is_dir():
        for question in eval_set.questions:
            missing = sorted(doc for doc in question.relevant if not (eval_set.corpus / doc).is_file())
            if missing:
                raise InvalidRequest(f"question {question.id}: not in {eval_set.corpus}: {', '.join(missing)}")
    return eval_set


def _question(item: Any, where: str) -> Question:
    if not isinstance(item, dict):
        raise InvalidRequest(f"{where}: expected an object with 'id', 'question' and 'relevant'")
    qid = item.get("id")
    if not isinstance(qid, str) or not qid:
        raise InvalidRequest(f"{where}: 'id' must be a non-empty string")
    text = item.get("question")
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest(f"question {qid}: 'question' must be a non-empty string")
    relevant = item.get("relevant")
    if not isinstance(relevant, dict) or not relevant:
        raise InvalidRequest(f"question {qid}: 'relevant' must map document names to grades")
    for doc, grade in relevant.items():
        # bool is an int to Python, but `true` in the file is a labelling slip, not a grade
        if not doc or isinstance(grade, bool) or not isinstance(grade, int) or grade < 0:
            raise InvalidRequest(f"question {qid}: {doc!r} needs a grade that is a whole number ≥ 0, not {grade!r}")
    if not any(grade >= 1 for grade in relevant.values()):
        raise InvalidRequest(f"question {qid}: no document has a grade of 1 or more")
    return Question(id=qid, question=text, relevant=dict(relevant))


@dataclass(frozen=True, slots=True)
class QuestionResult:
    """How one search mode did on one question."""

    question: Question
    ranked: tuple[str, ...]  # the first NDCG_K distinct documents the search returned
    recall_at_5: float
    reciprocal_rank: float
    ndcg_at_10: float

    @property
    def missed(self) -> bool:
        """No relevant document among the first five."""
        return self.recall_at_5 == 0.0


@dataclass(frozen=True, slots=True)
class Scores:
    """One search mode's means over the set, and what they are the mean of."""

    recall_at_5: float
    mrr: float
    ndcg_at_10: float
    questions: tuple[QuestionResult, ...]

    @property
    def misses(self) -> tuple[QuestionResult, ...]:
        return tuple(result for result in self.questions if result.missed)


async def evaluate(
    eval_set: EvalSet, search: Callable[[str, str], Awaitable[list[str]]], modes: Sequence[str]
) -> dict[str, Scores]:
    """Ask every question in every mode; `search(mode, question)` returns document names, best first."""
    if not modes or len(set(modes)) != len(modes):
        raise InvalidRequest("name one or more search modes, each once")
    results: dict[str, Scores] = {}
    for mode in modes:
        # one question at a time: the store and embedding endpoint see no contention, so modes compare fairly
        per_question = [_score(question, await search(mode, question.question)) for question in eval_set.questions]
        count = len(per_question)
        results[mode] = Scores(
            recall_at_5=sum(r.recall_at_5 for r in per_question) / count,
            mrr=sum(r.reciprocal_rank for r in per_question) / count,
            ndcg_at_10=sum(r.ndcg_at_10 for r in per_question) / count,
            questions=tuple(per_question),
        )
    return results


def _score(question: Question, ranked_docs: Sequence[str]) -> QuestionResult:
    ranked = distinct(ranked_docs)
    return QuestionResult(
        question=question,
        ranked=tuple(ranked[:NDCG_K]),
        recall_at_5=recall_at(ranked, question.relevant, RECALL_K),
        reciprocal_rank=reciprocal_rank(ranked, question.relevant),
        ndcg_at_10=ndcg_at(ranked, question.relevant, NDCG_K),
    )


def format_report(results: Mapping[str, Scores], *, misses: bool = False) -> str:
    """A table of each mode's scores; with `misses`, then each mode's questions with nothing relevant in its top 5."""
    width = max([len("mode"), *(len(mode) for mode in results)])
    lines = [f"{'mode':<{width}}  recall@5     MRR  nDCG@10"]
    for mode, scores in results.items():
        lines.append(f"{mode:<{width}}  {scores.recall_at_5:8.3f}  {scores.mrr:6.3f}  {scores.ndcg_at_10:7.3f}")
    counts = {len(scores.questions) for scores in results.values()}
    if len(counts) == 1:
        lines.append(f"{counts.pop()} questions")
    if misses:
        for mode, scores in results.items():
            lines.append("")
            lines.append(f"{mode}: {len(scores.misses)} questions with nothing relevant in the top {RECALL_K}")
            lines.extend(f"  {r.question.id}  {r.question.question}" for r in scores.misses)
    return "\n".join(lines)
