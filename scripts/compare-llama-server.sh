#!/usr/bin/env bash
# compare-llama-server.sh — kiln serve vs llama.cpp's llama-server under the
# same serving load, side by side, on the same GGUF file.
#
#   LLAMA_SERVER=/path/to/llama-server scripts/compare-llama-server.sh MODEL.gguf PROMPT_TOKENS GEN_TOKENS [options]
#     -c N      concurrent streams, and llama-server's slots (-np) (default 16)
#     -n N      requests per measured run, a closed loop of -c (default 2 x -c)
#     -r N      rounds (default 2): each round starts, warms, measures and
#               stops each server in turn, the order swapped every round
#               (kiln, llama, llama, kiln, ...), so both share the machine's drift
#     -t N      threads of both servers (default 2)
#     -i LO:HI  token ids the random prompts are drawn from (default 1000:30000,
#               ordinary tokens of most vocabularies)
#     -l FILE   hold this lock (flock) for each server's turn, e.g. /work/bench.lock
#     -k PATH   the kiln binary (default bin/kiln beside this script's repo)
#     -g PATH   the kiln binary whose `bench serve` sends the load (default: -k),
#               to compare an older kiln serve under the same load generator
#     -K ARGS   more kiln serve options, e.g. "--max-itl-ms 300"
#     -L ARGS   more llama-server options
#     -p PORT   first of the two loopback ports (default 18431)
#     -o DIR    keep each run's JSON report and server log in DIR
#     -T SECS   per-request time limit of the measured run (default 600); a
#               request over it fails the round (keeps a lock hold bounded)
#
# Load: every request is a streamed /v1/completions with a prompt of exactly
# PROMPT_TOKENS random token ids (both servers take token-id prompts and add
# nothing to them), greedy, ignore_eos and max_tokens = min_tokens =
# GEN_TOKENS, sent by `kiln bench serve` (plain OpenAI HTTP), which times
# TTFT (to the first event carrying text) and ITL (gaps between such events)
# the same way for both, per token (llama-server is asked for per-chunk
# token counts, as it holds back tokens that end inside a UTF-8 character).
# Each round uses its own seed (no prefix-cache hits
# across rounds; every server starts cold and is warmed with 16 short
# requests of other prompts).
# llama-server runs with -np C -c C x (PROMPT+GEN+1 rounded up to 64) -t N.
#
# Prints the CPU and, per round and side, output tok/s, ITL p50/p99, TTFT
# p50, the load average before the turn and failed requests (counted, not
# in the figures); then the means over rounds and kiln/llama-server ratios.
# It fails when a side's token counts are not
# exactly what was asked (prompt, output, and every output token seen in
# the stream).
# Nothing of llama.cpp is part of kiln: build llama-server yourself.
set -euo pipefail

usage() { sed -n '2,43p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

[ $# -ge 3 ] || usage
model=$1 prompt=$2 gen=$3
shift 3
loadgen="" streams=16 nreq="" rounds=2 threads=2 ids=1000:30000 lock="" kargs="" largs="" port=18431 keep="" limit=600
kiln="$(cd "$(dirname "$0")/.." && pwd)/bin/kiln"
while getopts "c:n:r:t:i:l:k:g:K:L:p:o:T:h" opt; do
  case $opt in
    c) streams=$OPTARG ;;
    n) nreq=$OPTARG ;;
    r) rounds=$OPTARG ;;
    t) threads=$OPTARG ;;
    i) ids=$OPTARG ;;
    l) lock=$OPTARG ;;
    k) kiln=$OPTARG ;;
    g) loadgen=$OPTARG ;;
    K) kargs=$OPTARG ;;
    L) largs=$OPTARG ;;
    p) port=$OPTARG ;;
    o) keep=$OPTARG ;;
    T) limit=$OPTARG ;;
    *) usage ;;
  esac
done
nreq=${nreq:-$((2 * streams))}
loadgen=${loadgen:-$kiln}
die() { echo "compare-llama-server: $*" >&2; exit 2; }
[ -f "$model" ] || die "no model file $model"
[[ $prompt =~ ^[1-9][0-9]*$ && $gen =~ ^[1-9][0-9]*$ ]] || die "PROMPT_TOKENS and GEN_TOKENS must be positive integers"
[ -n "${LLAMA_SERVER:-}" ] && [ -x "$LLAMA_SERVER" ] || die "set LLAMA_SERVER to llama.cpp's llama-server binary"
[ -x "$kiln" ] || die "no kiln binary at $kiln (make kiln, or -k PATH)"
[ -x "$loadgen" ] || die "no kiln binary at $loadgen (-g PATH)"
command -v jq >/dev/null || die "needs jq"
command -v curl >/dev/null || die "needs curl"

out=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  [ -n "$keep" ] && mkdir -p "$keep" && cp "$out"/* "$keep"/ 2>/dev/null
  rm -rf "$out"
}
trap cleanup EXIT

# One cell more than PROMPT+GEN per slot: llama-server marks a sequence that
# fills its slot's context exactly as truncated.
slot=$(( (prompt + gen + 1 + 63) / 64 * 64 ))
ctx=$((streams * slot))
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo "CPU: $cpu, $(nproc) cores online; model $(basename "$model"); $streams streams, $nreq requests of $prompt prompt + $gen generated tokens per run; $threads threads; $rounds rounds"
echo "llama-server: -np $streams -c $ctx -t $threads $largs"
echo "kiln serve: --tensor-parallel-size $threads --max-num-seqs $streams $kargs"

# start SIDE PORT: launches one server in the background (pid), logs to $out.
start() {
  local side=$1 p=$2 log="$out/$1.r$round.log"
  if [ "$side" = kiln ]; then
    # shellcheck disable=SC2086 # kargs are words
    "$kiln" serve --model "$model" --host 127.0.0.1 --port "$p" --tensor-parallel-size "$threads" \
      --max-num-seqs "$streams" --log-level warn $kargs >"$log" 2>&1 &
  else
    # shellcheck disable=SC2086
    "$LLAMA_SERVER" -m "$model" --host 127.0.0.1 --port "$p" -np "$streams" -c "$ctx" -t "$threads" \
      --no-webui $largs >"$log" 2>&1 &
  fi
  pid=$!
  for _ in $(seq 600); do
    if curl -fs "http://127.0.0.1:$p/health" >/dev/null 2>&1; then return 0; fi
    kill -0 "$pid" 2>/dev/null || { tail -20 "$log" >&2; die "$side exited while starting"; }
    sleep 0.2
  done
  die "$side did not answer /health within 2 minutes"
}

stop() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}

# turn SIDE PORT: start, warm (its own seed, short requests), measure, stop.
turn() {
  local side=$1 p=$2
  echo "round $round/$rounds: $side ($(uptime | sed 's/.*load average: //'))" >&2
  uptime | sed 's/.*load average: //; s/,.*//' >"$out/$side.r$round.load"
  start "$side" "$p"
  # Warm-up: every slot once, short, so the weights are paged in and the
  # servers' batch paths are set up (kiln's step cost model too).
  "$loadgen" bench serve --url "http://127.0.0.1:$p" --model bench -n "$streams" -c "$streams" \
    --input-len 16 --output-len 4 --fixed-output --prompt-token-ids "$ids" --seed $((1000 + round)) \
    --json >/dev/null 2>"$out/$side.r$round.warm.err" || { cat "$out/$side.r$round.warm.err" >&2; die "$side: warm-up failed"; }
  # llama-server sends no chunk for a token that ends inside a UTF-8
  # character; asked for per-chunk timings, it says how many tokens each
  # chunk carries, and ITL is counted per token on both sides.
  local extra='{}'
  [ "$side" = llama ] && extra='{"timings_per_token": true}'
  "$loadgen" bench serve --url "http://127.0.0.1:$p" --model bench -n "$nreq" -c "$streams" --extra-body "$extra" \
    --input-len "$prompt" --output-len "$gen" --fixed-output --prompt-token-ids "$ids" --seed "$round" \
    --timeout "${limit}s" --json >"$out/$side.r$round.json" 2>"$out/$side.r$round.err" || { cat "$out/$side.r$round.err" >&2; die "$side: run failed"; }
  stop
  # Every completed request must have had exactly the tokens asked for, all
  # seen in the stream; a failed request is reported and counted.
  local c
  c=$(jq -r '.completed' "$out/$side.r$round.json")
  jq -e --argjson p "$prompt" --argjson g "$gen" \
    '.total_input_tokens == .completed * $p and .total_output_tokens == .completed * $g and .total_stream_tokens == .total_output_tokens' \
    "$out/$side.r$round.json" >/dev/null ||
    die "$side round $round: token counts off: $(jq -c '{completed, failed, total_input_tokens, total_output_tokens, total_text_chunks, total_stream_tokens, errors}' "$out/$side.r$round.json")"
  [ "$c" = "$nreq" ] || echo "WARNING: $side round $round: $c of $nreq requests completed: $(jq -c '.errors' "$out/$side.r$round.json")" >&2
}

for ((round = 1; round <= rounds; round++)); do
  order="kiln llama"
  ((round % 2 == 0)) && order="llama kiln"
  for side in $order; do
    p=$port
    [ "$side" = llama ] && p=$((port + 1))
    if [ -n "$lock" ]; then
      # The lock is taken per turn, so other benchmarks interleave between turns.
      exec {fd}>"$lock"
      flock "$fd"
      turn "$side" "$p"
      flock -u "$fd"
      exec {fd}>&-
    else
      turn "$side" "$p"
    fi
  done
done

# rows: side round tok/s itl50 itl99 ttft50 load retries failed
for ((round = 1; round <= rounds; round++)); do
  for side in kiln llama; do
    jq -r --arg s "$side" --arg r "$round" --arg l "$(cat "$out/$side.r$round.load")" \
      '[$s, $r, .output_throughput, .itl_ms.p50, .itl_ms.p99, .ttft_ms.p50, $l, .retries, .failed] | @tsv' "$out/$side.r$round.json"
  done
done >"$out/rows.tsv"

awk -F'\t' '
  { name = ($1 == "kiln") ? "kiln serve" : "llama-server"
    printf "%-13s round %-2s %9.1f %9.0f %9.0f %10.0f %7s %7s %7s\n", name, $2, $3, $4, $5, $6, $7, $8, $9
    for (i = 3; i <= 6; i++) sum[$1, i] += $i; n[$1]++ }
  BEGIN { printf "%-13s %-8s %9s %9s %9s %10s %7s %7s %7s\n", "server", "", "out tok/s", "ITL p50", "ITL p99", "TTFT p50", "load1", "retries", "failed" }
  END {
    for (i = 3; i <= 6; i++) { k[i] = sum["kiln", i] / n["kiln"]; l[i] = sum["llama", i] / n["llama"] }
    printf "%-13s %-8s %9.1f %9.0f %9.0f %10.0f\n", "kiln serve", "mean", k[3], k[4], k[5], k[6]
    printf "%-13s %-8s %9.1f %9.0f %9.0f %10.0f\n", "llama-server", "mean", l[3], l[4], l[5], l[6]
    printf "%-13s %-8s %8.2fx %8.2fx %8.2fx %9.2fx   (latencies in ms; ratios kiln/llama-server of the means)\n", "kiln/llama", "", k[3] / l[3], k[4] / l[4], k[5] / l[5], k[6] / l[6]
  }' "$out/rows.tsv"
