#!/usr/bin/env bash
# gen-arch-testdata.sh — regenerates engine/model/testdata/arch: the tiny
# random-weight test models of the newer architectures (kiln synth,
# deterministic) and their llama.cpp references (F32 K/V, 1 thread).
# Needs a llama.cpp build with tools/ref_arch (see that directory's README):
#   LLAMACPP=/work/llamacpp-archs scripts/gen-arch-testdata.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LLAMACPP:?set LLAMACPP to the llama.cpp build holding tools/ref_arch}"
out=engine/model/testdata/arch
kiln=$(mktemp -d)/kiln
go build -o "$kiln" .
prompts=("Once upon a time" "The quick brown fox jumps over the lazy dog." "Hello"
  "a small cat sat by the warm fire, and the rain fell on the roof all night long while we slept")
for p in tiny-qwen3 tiny-gemma2 tiny-gemma3 tiny-phi3; do
  "$kiln" synth --preset "$p" --type f16 --seed 4001 -o "$out/$p-f16.gguf"
  "$LLAMACPP/tools/ref_arch" "$out/$p-f16.gguf" "$out/$p-f16.ref-kvf32.json" "$out/$p-f16.logits-kvf32.bin" "${prompts[@]}" 2>/dev/null
done
