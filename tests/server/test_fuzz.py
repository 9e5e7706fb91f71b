"""Schemathesis over the published schema (issue 23): every operation of `/openapi.json`, called with the bootstrap
key against `quarry serve` on the offline emulator, answers no 5xx, and every answer has the status, content type
and body the schema publishes. Bounded (a few examples per operation, no shrinking) and deterministic (a fixed seed),
so CI runs the same cases every time; it takes about two minutes on CI's two cores.

Run it alone: `pytest tests/server/test_fuzz.py` (docs/contributing.md, "The fuzz test")."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import offline_environment

KEY = "sk-fuzz-bootstrap"
AUTH = {"Authorization": f"Bearer {KEY}"}
KNOWLEDGE_BASE = "fuzz"  # made before the run, with one document, so its routes are reached past the 404
DOCUMENT = "notes.md"
# Real model names, so bodies reach the translation core and the emulator instead of stopping at a 404.
MODELS = [
    "gpt-4o-mini",
    "claude-sonnet-4-5",
    "anthropic.claude-3-haiku-20240307-v1:0",
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "meta.llama3-8b-instruct-v1:0",
    "mistral.mistral-7b-instruct-v0:2",
    "amazon.nova-pro-v1:0",
    "amazon.titan-embed-text-v2:0",
    "cohere.embed-english-v3",
    f"kb:{KNOWLEDGE_BASE}",
]
MAX_EXAMPLES = 10  # per operation and phase: about two minutes for the 51 operations on two cores
SEED = 23


class Served:
    def __init__(self, url: str, log: Path) -> None:
        self.url = url
        self.log = log


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`quarry serve` with a bootstrap key over the in-process emulator; its log (access lines too) in a file, which
    nothing has to drain while the fuzzer runs."""
    folder = tmp_path_factory.mktemp("fuzz")
    log = folder / "serve.log"
    env = offline_environment(folder) | {"QUARRY_API_KEY": KEY}
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "quarry", "serve", "--port", "0"], stdout=output, stderr=subprocess.STDOUT, env=env
        )
    try:
        deadline = time.monotonic() + 60
        while not (match := re.search(r"Quarry (http://127\.0\.0\.1:\d+)", log.read_text())):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield Served(match.group(1), log)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _seed(url: str) -> dict[str, str]:
    """What the fuzzer's path parameters name: a knowledge base with a document, and two conversations (one for the
    DELETE operation to remove, so the other stays for the rest)."""
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:
        client.post("/v1/knowledge-bases", json={"name": KNOWLEDGE_BASE}).raise_for_status()
        files = {"file": (DOCUMENT, b"# Notes\n\nQuarry keeps its notes here, about rivers and stone.\n")}
        client.post(f"/v1/knowledge-bases/{KNOWLEDGE_BASE}/documents", files=files).raise_for_status()
        kept, doomed = (client.post("/v1/toolbox/conversations", json={}).json()["id"] for _ in range(2))
    return {"kept": kept, "doomed": doomed}


# The run's settings (schemathesis.toml's format). Checks: no 5xx, and every answer's status, content type and body
# as published. One worker: the calls come in the same order on every run, and Python 3.11's `ast` module, which
# Hypothesis uses from each worker thread, is not thread-safe (two workers failed runs with "AST constructor recursion
# depth mismatch"). Stateful testing (chains of calls through links) is off: the schema publishes no links, and the
# operations' own phases take the time budget. Deleting runs among the other operations, so it is pointed at things
# of its own: the knowledge base and conversation the others name stay (its first call deletes, later ones 404).
CONFIG = """
seed = {seed}
workers = 1
max-failures = 20
headers = {{ Authorization = "Bearer {key}" }}
cache.enabled = false

[generation]
max-examples = {max_examples}
no-shrink = true
database = "none"
with-security-parameters = false  # every call carries the bootstrap key from `headers`, none a generated one

[phases.stateful]
enabled = false

[checks]
enabled = false
not_a_server_error.enabled = true
status_code_conformance.enabled = true
content_type_conformance.enabled = true
response_schema_conformance.enabled = true

[parameters]
name = "{kb}"
document = "{document}"
conversation_id = "{kept}"
model_id = "{model}"
"body.model" = {{ dictionary = "models", probability = 0.9 }}

[dictionaries.models]
values = {models}

# The chat routes' generated bodies mostly stop at validation (a history must start with a user turn, …): in the
# fuzzing phase they get schema-valid bodies only, and three times as many, so some reach the core and the emulator
# (the coverage phase still sends them every invalid field).
[[operations]]
include-path-regex = "/(chat/completions|messages)$"
phases.fuzzing.generation = {{ mode = "positive", max-examples = 30 }}

[[operations]]
include-method = "DELETE"
parameters = {{ name = "fuzz-scratch", conversation_id = "{doomed}", document = "{document}" }}
"""


def _findings(report: str) -> str:
    """What schemathesis found (its failures and errors, each with a curl line to reproduce it) and its summary,
    without the warnings and progress between them."""
    sections = re.split(r"\n(?==+ [A-Z]+ =+\n)", report)
    kept = [section for section in sections if re.match(r"=+ (FAILURES|ERRORS|SUMMARY) =+", section)]
    return "\n".join(section if len(section) < 8000 else section[:4000] + "\n…\n" + section[-4000:] for section in kept)


def test_every_operation_answers_as_published_and_never_a_server_error(served: Served, tmp_path: Path) -> None:
    ids = _seed(served.url)
    config = tmp_path / "schemathesis.toml"
    models = "[" + ", ".join(f'"{model}"' for model in MODELS) + "]"
    settings = {"seed": SEED, "key": KEY, "max_examples": MAX_EXAMPLES, "kb": KNOWLEDGE_BASE, "document": DOCUMENT}
    config.write_text(CONFIG.format(**settings, model=MODELS[2], models=models, **ids))
    st = str(Path(sys.executable).with_name("st"))
    run = subprocess.run(
        [st, "--config-file", str(config), "run", "--no-color", f"{served.url}/openapi.json"],
        cwd=tmp_path,  # whatever schemathesis writes stays out of the tree
        capture_output=True,
        text=True,
        timeout=600,
    )
    (tmp_path / "schemathesis.out").write_text(run.stdout + run.stderr)  # the whole report, kept with the test's files
    assert run.returncode == 0, _findings(run.stdout) + run.stderr[-5000:]
    # Every published operation ran (none was skipped for a schema it could not read).
    selected = re.search(r"Selected: (\d+)/(\d+)", run.stdout)
    assert selected is not None, run.stdout[-5000:]
    assert selected.group(1) == selected.group(2), run.stdout[-5000:]
    assert f"Tested: {selected.group(2)}" in run.stdout, run.stdout[-5000:]


def test_the_server_logged_no_error(served: Served) -> None:
    """After the run above (same module, so same server): nothing failed inside, not even in a stream whose 200 had
    already gone out, and the access log has no 5xx."""
    log = served.log.read_text()
    assert '"status":200' in log  # the fuzzer's calls were logged, so their absence below means something
    assert re.findall(r'"status":5\d\d', log) == []
    assert re.findall(r'"level":"(?:error|critical)".*', log) == []
