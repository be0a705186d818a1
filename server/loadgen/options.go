// Package loadgen is a load generator for OpenAI-compatible servers, in the
// manner of vLLM's benchmarks/benchmark_serving.py: it sends streamed
// completions or chat completions with synthetic prompts under a chosen load
// shape (closed loop at a fixed concurrency, or Poisson arrivals at a request
// rate) and reports throughput and the latency distributions that matter to
// users of a serving engine: time to first token (TTFT), inter-token latency
// (ITL), time per output token (TPOT) and end-to-end latency.
//
// It speaks plain HTTP and JSON (net/http, encoding/json) rather than an SDK,
// so what is timed is the wire and the server, not a client library's
// buffering.
package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Endpoint is the API a run targets.
type Endpoint string

// The two endpoints: legacy completions take a "prompt", chat completions a
// single user message holding the same text.
const (
	Completions Endpoint = "completions"
	Chat        Endpoint = "chat"
)

// Options configure a Run. Field comments name the `kiln bench serve` flag
// that sets each, and Validate's messages name those flags, so the command
// can report them unchanged.
type Options struct {
	URL      string   // --url: server base, with or without a trailing /v1
	Endpoint Endpoint // --endpoint
	Model    string   // --model; empty: the first id from GET /v1/models
	APIKey   string   // --api-key (or $OPENAI_API_KEY, read by the command)

	NumRequests int // -n/--num-requests
	// Concurrency > 0 runs a closed loop: that many requests in flight, the
	// next sent as soon as one finishes (--concurrency).
	Concurrency int
	// RequestRate > 0 sends requests at Poisson arrivals of that mean rate
	// per second; +Inf sends them all at once (--request-rate). When neither
	// it nor Concurrency is set, Validate picks a closed loop of 1.
	RequestRate float64
	// MaxConcurrency > 0 caps the requests in flight in rate mode: an
	// arrival then waits for a free slot (--max-concurrency).
	MaxConcurrency int
	Seed           uint64 // --seed: prompts, lengths and arrivals

	// InputLen is the prompt length in tokens, approximated by words (see
	// Prompts), after SharedPrefixLen words common to every prompt.
	InputLen        int     // --input-len
	OutputLen       int     // --output-len: max_tokens
	InputLenRange   float64 // --input-len-range: lengths uniform in len·[1-r, 1+r]
	OutputLenRange  float64 // --output-len-range
	SharedPrefixLen int     // --shared-prefix-len
	// PromptIDs, when set, makes prompts arrays of token ids drawn from it
	// (--prompt-token-ids; completions only): exactly InputLen tokens on
	// any server, no BOS or template added.
	PromptIDs TokenRange
	// FixedOutput asks the server to generate exactly max_tokens by sending
	// the vLLM extensions "ignore_eos": true and "min_tokens" (--fixed-output).
	FixedOutput bool
	Temperature float64 // --temperature
	// ExtraBody holds fields added to every request body, overriding the
	// run's own (--extra-body '{"timings_per_token": true}'): a server's
	// extensions.
	ExtraBody map[string]any

	Timeout time.Duration // --timeout: per request, headers to [DONE]

	// Progress, if not nil, receives a start line and progress lines.
	Progress io.Writer
}

// DefaultOptions are the command's defaults: small enough for a CPU server
// to finish in a minute or two with a small model.
func DefaultOptions() Options {
	return Options{
		Endpoint:    Completions,
		NumRequests: 50,
		InputLen:    128,
		OutputLen:   64,
		Timeout:     10 * time.Minute,
	}
}

// ParseExtraBody parses --extra-body: a JSON object.
func ParseExtraBody(s string) (map[string]any, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
		return nil, fmt.Errorf("--extra-body %q: want a JSON object of request fields", s)
	}
	return m, nil
}

// ParseRate parses --request-rate: a positive number of requests per second
// or "inf" (all requests at once).
func ParseRate(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "inf") || strings.EqualFold(s, "+inf") {
		return math.Inf(1), nil
	}
	r, err := strconv.ParseFloat(s, 64)
	if err != nil || !(r > 0) || math.IsInf(r, 0) {
		return 0, fmt.Errorf("--request-rate %q: want a positive number of requests/s or inf", s)
	}
	return r, nil
}

// Validate checks o, fills in the closed-loop default and returns the
// normalized copy; errors name the offending flag.
func (o Options) Validate() (Options, error) {
	if _, err := apiBase(o.URL); err != nil {
		return o, err
	}
	switch o.Endpoint {
	case Completions, Chat:
	case "":
		o.Endpoint = Completions
	default:
		return o, fmt.Errorf("--endpoint %q: want completions or chat", o.Endpoint)
	}
	switch {
	case o.NumRequests < 1:
		return o, fmt.Errorf("--num-requests %d: want at least 1", o.NumRequests)
	case o.Concurrency < 0:
		return o, fmt.Errorf("--concurrency %d: want at least 1", o.Concurrency)
	case o.RequestRate < 0 || math.IsNaN(o.RequestRate):
		return o, fmt.Errorf("--request-rate %v: want a positive number of requests/s or inf", o.RequestRate)
	case o.Concurrency > 0 && o.RequestRate > 0:
		return o, fmt.Errorf("--concurrency and --request-rate are exclusive: use --request-rate with --max-concurrency to cap a rate")
	case o.MaxConcurrency < 0:
		return o, fmt.Errorf("--max-concurrency %d: want at least 1 (or 0 for no cap)", o.MaxConcurrency)
	case o.MaxConcurrency > 0 && o.RequestRate == 0:
		return o, fmt.Errorf("--max-concurrency applies to --request-rate; a closed loop takes --concurrency")
	case o.InputLen < 1:
		return o, fmt.Errorf("--input-len %d: want at least 1", o.InputLen)
	case o.OutputLen < 1:
		return o, fmt.Errorf("--output-len %d: want at least 1", o.OutputLen)
	case !(o.InputLenRange >= 0 && o.InputLenRange < 1):
		return o, fmt.Errorf("--input-len-range %v: want a ratio in [0, 1)", o.InputLenRange)
	case !(o.OutputLenRange >= 0 && o.OutputLenRange < 1):
		return o, fmt.Errorf("--output-len-range %v: want a ratio in [0, 1)", o.OutputLenRange)
	case o.SharedPrefixLen < 0:
		return o, fmt.Errorf("--shared-prefix-len %d: want 0 or more", o.SharedPrefixLen)
	case !(o.Temperature >= 0 && o.Temperature <= 2):
		return o, fmt.Errorf("--temperature %v: want a value in [0, 2]", o.Temperature)
	case o.Timeout <= 0:
		return o, fmt.Errorf("--timeout %v: want a positive duration", o.Timeout)
	case o.PromptIDs != TokenRange{} && (o.PromptIDs.Lo < 0 || !o.PromptIDs.Set()):
		return o, fmt.Errorf("--prompt-token-ids %v: want LO:HI, token ids with 0 <= LO < HI", o.PromptIDs)
	case o.PromptIDs.Set() && o.Endpoint == Chat:
		return o, fmt.Errorf("--prompt-token-ids takes --endpoint completions: chat messages are text")
	}
	if o.Concurrency == 0 && o.RequestRate == 0 {
		o.Concurrency = 1
	}
	return o, nil
}

// inFlightCap is the most requests a run keeps in flight: the closed loop's
// concurrency, the rate mode's cap, or every request.
func (o Options) inFlightCap() int {
	c := o.NumRequests
	if o.Concurrency > 0 {
		c = o.Concurrency
	} else if o.MaxConcurrency > 0 {
		c = o.MaxConcurrency
	}
	return min(c, o.NumRequests)
}

// apiBase turns --url into the API root ending in /v1, so that both
// http://host:8000 and http://host:8000/v1 work.
func apiBase(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("--url is required (e.g. http://127.0.0.1:8000)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--url %q: want http(s)://host[:port][/v1]", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("--url %q: want no query or fragment", raw)
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/v1")
	u.Path = p + "/v1"
	u.RawPath = ""
	return u.String(), nil
}
