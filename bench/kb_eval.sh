#!/usr/bin/env bash
# Retrieval quality on the labelled SQLite-documentation set (eval/sqlite-docs): recall@5, MRR and nDCG@10 for
# keyword (BM25), vector and hybrid search, with the offline emulator's embeddings by default.
#   bench/kb_eval.sh                      # emulator embeddings, in a throwaway data dir
#   QUARRY_BACKEND=bedrock bench/kb_eval.sh   # Titan Text Embeddings v2 on Amazon Bedrock (needs AWS credentials)
set -euo pipefail
cd "$(dirname "$0")/.."
export QUARRY_DATA_DIR="${QUARRY_DATA_DIR:-$(mktemp -d)}"
export QUARRY_BACKEND="${QUARRY_BACKEND:-emulator}"
quarry=".venv/bin/quarry"
$quarry kb create sqlite-docs >/dev/null 2>&1 || true
$quarry kb ingest sqlite-docs eval/sqlite-docs/corpus
$quarry kb eval sqlite-docs eval/sqlite-docs/questions.json --misses
