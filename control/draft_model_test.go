package control

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/native"
)

// modelExecutor loads a GGUF of ../../shared (path relative to it) as an
// executor of numBlocks blocks of 16 tokens.
func modelExecutor(t testing.TB, path string, numBlocks int) Executor {
	t.Helper()
	storiesTokenizer(t) // skips without ../shared
	p, _ := filepath.Abs(filepath.Join("../../shared", path))
	m, err := model.Load(p, model.WithMaxBatchTokens(128))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	x, err := model.NewExecutor(m, numBlocks, 16, native.F32)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestModelDraftKeepsOutputs: on the real stories260K (F32) with its Q8_0
// quantization as the draft model (the same weights rounded: they mostly
// agree), outputs are the outputs without speculation, token for token and
// text for text, for many prompts served together with the prefix cache
// on: greedy, seeded sampling with penalties, n = 2 and stop strings; and
// with the model itself as the draft every greedy draft is accepted.
// Drafts are proposed and accepted, and no block of either pool leaks.
func TestModelDraftKeepsOutputs(t *testing.T) {
	seeded := func(p []int32, seed uint64) Request {
		r := Request{Prompt: p, MaxTokens: 48}
		r.Sample.Temperature, r.Sample.TopP, r.Sample.Seed = 0.9, 0.95, seed
		r.Sample.TopK, r.Sample.MinP, r.Sample.TypicalP, r.Sample.RepetitionPenalty = 0, 0, 1, 1.1
		r.Sample.PenaltyLastN = 64
		return r
	}
	greedy := func() []Request {
		var rs []Request
		for i := range 24 {
			rs = append(rs, greedyReq(storyPrompt(i, 2+5*i), 64))
		}
		return rs
	}
	tests := []struct {
		name      string
		draft     string
		reqs      func() []Request
		acceptAll bool
	}{
		{"greedy", "testdata/stories260K-q8_0.gguf", greedy, false},
		{"greedy, the model as its own draft", "models/stories260K.gguf", func() []Request { return greedy()[:12] }, true},
		{"seeded sampling", "testdata/stories260K-q8_0.gguf", func() []Request {
			var rs []Request
			for i := range 12 {
				rs = append(rs, seeded(storyPrompt(i, 4+7*i), uint64(i+1)))
			}
			return rs
		}, false},
		{"n=2 and stop strings", "testdata/stories260K-q8_0.gguf", func() []Request {
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
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain := newModelEngine(t, 512, Config{PrefixCaching: true})
			spec := newModelEngine(t, 512, Config{PrefixCaching: true, Speculative: SpeculativeConfig{
				Method: "draft", Tokens: 4, Draft: modelExecutor(t, tt.draft, 512)}})
			want := runAll(t, plain, tt.reqs())
			got := runAll(t, spec, tt.reqs())
			accepted := 0
			for i := range want {
				for c := range want[i] {
					w, g := want[i][c], got[i][c]
					if !slices.Equal(w.tokens, g.tokens) || w.text != g.text || w.last.Finish != g.last.Finish {
						t.Errorf("request %d choice %d:\nplain %v %q\ndraft %v %q", i, c, w.tokens, w.text, g.tokens, g.text)
					}
					if u := g.last.Usage; u != nil {
						accepted += u.AcceptedPredictionTokens
					}
				}
			}
			m := spec.Metrics()
			t.Logf("drafts %d, accepted %d (%.0f%%), draft forwards %d, steps %d (plain %d)", m.DraftTokens, m.AcceptedTokens,
				100*float64(m.AcceptedTokens)/float64(max(m.DraftTokens, 1)), m.DraftForwards, m.Steps, plain.Metrics().Steps)
			if m.DraftTokens == 0 || m.AcceptedTokens == 0 {
				t.Errorf("no speculation happened: %d drafts, %d accepted", m.DraftTokens, m.AcceptedTokens)
			}
			if tt.acceptAll && m.AcceptedTokens != m.DraftTokens {
				t.Errorf("the model as its own draft: %d of %d drafts accepted, want all", m.AcceptedTokens, m.DraftTokens)
			}
			if !slices.ContainsFunc(tt.reqs(), func(r Request) bool { return r.N > 1 }) && uint64(accepted) != m.AcceptedTokens {
				t.Errorf("usage counts %d accepted tokens, metrics %d", accepted, m.AcceptedTokens)
			}
			if m.KV.UsedBlocks != 0 || m.DraftKV.UsedBlocks != 0 {
				t.Errorf("blocks left in use: target %+v, draft %+v", m.KV, m.DraftKV)
			}
		})
	}
}
