package control

import (
	"context"
	"slices"
	"sync"
	"testing"
)

func TestProposeNgram(t *testing.T) {
	tests := []struct {
		name       string
		tokens     []int32
		nmin, nmax int
		k          int
		want       []int32
	}{
		{"no recurrence", []int32{1, 2, 3, 4}, 1, 3, 4, nil},
		{"unigram", []int32{5, 6, 7, 5}, 1, 3, 4, []int32{6, 7, 5}},
		{"longest suffix wins", []int32{9, 2, 8, 1, 2, 7, 1, 2}, 1, 2, 2, []int32{7, 1}},
		{"latest occurrence", []int32{1, 2, 3, 1, 2, 4, 1, 2}, 2, 2, 1, []int32{4}},
		{"k caps", []int32{3, 4, 5, 6, 7, 3}, 1, 1, 2, []int32{4, 5}},
		{"min length not met", []int32{1, 2, 3, 9, 3}, 2, 3, 4, nil},
		{"period one", []int32{7, 7, 7}, 1, 3, 4, []int32{7}},
		{"single token", []int32{1}, 1, 3, 4, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := proposeNgram(tt.tokens, tt.nmin, tt.nmax, tt.k, nil)
			if !slices.Equal(got, tt.want) {
				t.Errorf("proposeNgram(%v) = %v, want %v", tt.tokens, got, tt.want)
			}
		})
	}
}

func TestSpeculativeConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    SpeculativeConfig
		ok   bool
	}{
		{"off", SpeculativeConfig{}, true},
		{"ngram", SpeculativeConfig{Method: "ngram", Tokens: 4, NgramMin: 1, NgramMax: 3}, true},
		{"tokens without method", SpeculativeConfig{Tokens: 4}, false},
		{"unknown method", SpeculativeConfig{Method: "eagle", Tokens: 4, NgramMin: 1, NgramMax: 3}, false},
		{"no tokens", SpeculativeConfig{Method: "ngram", NgramMin: 1, NgramMax: 3}, false},
		{"min above max", SpeculativeConfig{Method: "ngram", Tokens: 4, NgramMin: 4, NgramMax: 3}, false},
		{"min zero", SpeculativeConfig{Method: "ngram", Tokens: 4, NgramMax: 3}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.c.validate(); (err == nil) != tt.ok {
				t.Errorf("validate() = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

var specOn = SpeculativeConfig{Method: "ngram", Tokens: 4, NgramMin: 1, NgramMax: 3}

// runAll submits every request at once and collects every choice.
func runAll(t *testing.T, e *Engine, reqs []Request) [][]result {
	t.Helper()
	out := make([][]result, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		ch, err := e.Submit(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { out[i] = collectChoices(t, ch, r.choices()) })
	}
	wg.Wait()
	return out
}

// TestModelSpeculationKeepsOutputs: on the real model, outputs with n-gram
// speculation are the outputs without it, token for token and text for
// text, for many prompts served together: greedy, seeded sampling with
// penalties, n = 2 and stop strings, with the prefix cache on; drafts are
// proposed and accepted (stories260K repeats itself), and no block leaks.
func TestModelSpeculationKeepsOutputs(t *testing.T) {
	seeded := func(p []int32, seed uint64) Request {
		r := Request{Prompt: p, MaxTokens: 48}
		r.Sample.Temperature, r.Sample.TopP, r.Sample.Seed = 0.9, 0.95, seed
		r.Sample.TopK, r.Sample.MinP, r.Sample.TypicalP, r.Sample.RepetitionPenalty = 0, 0, 1, 1.1
		r.Sample.PenaltyLastN = 64
		return r
	}
	tests := []struct {
		name string
		reqs func() []Request
	}{
		{"greedy", func() []Request {
			var rs []Request
			for i := range 24 {
				rs = append(rs, greedyReq(storyPrompt(i, 2+5*i), 64))
			}
			return rs
		}},
		{"seeded sampling", func() []Request {
			var rs []Request
			for i := range 12 {
				rs = append(rs, seeded(storyPrompt(i, 4+7*i), uint64(i+1)))
			}
			return rs
		}},
		{"n=2 and stop strings", func() []Request {
			var rs []Request
			for i := range 8 {
				r := seeded(storyPrompt(i, 6+3*i), uint64(100+i))
				r.N = 2
				rs = append(rs, r)
				g := greedyReq(storyPrompt(i, 3+i), 64)
				g.StopStrings = []string{"the", "."}
				rs = append(rs, g)
			}
			return rs
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain := newModelEngine(t, 512, Config{PrefixCaching: true})
			spec := newModelEngine(t, 512, Config{PrefixCaching: true, Speculative: specOn})
			want := runAll(t, plain, tt.reqs())
			got := runAll(t, spec, tt.reqs())
			accepted := 0
			for i := range want {
				for c := range want[i] {
					w, g := want[i][c], got[i][c]
					if !slices.Equal(w.tokens, g.tokens) || w.text != g.text || w.last.Finish != g.last.Finish {
						t.Errorf("request %d choice %d:\nplain %v %q\nspec  %v %q", i, c, w.tokens, w.text, g.tokens, g.text)
					}
					if u := g.last.Usage; u != nil {
						accepted += u.AcceptedPredictionTokens
						if u.CompletionTokens != w.last.Usage.CompletionTokens {
							t.Errorf("request %d choice %d: completion tokens %d, want %d", i, c, u.CompletionTokens, w.last.Usage.CompletionTokens)
						}
					}
				}
			}
			m := spec.Metrics()
			t.Logf("drafts %d, accepted %d (%.0f%%), steps %d (plain %d)", m.DraftTokens, m.AcceptedTokens,
				100*float64(m.AcceptedTokens)/float64(max(m.DraftTokens, 1)), m.Steps, plain.Metrics().Steps)
			if m.DraftTokens == 0 || m.AcceptedTokens == 0 {
				t.Errorf("no speculation happened: %d drafts, %d accepted", m.DraftTokens, m.AcceptedTokens)
			}
			if tt.name == "greedy" && uint64(accepted) != m.AcceptedTokens {
				t.Errorf("usage counts %d accepted tokens, metrics %d", accepted, m.AcceptedTokens)
			}
			if m.KV.UsedBlocks != 0 {
				t.Errorf("blocks left in use: %+v", m.KV)
			}
		})
	}
}
