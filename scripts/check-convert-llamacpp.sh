#!/usr/bin/env bash
# check-convert-llamacpp.sh — does llama.cpp read `kiln convert`'s output the
# way kiln does? For every architecture's tiny Hugging Face test directory
# (engine/hf's TestWriteArchDirs: llama, llama3-rope, qwen3, gemma2, gemma3,
# phi3, qwen3moe, qwen2moe, mixtral, and qwen3-unigram: qwen3 with a Unigram
# tokenizer.json, a GGUF "t5" vocabulary), convert it with `kiln convert`, then on
# the converted file:
#   1. llama.cpp's library (engine/model/testdata/arch/ref_arch.c: 1 thread,
#      F32 K/V) tokenizes four prompts, takes the last position's logits and
#      32 greedy tokens; kiln's TestExternalReference checks the same file
#      against them: prompt tokens equal, max |Δlogit| within tolerance,
#      greedy tokens equal;
#   2. llama.cpp's own example program, llama-simple (greedy, its default
#      context: F16 K/V, its thread count), and `kiln run --temp 0` (F16
#      K/V) continue each prompt by 32 tokens; the texts are compared
#      (bytes that are not UTF-8 as U+FFFD, which kiln prints for them;
#      trailing newlines ignored). The settings differ from step 1's, so a
#      near-tie may go either way: the column says how many of the four
#      texts are equal, and where the first difference starts. (llama-
#      completion, whose settings could match, loses the tail of its
#      output at random when stdout is not a terminal.)
# Each directory is converted under a neutral name (kiln-check-N, which
# becomes general.name): llama.cpp special-cases a general.name containing
# "phi3" and then requires the Phi-3 vocabulary's <unk>, <s>, </s> and
# <|endoftext|>, which the tiny models' byte-level test vocabulary lacks.
# Prints one line per architecture. Not part of CI (it needs a llama.cpp
# build, which is not kiln's).
#
#   LLAMACPP=/work/llamacpp LLAMACPP_BIN=/work/llamacpp/build/bin scripts/check-convert-llamacpp.sh [NAME...]
#
# LLAMACPP is a llama.cpp source tree (include/llama.h, ggml/include/);
# LLAMACPP_BIN holds its shared libraries and llama-simple. KILN_REF_TOL is
# the logit tolerance (default 1e-3). Exit status 1 if any check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LLAMACPP:?set LLAMACPP to a llama.cpp source tree}"
: "${LLAMACPP_BIN:=$LLAMACPP/build/bin}"
[ -x "$LLAMACPP_BIN/llama-simple" ] || { echo "check-convert: no llama-simple in $LLAMACPP_BIN" >&2; exit 2; }
command -v python3 >/dev/null || { echo "check-convert: needs python3" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
kiln=$tmp/kiln ref=$tmp/ref_arch
go build -o "$kiln" .
cc -O1 -o "$ref" engine/model/testdata/arch/ref_arch.c -I"$LLAMACPP/include" -I"$LLAMACPP/ggml/include" \
  -L"$LLAMACPP_BIN" -lllama -lggml -lggml-base -lm -Wl,-rpath,"$LLAMACPP_BIN"
KILN_WRITE_HF_DIRS=$tmp/hf go test -count=1 ./engine/hf/ -run '^TestWriteArchDirs$' >/dev/null

prompts=("Once upon a time" "The quick brown fox jumps over the lazy dog." "Hello"
  "a small cat sat by the warm fire, and the rain fell on the roof all night long while we slept")
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(llama llama3-rope qwen3 gemma2 gemma3 phi3 qwen3moe qwen2moe mixtral qwen3-unigram)

# firstdiff compares the continuations of llama-simple's output ($1) and
# kiln's ($2) for prompt $3, as UTF-8 (U+FFFD for invalid bytes), trailing
# newlines dropped. kiln prints the prompt as given and llama-simple as its
# tokens detokenize (a leading space for a unigram prompt's first "▁", its
# unknown characters as <unk>): where llama-simple's output does not start
# with the prompt, kiln's continuation is matched against its end.
# Prints "-" when equal, else where the continuations first differ
# (character/length).
firstdiff() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
a, b = (open(p, "rb").read().decode("utf-8", "replace").rstrip("\n") for p in sys.argv[1:3])
cont = b[len(sys.argv[3]):]
tail = a[max(len(a) - len(cont), 0):]
if a.lstrip(" ").startswith(sys.argv[3]):
    tail = a.lstrip(" ")[len(sys.argv[3]):]
i = next((i for i, (x, y) in enumerate(zip(cont, tail)) if x != y), min(len(cont), len(tail)))
print("-" if cont == tail else f"{i}/{len(cont)}")
PY
}

status=0 n=0
printf '%-12s %-8s %-10s %-12s %-8s %s\n' arch convert llama.cpp "max|Δlogit|" greedy "llama-simple texts equal (first difference: char/length)"
for name in "${names[@]}"; do
  n=$((n + 1))
  [ -d "$tmp/hf/$name" ] || { echo "check-convert: no test directory $name" >&2; status=1; continue; }
  dir=$tmp/kiln-check-$n out=$tmp/$name.gguf
  mv "$tmp/hf/$name" "$dir"
  if ! "$kiln" convert "$dir" -o "$out" >"$tmp/$name.convert.log" 2>&1; then
    printf '%-12s %-8s\n' "$name" FAILED; sed 's/^/  /' "$tmp/$name.convert.log"; status=1; continue
  fi
  if ! "$ref" "$out" "$tmp/$name.json" "$tmp/$name.bin" "${prompts[@]}" >"$tmp/$name.ref.log" 2>&1; then
    printf '%-12s %-8s %-10s\n' "$name" ok "NO LOAD"; grep -iE 'error|failed' "$tmp/$name.ref.log" | head -3 | sed 's/^/  /'; status=1; continue
  fi
  verdict=ok
  if ! KILN_REF_MODEL=$out KILN_REF_JSON=$tmp/$name.json KILN_REF_LOGITS=$tmp/$name.bin \
    go test -count=1 ./engine/model/ -run '^TestExternalReference$' -v >"$tmp/$name.kiln.log" 2>&1; then
    verdict=FAIL status=1
  fi
  maxd=$(grep -o 'max |Δlogit| = [0-9.e+-]*' "$tmp/$name.kiln.log" | awk '{if ($4 + 0 > m) m = $4 + 0} END {printf "%.2g", m}')
  greedy=$(grep -o 'greedy: [0-9]*/[0-9]*' "$tmp/$name.kiln.log" | awk -F'[ /]' '{a += $2; b += $3} END {print a "/" b}')
  equal=0 diffs=""
  for i in "${!prompts[@]}"; do
    "$LLAMACPP_BIN/llama-simple" -m "$out" -n 32 "${prompts[$i]}" >"$tmp/$name.$i.llama.txt" 2>/dev/null || true
    "$kiln" run -m "$out" -p "${prompts[$i]}" -n 32 --temp 0 -q >"$tmp/$name.$i.kiln.txt" 2>/dev/null || true
    d=$(firstdiff "$tmp/$name.$i.llama.txt" "$tmp/$name.$i.kiln.txt" "${prompts[$i]}")
    if [ "$d" = - ]; then equal=$((equal + 1)); else diffs="$diffs prompt$i@$d"; fi
  done
  texts="$equal/${#prompts[@]}$diffs"
  printf '%-12s %-8s %-10s %-12s %-8s %s\n' "$name" ok "$verdict" "$maxd" "$greedy" "$texts"
  [ "$verdict" = ok ] || grep -E 'token ids|greedy step|Δlogit.*>' "$tmp/$name.kiln.log" | head -4 | sed 's/^/  /'
done
exit $status
