package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/engine/sample"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/native"
)

// draftBenchOptions are `kiln bench model --draft-model`'s: one stream of
// greedy decoding through the scheduler, without and with the draft model.
type draftBenchOptions struct {
	Model, Draft string
	Prompt       int    // random prompt tokens (when Text is empty)
	Text         string // a prompt text instead (tokenized with BOS)
	Gen          int    // tokens generated per run
	Tokens       int    // num_speculative_tokens
	Reps         int    // runs of each, alternated; the median is reported
	Threads      []int
	KVType       native.Type
	Seed         uint64
	Progress     io.Writer
}

// draftBenchResult is one thread count's figures.
type draftBenchResult struct {
	Threads    int       `json:"threads"`
	PlainTPS   float64   `json:"plain_decode_tokens_per_s"`
	DraftTPS   float64   `json:"draft_decode_tokens_per_s"`
	Speedup    float64   `json:"speedup"`          // DraftTPS / PlainTPS (medians)
	RunRatios  []float64 `json:"run_ratios"`       // each alternated pair's ratio
	MedianRun  float64   `json:"median_run_ratio"` // their median: robust to a loaded machine
	Drafts     uint64    `json:"draft_tokens"`
	Accepted   uint64    `json:"accepted_tokens"`
	Acceptance float64   `json:"acceptance_rate"`
	Steps      float64   `json:"steps_per_run"`
	PlainSteps float64   `json:"plain_steps_per_run"`
}

// draftBenchReport is the whole run.
type draftBenchReport struct {
	Model, Draft string
	PromptTokens int
	GenTokens    int
	SpecTokens   int
	Results      []draftBenchResult
}

// runDraftBench loads both models and, for each thread count, alternates
// o.Reps greedy runs without and with the draft on one stream (the same
// prompt, ignore_eos, o.Gen tokens), checking that both produce the same
// tokens. Decode speed is (tokens - 1) over the time from the first token
// to the last, so prefill is left out.
func runDraftBench(ctx context.Context, o draftBenchOptions) (*draftBenchReport, error) {
	maxBatch := max(o.Prompt, 64)
	m, err := loadModel(o.Model, model.WithMaxBatchTokens(maxBatch))
	if err != nil {
		return nil, fmt.Errorf("bench model: %w", err)
	}
	defer m.Close()
	d, err := loadModel(o.Draft, model.WithMaxBatchTokens(maxBatch))
	if err != nil {
		return nil, fmt.Errorf("bench model: --draft-model: %w", err)
	}
	defer d.Close()
	tok, err := modelTokenizer(m)
	if err != nil {
		return nil, fmt.Errorf("bench model: %s: %w", o.Model, err)
	}
	dtok, err := modelTokenizer(d)
	if err == nil {
		err = tokenizer.SameVocabulary(tok, dtok)
	}
	if err != nil {
		return nil, fmt.Errorf("bench model: --draft-model %s does not share the tokenizer of %s: %w", o.Draft, o.Model, err)
	}
	prompt := benchPrompt(o, tok, m.Config.NVocab)
	ctxLen := len(prompt) + o.Gen + o.Tokens + 16
	blocks := (ctxLen + 15) / 16
	newEngine := func(spec control.SpeculativeConfig) (*control.Engine, error) {
		x, err := model.NewExecutor(m, blocks, 16, o.KVType)
		if err != nil {
			return nil, err
		}
		return control.New(x, tok, control.Config{MaxNumSeqs: 1, SessionLen: ctxLen, MaxITL: -1, Speculative: spec})
	}
	plain, err := newEngine(control.SpeculativeConfig{})
	if err != nil {
		return nil, fmt.Errorf("bench model: %w", err)
	}
	defer plain.Close()
	dx, err := model.NewExecutor(d, blocks, 16, o.KVType)
	if err != nil {
		return nil, fmt.Errorf("bench model: draft: %w", err)
	}
	spec, err := newEngine(control.SpeculativeConfig{Method: "draft", Tokens: o.Tokens, Draft: dx})
	if err != nil {
		return nil, fmt.Errorf("bench model: %w", err)
	}
	defer spec.Close()

	rep := &draftBenchReport{Model: o.Model, Draft: o.Draft, PromptTokens: len(prompt), GenTokens: o.Gen, SpecTokens: o.Tokens}
	for _, t := range o.Threads {
		if err := native.Init(t); err != nil {
			return nil, err
		}
		res := draftBenchResult{Threads: t}
		var plainTPS, draftTPS []float64
		m0, p0 := spec.Metrics(), plain.Metrics()
		for rep := -1; rep < o.Reps; rep++ { // -1: warm-up
			pt, ptoks, err := decodeRun(ctx, plain, prompt, o.Gen)
			if err != nil {
				return nil, err
			}
			dt, dtoks, err := decodeRun(ctx, spec, prompt, o.Gen)
			if err != nil {
				return nil, err
			}
			if !slices.Equal(ptoks, dtoks) {
				return nil, fmt.Errorf("bench model: the draft changed the output (greedy):\nplain %v\ndraft %v", ptoks, dtoks)
			}
			if rep < 0 {
				m0, p0 = spec.Metrics(), plain.Metrics()
				continue
			}
			plainTPS, draftTPS = append(plainTPS, pt), append(draftTPS, dt)
			res.RunRatios = append(res.RunRatios, dt/pt)
			if o.Progress != nil {
				fmt.Fprintf(o.Progress, "%d thread(s) run %d: plain %.2f tok/s, draft %.2f tok/s (%.2fx)\n", t, rep+1, pt, dt, dt/pt)
			}
		}
		m1, p1 := spec.Metrics(), plain.Metrics()
		res.PlainTPS, res.DraftTPS = median(plainTPS), median(draftTPS)
		res.Speedup = res.DraftTPS / res.PlainTPS
		res.MedianRun = median(res.RunRatios)
		res.Drafts, res.Accepted = m1.DraftTokens-m0.DraftTokens, m1.AcceptedTokens-m0.AcceptedTokens
		if res.Drafts > 0 {
			res.Acceptance = float64(res.Accepted) / float64(res.Drafts)
		}
		res.Steps = float64(m1.Steps-m0.Steps) / float64(o.Reps)
		res.PlainSteps = float64(p1.Steps-p0.Steps) / float64(o.Reps)
		rep.Results = append(rep.Results, res)
	}
	return rep, nil
}

// benchPrompt is o.Text tokenized, or o.Prompt random ids after BOS.
func benchPrompt(o draftBenchOptions, tok *tokenizer.Tokenizer, vocab int) []int32 {
	if o.Text != "" {
		return tok.Encode(o.Text, true, false)
	}
	p := make([]int32, 0, o.Prompt)
	if tok.BOS() >= 0 {
		p = append(p, tok.BOS())
	}
	x := o.Seed | 1
	for len(p) < max(o.Prompt, 1) {
		x ^= x >> 12
		x ^= x << 25
		x ^= x >> 27
		p = append(p, int32((x*2685821657736338717)>>33%uint64(vocab)))
	}
	return p
}

// decodeRun generates n greedy tokens after prompt on e and returns the
// decode speed (tokens after the first per second from the first) and the
// tokens.
func decodeRun(ctx context.Context, e *control.Engine, prompt []int32, n int) (float64, []int32, error) {
	sp := sample.DefaultParams()
	sp.Temperature = 0
	ch, err := e.Submit(ctx, control.Request{Prompt: prompt, MaxTokens: n, IgnoreEOS: true, Sample: sp})
	if err != nil {
		return 0, nil, fmt.Errorf("bench model: %w", err)
	}
	var toks []int32
	var first, last time.Time
	for ev := range ch {
		if len(ev.Tokens) > 0 {
			now := time.Now()
			if first.IsZero() {
				first = now
				toks = append(toks, ev.Tokens[0])
				ev.Tokens = ev.Tokens[1:]
			}
			toks = append(toks, ev.Tokens...)
			last = now
		}
		if ev.Finish == control.FinishError || ev.Finish == control.FinishAbort {
			return 0, nil, fmt.Errorf("bench model: generation ended: %s %v", ev.Finish, ev.Err)
		}
	}
	if len(toks) < 2 || !last.After(first) {
		return 0, nil, fmt.Errorf("bench model: %d tokens generated: want at least 2", len(toks))
	}
	return float64(len(toks)-1) / last.Sub(first).Seconds(), toks, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// WriteJSON implements benchReport.
func (r *draftBenchReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable implements benchReport.
func (r *draftBenchReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "model %s, draft %s: prompt %d tokens, %d generated (greedy, one stream), %d draft tokens per step\n",
		r.Model, r.Draft, r.PromptTokens, r.GenTokens, r.SpecTokens)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "threads\tplain tok/s\tdraft tok/s\tspeedup\tmedian run ratio\trun ratios\tacceptance\tsteps (plain)\t")
	for _, x := range r.Results {
		fmt.Fprintf(tw, "%d\t%.2f\t%.2f\t%.2fx\t%.2fx\t%s\t%.0f%% (%d/%d)\t%.0f (%.0f)\t\n", x.Threads, x.PlainTPS, x.DraftTPS, x.Speedup,
			x.MedianRun, fmtRatios(x.RunRatios), 100*x.Acceptance, x.Accepted, x.Drafts, x.Steps, x.PlainSteps)
	}
	return tw.Flush()
}

func fmtRatios(v []float64) string {
	s := ""
	for i, x := range v {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%.2f", x)
	}
	return s
}
