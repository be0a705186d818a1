#!/usr/bin/env bash
# compare-llamacpp.sh — kiln vs llama.cpp on the same GGUF file, side by side.
#
#   LLAMA_BENCH=/path/to/llama-bench scripts/compare-llamacpp.sh MODEL.gguf [options]
#     -p N      prompt tokens of the prefill test (default 512)
#     -n N      generated tokens of the decode test (default 64)
#     -t LIST   thread counts, space or comma separated (default "1 2")
#     -r N      rounds (default 3): each round runs kiln, then llama-bench, once
#               per thread count, so the two alternate (A/B/A/B) and share
#               whatever else the machine is doing; the median round is shown
#     -k PATH   the kiln binary (default bin/kiln beside this script's repo)
#     -l FILE   hold flock FILE around each timed run, so that benchmarks of
#               others sharing the machine never overlap one of these
#
# KILN_ISA in the environment reaches kiln (e.g. KILN_ISA=avx2 beside a
# llama.cpp built with GGML_AVX512=OFF, to compare the AVX2 paths).
#
# Prints the CPU, then per thread count and test (ppN, tgN) each side's
# tokens/s (median of the rounds, with min..max), kiln/llama.cpp and, for
# decode, kiln's share of its read-bandwidth roofline. Nothing of llama.cpp
# is part of kiln: build llama-bench yourself (GGML_NATIVE=ON, Release).
set -euo pipefail

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

[ $# -ge 1 ] || usage
model=$1
shift
prompt=512 gen=64 threads="1 2" rounds=3 lock=""
kiln="$(cd "$(dirname "$0")/.." && pwd)/bin/kiln"
while getopts "p:n:t:r:k:l:h" opt; do
  case $opt in
    p) prompt=$OPTARG ;;
    n) gen=$OPTARG ;;
    t) threads=${OPTARG//,/ } ;;
    r) rounds=$OPTARG ;;
    k) kiln=$OPTARG ;;
    l) lock=$OPTARG ;;
    *) usage ;;
  esac
done
[ -f "$model" ] || { echo "compare-llamacpp: no model file $model" >&2; exit 2; }
[ -n "${LLAMA_BENCH:-}" ] && [ -x "$LLAMA_BENCH" ] || { echo "compare-llamacpp: set LLAMA_BENCH to llama.cpp's llama-bench binary" >&2; exit 2; }
[ -x "$kiln" ] || { echo "compare-llamacpp: no kiln binary at $kiln (make kiln, or -k PATH)" >&2; exit 2; }
command -v jq >/dev/null || { echo "compare-llamacpp: needs jq" >&2; exit 2; }

# timed runs one command, under the lock if one was given.
timed() {
  if [ -n "$lock" ]; then flock "$lock" "$@"; else "$@"; fi
}

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "CPU: $cpu, $(nproc) cores online; model $(basename "$model"); pp$prompt tg$gen; $rounds rounds, alternating"
echo "start: $(uptime)"
[ -n "${KILN_ISA:-}" ] && echo "kiln: KILN_ISA=$KILN_ISA"
"$kiln" version | grep -E '^kernel variant|gemv q8_0|gemm q8_0' | sed 's/^/kiln: /'

# results.tsv: side threads test tokens_per_s [roofline_pct]
for ((r = 1; r <= rounds; r++)); do
  for t in $threads; do
    echo "round $r/$rounds, $t thread(s)" >&2
    timed "$kiln" bench model --model "$model" -p "$prompt" -n "$gen" -t "$t" -r 1 --json 2>/dev/null >"$out/k.json"
    jq -r --arg p "$prompt" --arg n "$gen" '.results[] |
        (if .prompt_tokens > 0 then "kiln\t\(.threads)\tpp\($p)\t\(.prefill_tokens_per_s)\t" else empty end),
        (if .gen_tokens > 0 then "kiln\t\(.threads)\ttg\($n)\t\(.decode_tokens_per_s)\t\(.decode_pct_of_roofline)" else empty end)' \
      "$out/k.json" >>"$out/results.tsv"
    timed "$LLAMA_BENCH" -m "$model" -p "$prompt" -n "$gen" -t "$t" -r 1 -o json 2>/dev/null >"$out/l.json"
    jq -r '.[] | "llama\t\(.n_threads)\t" + (if .n_prompt > 0 then "pp\(.n_prompt)" else "tg\(.n_gen)" end) + "\t\(.avg_ts)\t"' \
      "$out/l.json" >>"$out/results.tsv"
  done
done
echo "end: $(uptime)"

# median, min and max of each (side, threads, test), then one line per (threads, test)
awk -F'\t' '
  { key = $1 SUBSEP $2 SUBSEP $3; n[key]++; v[key, n[key]] = $4 + 0; if ($5 != "") roof[key, n[key]] = $5 + 0
    if (!(($2 SUBSEP $3) in seen)) { seen[$2 SUBSEP $3] = 1; order[++no] = $2 SUBSEP $3 } }
  function med(key,   i, j, t, a, c) {
    c = n[key]; for (i = 1; i <= c; i++) a[i] = v[key, i]
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    lo[key] = a[1]; hi[key] = a[c]
    return c % 2 ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
  }
  END {
    printf "%-8s %-7s %-24s %-24s %10s %10s\n", "threads", "test", "kiln t/s (min..max)", "llama.cpp t/s (min..max)", "kiln/llama", "kiln roof"
    for (o = 1; o <= no; o++) {
      split(order[o], tk, SUBSEP); kk = "kiln" SUBSEP order[o]; lk = "llama" SUBSEP order[o]
      if (!(kk in n) || !(lk in n)) continue
      km = med(kk); lm = med(lk)
      rf = ""
      if ((kk, 1) in roof) { s = 0; for (i = 1; i <= n[kk]; i++) s += roof[kk, i]; rf = sprintf("%.0f%%", s / n[kk]) }
      printf "%-8s %-7s %-24s %-24s %9.2fx %10s\n", tk[1], tk[2], sprintf("%.2f (%.1f..%.1f)", km, lo[kk], hi[kk]), sprintf("%.2f (%.1f..%.1f)", lm, lo[lk], hi[lk]), km / lm, rf
    }
  }' "$out/results.tsv"
