package gateway

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// reportedLoad reads running plus waiting requests from a Prometheus text
// exposition: kiln's own kiln_num_requests_running/_waiting when present,
// else the vLLM names routers read (vllm:num_requests_running/_waiting,
// summed over their model_name series), so the gateway also balances over
// vLLM-compatible servers. ok is false when neither is there.
func reportedLoad(text []byte) (load int64, ok bool) {
	var kiln, vllm float64
	var haveKiln, haveVLLM bool
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := parseSample(sc.Text())
		if !ok {
			continue
		}
		switch name {
		case "kiln_num_requests_running", "kiln_num_requests_waiting":
			kiln += value
			haveKiln = true
		case "vllm:num_requests_running", "vllm:num_requests_waiting":
			vllm += value
			haveVLLM = true
		}
	}
	switch {
	case haveKiln:
		return int64(kiln), true
	case haveVLLM:
		return int64(vllm), true
	}
	return 0, false
}

// parseSample splits one sample line `name{labels} value [timestamp]`;
// comments, blank and malformed lines give ok false. Label values may hold
// any character, quotes escaped.
func parseSample(line string) (name string, value float64, ok bool) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", 0, false
	}
	end := strings.IndexAny(line, "{ \t")
	if end <= 0 {
		return "", 0, false
	}
	name, rest := line[:end], line[end:]
	if rest[0] == '{' {
		inQuote, escaped, closed := false, false, -1
		for i := 1; i < len(rest) && closed < 0; i++ {
			switch c := rest[i]; {
			case escaped:
				escaped = false
			case c == '\\' && inQuote:
				escaped = true
			case c == '"':
				inQuote = !inQuote
			case c == '}' && !inQuote:
				closed = i
			}
		}
		if closed < 0 {
			return "", 0, false
		}
		rest = rest[closed+1:]
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 || len(fields) > 2 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return "", 0, false
	}
	return name, v, true
}
