-- wrk script: non-streaming Converse, a cross-check of `emulator_load.py converse`.
--   wrk -t1 -c32 -d10s -s bench/wrk_converse.lua http://127.0.0.1:8181
-- wrk only counts non-2xx answers (reported as non_2xx); it does not check the body like emulator_load.py does.

wrk.method = "POST"
wrk.path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
wrk.body = '{"messages":[{"role":"user","content":[{"text":"hello there"}]}],"inferenceConfig":{"maxTokens":64}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/bedrock/aws4_request, "
  .. "SignedHeaders=host, Signature=0"

-- One JSON line, like emulator_load.py (wrk reports times in microseconds).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"mode": "converse", "client": "wrk", "requests": %d, "duration_s": %.3f, "requests_per_s": %.1f, '
      .. '"latency_ms": {"p50": %.3f, "p99": %.3f}, "non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
