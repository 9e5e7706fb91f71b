"""An OpenAI Agents SDK app as a user writes it, unchanged for Quarry: the SDK's default model and client, pointed at
Quarry by OPENAI_BASE_URL and OPENAI_API_KEY alone (tracing off by OPENAI_AGENTS_DISABLE_TRACING). A triage agent
on the SDK's default model (an OpenAI name: Quarry's default Claude, which always thinks) hands the question to a
weather agent on another Claude, which must consult its function tool first. Runs it whole, then streamed, and prints
what each produced, as JSON, for tests/clients/test_agents_sdk.py."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from agents import Agent, ModelSettings, Runner, RunResult, RunResultStreaming, function_tool


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"It is sunny and 21 degrees in {city}."


weather_agent = Agent(
    name="Weather agent",
    instructions="Answer weather questions; always call get_weather first.",
    tools=[get_weather],
    # Forced once: the SDK resets tool_choice after the tool runs (reset_tool_choice), so the agent then answers.
    # Sonnet 4.5, since the newest Claude models refuse a forced tool.
    model="claude-sonnet-4-5",
    model_settings=ModelSettings(tool_choice="required"),
)
triage_agent = Agent(
    name="Triage agent",
    instructions="Hand weather questions to the weather agent.",
    handoffs=[weather_agent],
)


async def run(prompt: str, *, streamed: bool) -> dict[str, Any]:
    """One run, whole or streamed: what it produced."""
    events: list[str] = []
    result: RunResult | RunResultStreaming
    if streamed:
        result = Runner.run_streamed(triage_agent, prompt)
        events = [event.type async for event in result.stream_events()]
    else:
        result = await Runner.run(triage_agent, prompt)
    items = [
        {"kind": item.type, "agent": item.agent.name, "raw": json.loads(json.dumps(item.to_input_item(), default=str))}
        for item in result.new_items
    ]
    return {
        "final_output": result.final_output,
        "last_agent": result.last_agent.name,
        "items": items,
        "events": sorted(set(events)),
        "responses": [response.response_id for response in result.raw_responses],
    }


async def main(prompt: str) -> None:
    print(json.dumps({"whole": await run(prompt, streamed=False), "streamed": await run(prompt, streamed=True)}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
