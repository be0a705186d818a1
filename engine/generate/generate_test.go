package generate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/native"
)

// sharedDir is ../shared beside the repository; tests skip without it.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../../../shared")
	if err != nil {
		t.Skipf("shared test data: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "models", "stories260K.gguf")); err != nil {
		t.Skipf("shared test data not found at %s", dir)
	}
	return dir
}

func loadStories(t *testing.T) (*model.Model, *tokenizer.Tokenizer, string) {
	t.Helper()
	shared := sharedDir(t)
	m, err := model.Load(filepath.Join(shared, "models", "stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	tok, err := tokenizer.FromGGUF(m.File())
	if err != nil {
		t.Fatal(err)
	}
	return m, tok, shared
}

func greedy(n int) Options {
	o := DefaultOptions()
	o.MaxTokens = n
	o.Sample.Temperature = 0
	o.KVType = native.F32 // the references are F32 runs
	return o
}

// TestGreedyFromBOS reproduces llama2.c's greedy ids and text of stories260K
// from BOS alone, and checks the streamed pieces concatenate to the text.
func TestGreedyFromBOS(t *testing.T) {
	m, tok, shared := loadStories(t)
	b, err := os.ReadFile(filepath.Join(shared, "models/reference/stories260K_greedy_from_BOS_60_token_ids.txt"))
	if err != nil {
		t.Skipf("reference ids: %v", err)
	}
	var want []int32
	for _, f := range strings.Fields(string(b)) {
		v, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, int32(v))
	}
	var streamed strings.Builder
	const steps = 200 // llama2.c run.c -n 200: one token generated per position 0..199
	st, err := Generate(context.Background(), m, tok, "", greedy(steps), func(s string) { streamed.WriteString(s) })
	if err != nil {
		t.Fatal(err)
	}
	if st.PromptTokens != 1 || want[0] != tok.BOS() {
		t.Fatalf("prompt tokens %d (want BOS only), reference starts with %d", st.PromptTokens, want[0])
	}
	if len(st.Tokens) < len(want)-1 || !slices.Equal(st.Tokens[:len(want)-1], want[1:]) {
		t.Errorf("greedy ids\n got %v\nwant %v", st.Tokens[:min(len(st.Tokens), len(want)-1)], want[1:])
	}
	if got, dec := streamed.String(), tok.NewStreamDecoder(); true {
		var all strings.Builder
		for _, id := range st.Tokens {
			all.WriteString(dec.Add(id))
		}
		all.WriteString(dec.Flush())
		if got != all.String() {
			t.Errorf("streamed text differs from the decoded ids:\n got %q\nwant %q", got, all.String())
		}
	}
	if st.Stop == StopLength {
		text, err := os.ReadFile(filepath.Join(shared, "models/reference/stories260K_greedy_200steps.txt"))
		if err != nil {
			t.Skipf("reference text: %v", err)
		}
		if got, want := strings.TrimSpace(streamed.String()), strings.TrimSpace(string(text)); got != want {
			t.Errorf("200-step text\n got %q\nwant %q", got, want)
		}
	}
	if st.PrefillTPS() <= 0 || st.DecodeTPS() <= 0 || st.DecodeTokens != st.GeneratedTokens-1 {
		t.Errorf("stats %+v: want positive rates and one decode forward per token but the last", st)
	}
}

// TestStopAtEOG forces EOS with a logit bias: generation ends at once, the
// EOS token is neither counted nor streamed.
func TestStopAtEOG(t *testing.T) {
	m, tok, _ := loadStories(t)
	for _, temp := range []float32{0, 0.8} {
		t.Run(strconv.FormatFloat(float64(temp), 'g', -1, 32), func(t *testing.T) {
			o := greedy(20)
			o.Sample.Temperature = temp
			o.Sample.LogitBias = map[int32]float32{tok.EOS(): 100}
			var pieces []string
			st, err := Generate(context.Background(), m, tok, "Once upon a time", o, func(s string) { pieces = append(pieces, s) })
			if err != nil {
				t.Fatal(err)
			}
			if st.Stop != StopEOG || st.GeneratedTokens != 0 || len(pieces) != 0 {
				t.Errorf("stop %q, %d tokens, pieces %q: want an immediate EOG stop", st.Stop, st.GeneratedTokens, pieces)
			}
		})
	}
}

// TestSeededSampling: the same seed replays the same text, another seed
// (very likely) does not.
func TestSeededSampling(t *testing.T) {
	m, tok, _ := loadStories(t)
	run := func(seed uint64) string {
		o := DefaultOptions()
		o.MaxTokens = 40
		o.Sample.Temperature = 1
		o.Sample.Seed = seed
		var b strings.Builder
		if _, err := Generate(context.Background(), m, tok, "Once upon a time", o, func(s string) { b.WriteString(s) }); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	a, b, c := run(42), run(42), run(7)
	if a != b {
		t.Errorf("seed 42 twice:\n%q\n%q", a, b)
	}
	if a == c {
		t.Errorf("seeds 42 and 7 gave the same text %q", a)
	}
}

// TestContextAndChunks: a context stops generation when full, and a
// prompt longer than the max batch is prefilled in chunks to the same result.
func TestContextAndChunks(t *testing.T) {
	m, tok, shared := loadStories(t)
	o := greedy(100)
	o.CtxLen = 10
	st, err := Generate(context.Background(), m, tok, "Once upon a time", o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Stop != StopContext || st.PromptTokens+st.GeneratedTokens != 11 {
		// 10 tokens fit; the 11th is sampled from the last logits, not evaluated.
		t.Errorf("stop %q after %d+%d tokens, want context after 10+1", st.Stop, st.PromptTokens, st.GeneratedTokens)
	}

	small, err := model.Load(filepath.Join(shared, "models", "stories260K.gguf"), model.WithMaxBatchTokens(3))
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	prompt := "Once upon a time, there was a little girl named Lily."
	a, err := Generate(context.Background(), m, tok, prompt, greedy(20), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Generate(context.Background(), small, tok, prompt, greedy(20), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Tokens, b.Tokens) {
		t.Errorf("chunked prefill (3 tokens a forward) changed greedy output:\n%v\n%v", a.Tokens, b.Tokens)
	}
}

func TestBadInputs(t *testing.T) {
	m, tok, _ := loadStories(t)
	long := strings.Repeat("Once upon a time ", 20)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		prompt string
		edit   func(*Options)
		want   string
	}{
		{"zero tokens", context.Background(), "hi", func(o *Options) { o.MaxTokens = 0 }, "max tokens"},
		{"negative ctx", context.Background(), "hi", func(o *Options) { o.CtxLen = -1 }, "context length"},
		{"bad kv", context.Background(), "hi", func(o *Options) { o.KVType = native.Q4_0 }, "kv type"},
		{"bad top_p", context.Background(), "hi", func(o *Options) { o.Sample.TopP = 0 }, "top_p"},
		{"prompt over ctx", context.Background(), long, func(o *Options) { o.CtxLen = 16 }, "no room"},
		{"cancelled", cancelled, "hi", func(*Options) {}, "context canceled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := greedy(8)
			tc.edit(&o)
			_, err := Generate(tc.ctx, m, tok, tc.prompt, o, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := GenerateTokens(context.Background(), m, tok, nil, greedy(8), nil); !errors.Is(err, ErrEmptyPrompt) {
		t.Errorf("empty prompt: err %v, want ErrEmptyPrompt", err)
	}
}
