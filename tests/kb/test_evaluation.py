"""The retrieval metrics on hand-worked rankings, the evaluation-set loader, and the repository's own set."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from quarry.errors import InvalidRequest, NotFound
from quarry.kb._evaluation import (
    EvalSet,
    Question,
    distinct,
    evaluate,
    format_report,
    load_eval_set,
    ndcg_at,
    recall_at,
    reciprocal_rank,
)

REPO_SET = Path(__file__).parents[2] / "eval" / "sqlite-docs"
LOG2_3 = math.log2(3)


@pytest.mark.parametrize(
    ("ranked", "relevant", "k", "expected"),
    [
        (["a", "b", "c"], {"a": 1}, 5, 1.0),
        (["x", "y", "a"], {"a": 2, "b": 1}, 5, 0.5),
        (["x", "y", "a"], {"a": 2}, 2, 0.0),  # found, but below the cut
        (["a", "b", "x"], {"a": 1, "b": 1, "c": 1, "d": 1}, 5, 0.5),
        ([], {"a": 1}, 5, 0.0),
        (["a", "b"], {"a": 0, "b": 1}, 5, 1.0),  # grade 0 is labelled, not relevant: it is not in the denominator
    ],
)
def test_recall_at(ranked: list[str], relevant: dict[str, int], k: int, expected: float) -> None:
    assert recall_at(ranked, relevant, k) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("ranked", "relevant", "expected"),
    [
        (["a", "b"], {"a": 1}, 1.0),
        (["x", "a"], {"a": 1}, 0.5),
        (["x", "y", "z", "b", "a"], {"a": 2, "b": 1}, 0.25),  # the first relevant counts, whatever its grade
        (["x", "y"], {"a": 1}, 0.0),
        (["a", "b"], {"a": 0, "b": 2}, 0.5),
    ],
)
def test_reciprocal_rank(ranked: list[str], relevant: dict[str, int], expected: float) -> None:
    assert reciprocal_rank(ranked, relevant) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("ranked", "relevant", "k", "expected"),
    [
        (["a", "b"], {"a": 2, "b": 1}, 10, 1.0),  # already the ideal order
        # DCG = 1 + 2/log2(3); ideal = 2 + 1/log2(3)
        (["b", "a"], {"a": 2, "b": 1}, 10, (1 + 2 / LOG2_3) / (2 + 1 / LOG2_3)),
        # DCG = 2/log2(3) + 1/log2(4) = 2/log2(3) + 0.5; ideal = 2 + 1/log2(3)
        (["x", "a", "b"], {"a": 2, "b": 1}, 10, (2 / LOG2_3 + 0.5) / (2 + 1 / LOG2_3)),
        (["x", "a", "b"], {"a": 2, "b": 1}, 1, 0.0),
        # the ideal is cut at k too: one relevant at rank 1 of k=1 is perfect although two are labelled
        (["a", "x"], {"a": 1, "b": 1}, 1, 1.0),
        (["c", "a"], {"a": 1, "c": 0}, 10, 1 / LOG2_3),
        ([], {"a": 1}, 10, 0.0),
    ],
)
def test_ndcg_at(ranked: list[str], relevant: dict[str, int], k: int, expected: float) -> None:
    assert ndcg_at(ranked, relevant, k) == pytest.approx(expected)


def test_chunks_of_one_document_count_once_at_their_best_rank() -> None:
    ranked = ["x", "x", "x", "x", "x", "a", "a", "b"]
    assert distinct(ranked) == ["x", "a", "b"]
    assert recall_at(ranked, {"a": 1, "b": 1}, 5) == 1.0  # without collapsing both would fall below rank 5
    assert reciprocal_rank(ranked, {"b": 1}) == pytest.approx(1 / 3)
    assert ndcg_at(ranked, {"a": 1}, 10) == pytest.approx(1 / LOG2_3)


@pytest.mark.parametrize("metric", [lambda r, g: recall_at(r, g, 5), reciprocal_rank, lambda r, g: ndcg_at(r, g, 10)])
def test_metrics_refuse_a_question_with_nothing_relevant(metric: Any) -> None:
    with pytest.raises(InvalidRequest, match="at least one relevant"):
        metric(["a"], {"a": 0})


def write_set(folder: Path, questions: Any, name: Any = "tiny", corpus: tuple[str, ...] = ()) -> Path:
    path = folder / "questions.json"
    path.write_text(json.dumps({"name": name, "questions": questions}))
    if corpus:
        (folder / "corpus").mkdir()
        for doc in corpus:
            (folder / "corpus" / doc).write_text("<p>text</p>")
    return path


def test_load_eval_set_from_a_file_or_its_folder(tmp_path: Path) -> None:
    questions = [
        {"id": "q1", "question": "how do I vacuum?", "relevant": {"vacuum.html": 2, "pragma.html": 1}},
        {"id": "q2", "question": "wal", "relevant": {"wal.html": 1}, "note": "extra keys are kept out of the way"},
    ]
    path = write_set(tmp_path, questions, corpus=("vacuum.html", "pragma.html", "wal.html"))
    for where in (path, tmp_path):
        eval_set = load_eval_set(where)
        assert eval_set.name == "tiny"
        assert eval_set.corpus == tmp_path / "corpus"
        assert [q.id for q in eval_set.questions] == ["q1", "q2"]
        assert eval_set.questions[0].relevant == {"vacuum.html": 2, "pragma.html": 1}
        assert eval_set.documents == {"vacuum.html", "pragma.html", "wal.html"}


@pytest.mark.parametrize(
    ("questions", "message"),
    [
        ([], "'questions' must be a non-empty list"),
        ({"id": "q1"}, "'questions' must be a non-empty list"),
        (["how?"], r"question #1: expected an object"),
        ([{"question": "how?", "relevant": {"a.html": 1}}], r"question #1: 'id' must be"),
        ([{"id": "q7", "question": " ", "relevant": {"a.html": 1}}], r"question q7: 'question' must be"),
        ([{"id": "q7", "question": "how?"}], r"question q7: 'relevant' must map"),
        ([{"id": "q7", "question": "how?", "relevant": {}}], r"question q7: 'relevant' must map"),
        ([{"id": "q7", "question": "how?", "relevant": ["a.html"]}], r"question q7: 'relevant' must map"),
        ([{"id": "q7", "question": "how?", "relevant": {"a.html": "2"}}], r"question q7: 'a.html' needs a grade"),
        ([{"id": "q7", "question": "how?", "relevant": {"a.html": 1.5}}], r"question q7: 'a.html' needs a grade"),
        ([{"id": "q7", "question": "how?", "relevant": {"a.html": -1}}], r"question q7: 'a.html' needs a grade"),
        ([{"id": "q7", "question": "how?", "relevant": {"a.html": True}}], r"question q7: 'a.html' needs a grade"),
        ([{"id": "q7", "question": "how?", "relevant": {"a.html": 0}}], r"question q7: no document has a grade"),
        (
            [
                {"id": "q1", "question": "how?", "relevant": {"a.html": 1}},
                {"id": "q1", "question": "why?", "relevant": {"a.html": 1}},
            ],
            r"question q1: the id is used twice",
        ),
    ],
)
def test_load_eval_set_says_which_question_is_wrong(tmp_path: Path, questions: Any, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        load_eval_set(write_set(tmp_path, questions))


def test_load_eval_set_checks_labelled_documents_against_the_corpus(tmp_path: Path) -> None:
    questions = [{"id": "q3", "question": "how?", "relevant": {"a.html": 2, "b.html": 1, "c.html": 1}}]
    with pytest.raises(InvalidRequest, match=r"question q3: not in .*corpus: b\.html, c\.html"):
        load_eval_set(write_set(tmp_path, questions, corpus=("a.html",)))


@pytest.mark.parametrize(("content", "message"), [("{not json", "not valid JSON"), ("[1, 2]", "expected an object")])
def test_load_eval_set_rejects_what_is_not_an_eval_set(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "questions.json").write_text(content)
    with pytest.raises(InvalidRequest, match=message):
        load_eval_set(tmp_path)


def test_load_eval_set_needs_a_name(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="'name' must be"):
        load_eval_set(write_set(tmp_path, [{"id": "q", "question": "?", "relevant": {"a": 1}}], name=""))


def test_load_eval_set_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no evaluation set"):
        load_eval_set(tmp_path / "nowhere.json")


def tiny_set() -> EvalSet:
    return EvalSet(
        name="tiny",
        questions=(
            Question("q1", "write-ahead log", {"wal.html": 2, "pragma.html": 1}),
            Question("q2", "vacuum", {"vacuum.html": 2}),
        ),
        corpus=Path("corpus"),
    )


async def test_evaluate_scores_each_mode_and_keeps_each_question() -> None:
    answers = {
        ("good", "write-ahead log"): ["wal.html", "wal.html", "pragma.html"],
        ("good", "vacuum"): ["vacuum.html"],
        ("poor", "write-ahead log"): ["x", "y", "z", "w", "v", "pragma.html", "wal.html"],
        ("poor", "vacuum"): ["x", "vacuum.html"],
    }
    asked: list[tuple[str, str]] = []

    async def search(mode: str, question: str) -> list[str]:
        asked.append((mode, question))
        return answers[mode, question]

    results = await evaluate(tiny_set(), search, ["good", "poor"])

    assert asked == list(answers)
    assert list(results) == ["good", "poor"]
    good, poor = results["good"], results["poor"]
    assert (good.recall_at_5, good.mrr, good.ndcg_at_10) == (1.0, 1.0, 1.0)
    assert poor.recall_at_5 == pytest.approx((0 + 1) / 2)
    assert poor.mrr == pytest.approx((1 / 6 + 1 / 2) / 2)
    ideal_q1 = 2 + 1 / LOG2_3
    assert poor.ndcg_at_10 == pytest.approx(((1 / math.log2(7) + 2 / math.log2(8)) / ideal_q1 + 1 / LOG2_3) / 2)
    assert [r.question.id for r in poor.misses] == ["q1"]
    assert good.misses == ()
    assert good.questions[0].ranked == ("wal.html", "pragma.html")


@pytest.mark.parametrize("modes", [[], ["bm25", "bm25"]])
async def test_evaluate_needs_distinct_modes(modes: list[str]) -> None:
    async def search(mode: str, question: str) -> list[str]:
        return []

    with pytest.raises(InvalidRequest, match="search modes"):
        await evaluate(tiny_set(), search, modes)


async def test_format_report_is_an_aligned_table_and_can_list_misses() -> None:
    async def search(mode: str, question: str) -> list[str]:
        return ["wal.html"] if mode == "hybrid" else ["vacuum.html"]

    results = await evaluate(tiny_set(), search, ["bm25", "hybrid"])
    report = format_report(results)
    assert report.splitlines() == [
        "mode    recall@5     MRR  nDCG@10",
        "bm25       0.500   0.500    0.500",
        "hybrid     0.250   0.500    0.380",  # q1: wal.html alone, 2 / (2 + 1/log2(3)) = 0.760; q2: nothing
        "2 questions",
    ]
    listed = format_report(results, misses=True)
    assert listed.startswith(report)
    assert "bm25: 1 questions with nothing relevant in the top 5\n  q1  write-ahead log" in listed
    assert "hybrid: 1 questions with nothing relevant in the top 5\n  q2  vacuum" in listed


def test_the_repository_eval_set() -> None:
    eval_set = load_eval_set(REPO_SET / "questions.json")  # also checks every labelled document is in corpus/
    assert eval_set.name == "sqlite-docs"
    assert len(eval_set.questions) >= 40
    corpus = {path.name for path in eval_set.corpus.iterdir()}
    assert eval_set.documents <= corpus
    assert all(name.endswith(".html") for name in corpus)
    assert len({q.question.strip().lower() for q in eval_set.questions}) == len(eval_set.questions)
    assert all(2 in q.relevant.values() for q in eval_set.questions), "every question has a page that answers it"
    assert (REPO_SET / "README.md").read_text().count("public domain") >= 1


def test_the_readme_example_is_a_valid_evaluation_set(tmp_path: Path) -> None:
    """The format as the README documents it is the format `kb eval` reads."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**`kb eval`**") :]
    start = section.index("```json\n") + len("```json\n")
    example = section[start : section.index("\n```", start)]
    path = tmp_path / "questions.json"
    path.write_text(example, encoding="utf-8")
    eval_set = load_eval_set(path)
    assert [question.id for question in eval_set.questions] == ["leave-1", "deploy-1"]
    assert eval_set.questions[1].relevant == {"deploy.html": 2, "oncall.txt": 1}
