"""CPU per streamed event: the Responses API's EventWriter against the chat dialect's ChunkWriter, rendering the same
ConverseStream events (a text answer of N deltas), in-process, so only the rendering differs.

    PYTHONPATH=src python bench/responses_events_cpu.py [--deltas 2000] [--rounds 20]

Prints one JSON line: microseconds of CPU per upstream event for each (best of the rounds), and bytes per event.
The relay, the socket and the upstream's decoding are the same for both dialects and are not counted here.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from quarry.api.openai._render import ChunkWriter
from quarry.api.openai._request import ChatPlan
from quarry.api.responses._render import Builder
from quarry.api.responses._request import ResponsePlan
from quarry.api.responses._schemas import ResponsesRequest
from quarry.api.responses._sealing import Sealer
from quarry.api.responses._stream import EventWriter
from quarry.bedrock import ConverseStreamEvent, ResolvedModel, facts_for

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def events(deltas: int) -> list[ConverseStreamEvent]:
    made: list[ConverseStreamEvent] = [{"messageStart": {"role": "assistant"}}]
    made += [{"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "word "}}} for _ in range(deltas)]
    made += [
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"messageStop": {"stopReason": "end_turn"}},
        {"metadata": {"usage": {"inputTokens": 10, "outputTokens": deltas, "totalTokens": deltas + 10}}},
    ]
    return made


def chat_round(stream: list[ConverseStreamEvent], model: ResolvedModel) -> tuple[float, int]:
    plan = ChatPlan(model=model, body={}, json_tool=None, json_text=False)
    start = time.process_time()
    writer = ChunkWriter(plan, include_usage=True)
    size = sum(len(line) for event in stream for line in writer.event(event)) + len(b"data: [DONE]\n\n")
    return time.process_time() - start, size


def responses_round(stream: list[ConverseStreamEvent], model: ResolvedModel, sealer: Sealer) -> tuple[float, int]:
    request = ResponsesRequest.model_validate({"model": MODEL, "input": "x", "stream": True})
    plan = ResponsePlan(model=model, body={}, json_tool=None, json_text=False)
    start = time.process_time()
    writer = EventWriter(Builder(request, plan, sealer), encrypted=False)
    size = sum(len(line) for event in stream for line in writer.event(event)) + len(writer.finish())
    return time.process_time() - start, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deltas", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    model = ResolvedModel(requested=MODEL, id=MODEL, facts=facts_for(MODEL))
    sealer = Sealer(b"\x00" * 32, "bench")
    stream = events(args.deltas)
    results: dict[str, Any] = {"events": len(stream)}
    for name, run in (
        ("chat", lambda: chat_round(stream, model)),
        ("responses", lambda: responses_round(stream, model, sealer)),
    ):
        timings = [run() for _ in range(args.rounds)]
        best = min(t for t, _ in timings)
        results[f"{name}_us_per_event"] = round(best / len(stream) * 1e6, 2)
        results[f"{name}_bytes_per_event"] = round(timings[0][1] / len(stream), 1)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
