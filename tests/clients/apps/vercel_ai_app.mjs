// A Vercel AI SDK app as a user writes it, unchanged for Quarry: createOpenAI({ baseURL, apiKey }) and openai(model),
// which is the Responses API in @ai-sdk/openai 2 and later. generateText and streamText, each with a tool round trip
// (the SDK runs the tool and sends its result back), with Claude's thinking on and off and with store on and off.
// Prints what the user's code sees, as JSON, for tests/clients/test_vercel_ai.py.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

const openai = createOpenAI({ baseURL: process.env.QUARRY_BASE_URL, apiKey: process.env.QUARRY_API_KEY });
const model = openai(process.env.QUARRY_MODEL);
const ran = [];
const tools = {
  get_weather: tool({
    description: "Current weather for a city.",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      ran.push(city);
      return { city, forecast: "sunny, 21 degrees" };
    },
  }),
};
// The AI SDK sends reasoning options only to models it knows reason; forceReasoning says this one does.
const thinking = (store) => ({
  openai: { forceReasoning: true, reasoningEffort: "low", reasoningSummary: "auto", store,
            ...(store ? {} : { include: ["reasoning.encrypted_content"] }) },
});
const steps = (result) => result.steps.map((step) => ({
  calls: step.toolCalls.map((call) => call.toolName),
  results: step.toolResults.map((r) => r.output),
  reasoning: step.reasoningText ?? null,
  text: step.text,
}));

const out = { plain: null, runs: [], ran };
const plain = await generateText({ model, prompt: "Say hello to the Vercel AI SDK." });
out.plain = { text: plain.text, finishReason: plain.finishReason, usage: plain.usage, warnings: plain.warnings };
for (const providerOptions of [undefined, thinking(true), thinking(false)]) {
  const options = { model, tools, stopWhen: stepCountIs(3), providerOptions };
  const whole = await generateText({ ...options, prompt: "Use get_weather for Paris." });
  out.runs.push({ kind: "generate", options: providerOptions ?? null, text: whole.text, steps: steps(whole),
                  warnings: whole.warnings });
  const errors = [];
  const streamed = streamText({ ...options, prompt: "Use get_weather for Oslo.", onError: ({ error }) => errors.push(String(error)) });
  const parts = {};
  for await (const part of streamed.fullStream) parts[part.type] = (parts[part.type] ?? 0) + 1;
  out.runs.push({ kind: "stream", options: providerOptions ?? null, text: await streamed.text,
                  steps: steps({ steps: await streamed.steps }), parts, errors });
}
console.log(JSON.stringify(out));
