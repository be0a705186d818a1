package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Load shapes, as Report.Load names them.
const (
	LoadClosed  = "closed"  // --concurrency C: C requests always in flight
	LoadPoisson = "poisson" // --request-rate R: Poisson arrivals
	LoadBurst   = "burst"   // --request-rate inf: all requests due at once
)

// maxErrors bounds the distinct errors a report keeps: past a few, more
// variants of a failure add nothing but noise.
const maxErrors = 10

// Report is a run's outcome. Its JSON field names are stable: scripts
// compare runs by them. Token totals and throughputs count successful
// requests only; the duration runs from the first request sent to the last
// one finished.
type Report struct {
	URL      string `json:"url"` // the API root, ending in /v1
	Endpoint string `json:"endpoint"`
	Model    string `json:"model"`

	Load           string  `json:"load"`            // closed, poisson or burst
	RequestRate    float64 `json:"request_rate"`    // req/s of poisson; 0 otherwise
	MaxConcurrency int     `json:"max_concurrency"` // in-flight cap; 0: none
	Seed           uint64  `json:"seed"`

	// Prompts says what the prompts are: "words" (about a token each) or
	// "token ids LO:HI" (exactly the requested lengths).
	Prompts     string `json:"prompts"`
	NumRequests int    `json:"num_requests"`
	Completed   int    `json:"completed"`
	Failed      int    `json:"failed"`
	// Interrupted is true when the run was stopped (Ctrl-C) before every
	// request finished; the rest were cancelled or never sent.
	Interrupted bool `json:"interrupted"`
	// UsageMissing counts completed requests whose stream had no usage
	// chunk: their tokens are counted as text chunks (output) and prompt
	// words (input), which can differ from the server's tokens.
	UsageMissing int `json:"usage_missing"`
	// Retries counts requests sent a second time because the server closed
	// a kept-alive connection as they were sent on it (before any answer).
	Retries int `json:"retries"`

	DurationS         float64 `json:"duration_s"`
	TotalInputTokens  int     `json:"total_input_tokens"`
	TotalOutputTokens int     `json:"total_output_tokens"`
	// TotalTextChunks counts the streamed events that carried text (of
	// completed requests): the arrivals ITL is measured between. Equal to
	// TotalOutputTokens when the server streams one token per event.
	TotalTextChunks int `json:"total_text_chunks"`
	// TotalStreamTokens counts the tokens of those events: one each, or as
	// the server's per-chunk counts say. It equals TotalOutputTokens when
	// every generated token reached the stream.
	TotalStreamTokens  int     `json:"total_stream_tokens"`
	RequestThroughput  float64 `json:"request_throughput"`     // completed req/s
	InputThroughput    float64 `json:"input_throughput"`       // prompt tokens/s
	OutputThroughput   float64 `json:"output_throughput"`      // generated tokens/s
	TotalTokThroughput float64 `json:"total_token_throughput"` // both, tokens/s
	// AcceptedDrafts and RejectedDrafts total the speculative draft tokens
	// a speculating server reported kept and dropped; DraftAcceptance is
	// their acceptance rate (0 without drafts).
	AcceptedDrafts  int     `json:"accepted_draft_tokens"`
	RejectedDrafts  int     `json:"rejected_draft_tokens"`
	DraftAcceptance float64 `json:"draft_acceptance_rate"`

	TTFT Latency `json:"ttft_ms"` // time to first token
	ITL  Latency `json:"itl_ms"`  // inter-token latency: gaps between text chunks
	// TPOT is time per output token, (e2e - ttft)/(output_tokens - 1), over
	// requests with more than one output token.
	TPOT Latency `json:"tpot_ms"`
	E2EL Latency `json:"e2el_ms"` // end-to-end latency

	// Errors are the distinct failures in the order first seen, at most 10.
	Errors []ErrorCount `json:"errors"`
}

// ErrorCount is one distinct failure and how many requests it ended.
type ErrorCount struct {
	Error string `json:"error"`
	Count int    `json:"count"`
}

// newReport aggregates results over a run that took d.
func newReport(o Options, base, model string, results []Result, d time.Duration) *Report {
	r := &Report{URL: base, Endpoint: string(o.Endpoint), Model: model, Seed: o.Seed,
		Prompts: "words", NumRequests: o.NumRequests, DurationS: d.Seconds(), Errors: []ErrorCount{}}
	if o.PromptIDs.Set() {
		r.Prompts = "token ids " + o.PromptIDs.String()
	}
	switch {
	case o.Concurrency > 0:
		r.Load, r.MaxConcurrency = LoadClosed, o.Concurrency
	case math.IsInf(o.RequestRate, 1):
		r.Load, r.MaxConcurrency = LoadBurst, o.MaxConcurrency
	default:
		r.Load, r.RequestRate, r.MaxConcurrency = LoadPoisson, o.RequestRate, o.MaxConcurrency
	}
	var ttft, itl, tpot, e2e []time.Duration
	seen := map[string]int{} // error -> index in r.Errors
	for _, res := range results {
		if res.Retried {
			r.Retries++
		}
		switch {
		case !res.Sent || res.Cancelled:
			r.Interrupted = true
		case !res.OK:
			r.Failed++
			if i, ok := seen[res.Err]; ok {
				r.Errors[i].Count++
			} else if len(r.Errors) < maxErrors {
				seen[res.Err] = len(r.Errors)
				r.Errors = append(r.Errors, ErrorCount{Error: res.Err, Count: 1})
			}
		default:
			r.Completed++
			if res.UsageMissing {
				r.UsageMissing++
			}
			r.TotalInputTokens += res.PromptTokens
			r.TotalOutputTokens += res.OutputTokens
			r.AcceptedDrafts += res.AcceptedDrafts
			r.RejectedDrafts += res.RejectedDrafts
			r.TotalTextChunks += res.Chunks
			r.TotalStreamTokens += res.StreamTokens
			e2e = append(e2e, res.E2E)
			itl = append(itl, res.ITL...)
			if res.Chunks == 0 {
				continue // nothing generated: no first token to time
			}
			ttft = append(ttft, res.TTFT)
			if res.OutputTokens > 1 {
				tpot = append(tpot, (res.E2E-res.TTFT)/time.Duration(res.OutputTokens-1))
			}
		}
	}
	if n := r.AcceptedDrafts + r.RejectedDrafts; n > 0 {
		r.DraftAcceptance = float64(r.AcceptedDrafts) / float64(n)
	}
	if s := r.DurationS; s > 0 {
		r.RequestThroughput = float64(r.Completed) / s
		r.InputThroughput = float64(r.TotalInputTokens) / s
		r.OutputThroughput = float64(r.TotalOutputTokens) / s
		r.TotalTokThroughput = float64(r.TotalInputTokens+r.TotalOutputTokens) / s
	}
	r.TTFT, r.ITL, r.TPOT, r.E2EL = summarize(ttft), summarize(itl), summarize(tpot), summarize(e2e)
	return r
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// tableErrors is how many distinct errors the table shows.
const tableErrors = 5

// WriteTable writes the report for a reader: the load, the throughputs,
// one row per latency metric, and the first few distinct errors.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "%s at %s, model %s\n", r.Endpoint, r.URL, r.Model)
	switch r.Load {
	case LoadClosed:
		fmt.Fprintf(w, "load: closed loop, %d in flight, seed %d\n", r.MaxConcurrency, r.Seed)
	default:
		rate := "all at once"
		if r.Load == LoadPoisson {
			rate = fmt.Sprintf("Poisson arrivals at %.3g req/s", r.RequestRate)
		}
		capped := "no in-flight cap"
		if r.MaxConcurrency > 0 {
			capped = fmt.Sprintf("at most %d in flight", r.MaxConcurrency)
		}
		fmt.Fprintf(w, "load: %s, %s, seed %d\n", rate, capped, r.Seed)
	}
	status := ""
	if r.Interrupted {
		status = " (interrupted)"
	}
	fmt.Fprintf(w, "requests: %d completed, %d failed of %d in %.2f s%s\n",
		r.Completed, r.Failed, r.NumRequests, r.DurationS, status)
	fmt.Fprintf(w, "tokens: %d in, %d out in %d text events; prompts: %s", r.TotalInputTokens, r.TotalOutputTokens, r.TotalTextChunks, r.Prompts)
	if r.Retries > 0 {
		fmt.Fprintf(w, " (%d requests sent again after the server closed a kept-alive connection)", r.Retries)
	}
	if r.UsageMissing > 0 {
		fmt.Fprintf(w, " (%d requests sent no usage: counted by chunks and prompt words)", r.UsageMissing)
	}
	fmt.Fprintf(w, "\nthroughput: %.2f req/s; input %.1f tok/s, output %.1f tok/s, total %.1f tok/s\n",
		r.RequestThroughput, r.InputThroughput, r.OutputThroughput, r.TotalTokThroughput)
	if n := r.AcceptedDrafts + r.RejectedDrafts; n > 0 {
		fmt.Fprintf(w, "speculative drafts: %d accepted of %d (%.1f%%)\n", r.AcceptedDrafts, n, 100*r.DraftAcceptance)
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "metric (ms)\tmean\tp50\tp90\tp99\tsamples\t")
	for _, m := range []struct {
		name string
		l    Latency
	}{{"TTFT", r.TTFT}, {"ITL", r.ITL}, {"TPOT", r.TPOT}, {"E2E latency", r.E2EL}} {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t\n", m.name, m.l.Mean, m.l.P50, m.l.P90, m.l.P99, m.l.Count)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "\nerrors (%d failed requests):\n", r.Failed)
		for _, e := range r.Errors[:min(len(r.Errors), tableErrors)] {
			fmt.Fprintf(w, "  %d× %s\n", e.Count, oneLine(e.Error))
		}
		if len(r.Errors) > tableErrors {
			fmt.Fprintf(w, "  … and more (see --json)\n")
		}
	}
	return nil
}

// oneLine keeps an error message to one line of reasonable length.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
