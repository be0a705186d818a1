#!/usr/bin/env bash
# Time to first token of one long prompt, cold (empty prefix cache) against
# reloaded from --prefix-cache-dir after a restart of kiln serve, side by
# side in each round (and the in-pool hit for reference).
#
#   flock /work/bench.lock scripts/bench-spill-ttft.sh MODEL.gguf [PROMPT_TOKENS] [ROUNDS]
#
# Each round: a fresh directory; serve, send the prompt (cold), send it again
# (in-pool hit), stop (the pool is saved), serve again on the directory,
# send it (reloaded). TTFT is the time of a max_tokens=1 completion.
set -euo pipefail
model=${1:?usage: $0 MODEL.gguf [PROMPT_TOKENS] [ROUNDS]}
ntok=${2:-1500}
rounds=${3:-3}
kiln=${KILN:-bin/kiln}
port=${PORT:-18931}
url=http://127.0.0.1:$port
threads=${THREADS:-2}

# Token ids of the byte-level synth vocabulary (kiln synth without
# --tokenizer), deterministic; BOS first.
ids=$(awk -v n="$ntok" 'BEGIN { printf "1"; for (i = 1; i < n; i++) printf ",%d", 3 + (i * 7919) % 250 }')
body="{\"prompt\":[$ids],\"max_tokens\":1,\"temperature\":0}"

pid=
start() {
	"$kiln" serve -m "$model" --host 127.0.0.1 --port "$port" -tp "$threads" --prefix-cache-dir "$1" \
		--session-len $((ntok + 64)) --max-num-seqs 2 --kv-cache-size 512MiB --log-level warn 2>>"$1.log" &
	pid=$!
	for _ in $(seq 600); do
		curl -sf "$url/health" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "kiln serve did not become healthy" >&2
	exit 1
}
stop() {
	kill -TERM "$pid"
	wait "$pid" || true
}
# ttft prints "seconds cached_tokens text".
ttft() {
	curl -s -o /tmp/bench-spill-resp.$$ -w '%{time_total}' -H 'Content-Type: application/json' -d "$body" "$url/v1/completions" >/tmp/bench-spill-time.$$
	python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
d = r["usage"].get("prompt_tokens_details") or {}
print(open(sys.argv[2]).read().strip(), d.get("cached_tokens", 0), r["usage"]["prompt_tokens"], json.dumps(r["choices"][0]["text"]))
' /tmp/bench-spill-resp.$$ /tmp/bench-spill-time.$$
}
trap 'rm -f /tmp/bench-spill-resp.$$ /tmp/bench-spill-time.$$; [ -n "$pid" ] && kill "$pid" 2>/dev/null || true' EXIT

echo "# $(date -u +%FT%TZ) model=$(basename "$model") prompt_tokens=$ntok threads=$threads load: $(uptime | sed 's/.*load average: //')"
printf '%-6s %-28s %-28s %-28s %s\n' round "cold s (cached)" "in-pool s (cached)" "reloaded s (cached)" "cold/reloaded"
for r in $(seq "$rounds"); do
	dir=$(mktemp -d /tmp/bench-spill-dir.XXXXXX)
	start "$dir"
	read -r cold ccached _ ctext < <(ttft)
	read -r warm wcached _ _ < <(ttft)
	stop
	files=$(find "$dir" -name '*.kvb' | wc -l)
	start "$dir"
	read -r reload rcached _ rtext < <(ttft)
	stop
	same=same; [ "$ctext" = "$rtext" ] || same="DIFFERENT ($ctext vs $rtext)"
	printf '%-6s %-28s %-28s %-28s %s\n' "$r" "$cold ($ccached)" "$warm ($wcached)" "$reload ($rcached)" \
		"$(python3 -c "print(f'{$cold/$reload:.1f}x')") files=$files answer=$same"
	rm -rf "$dir" "$dir.log"
done
echo "# load after: $(uptime | sed 's/.*load average: //')"
