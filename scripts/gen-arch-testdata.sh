#!/usr/bin/env bash
# gen-arch-testdata.sh — regenerates engine/model/testdata/arch: the tiny
# random-weight test models of the newer architectures (kiln synth,
# deterministic) and their llama.cpp references (F32 K/V, 1 thread).
# Needs a llama.cpp build (headers and shared libraries); the reference
# program engine/model/testdata/arch/ref_arch.c is compiled against it:
#   LLAMACPP=/work/llamacpp-archs scripts/gen-arch-testdata.sh
# where $LLAMACPP has include/ (llama.h), ggml-include/ (ggml headers) and lib/.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LLAMACPP:?set LLAMACPP to a llama.cpp build (include/, ggml-include/, lib/)}"
out=engine/model/testdata/arch
tmp=$(mktemp -d)
kiln=$tmp/kiln ref=$tmp/ref_arch
go build -o "$kiln" .
cc -O1 -o "$ref" "$out/ref_arch.c" -I"$LLAMACPP/include" -I"$LLAMACPP/ggml-include" -L"$LLAMACPP/lib" \
  -lllama -lggml -lggml-base -lm -Wl,-rpath,"$LLAMACPP/lib"
prompts=("Once upon a time" "The quick brown fox jumps over the lazy dog." "Hello"
  "a small cat sat by the warm fire, and the rain fell on the roof all night long while we slept")
for p in tiny-qwen3 tiny-gemma2 tiny-gemma3 tiny-phi3 tiny-qwen3moe tiny-qwen2moe tiny-mixtral; do
  "$kiln" synth --preset "$p" --type f16 --seed 4001 -o "$out/$p-f16.gguf"
  "$ref" "$out/$p-f16.gguf" "$out/$p-f16.ref-kvf32.json" "$out/$p-f16.logits-kvf32.bin" "${prompts[@]}" 2>/dev/null
done
