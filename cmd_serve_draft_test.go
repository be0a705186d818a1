package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/configs"
)

// storiesQ8GGUF is stories260K quantized to Q8_0: a draft that mostly
// agrees with the F32 model.
const storiesQ8GGUF = "../shared/testdata/stories260K-q8_0.gguf"

// TestServeDraftModel serves stories260K without speculation, with its
// Q8_0 copy as the draft model, and with the draft under -dp 2: the same
// completions for greedy, stop strings, seeded n = 2 and a JSON-schema
// constrained chat; the drafts are counted in the usage and in /metrics
// by method, and the draft's K/V is all released at the end.
func TestServeDraftModel(t *testing.T) {
	if _, err := os.Stat(storiesQ8GGUF); err != nil {
		t.Skipf("no draft model: %v", err)
	}
	urls := []string{
		startServe(t, nil),
		startServe(t, func(c *configs.Config) { c.DraftModel = storiesQ8GGUF }),
		startServe(t, func(c *configs.Config) { c.DraftModel, c.DataParallelSize, c.KVCacheSize = storiesQ8GGUF, 2, "16MiB" }),
	}
	bodies := []struct{ path, body string }{
		{"/v1/completions", `{"prompt": "Once upon a time", "max_tokens": 80, "temperature": 0}`},
		{"/v1/completions", `{"prompt": "Lily and Ben", "max_tokens": 80, "temperature": 0, "stop": ["park", "."]}`},
		{"/v1/completions", `{"prompt": "The dog", "max_tokens": 60, "temperature": 0.8, "seed": 7, "n": 2}`},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "A pet as JSON."}], "max_tokens": 60, "temperature": 1, "seed": 3,
			"response_format": {"type": "json_schema", "json_schema": {"name": "pet", "strict": true, "schema": ` + petSchema + `}}}`},
	}
	type reply struct {
		Choices []struct {
			Text    string `json:"text"`
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
			Details          *struct {
				Accepted int `json:"accepted_prediction_tokens"`
			} `json:"completion_tokens_details"`
		} `json:"usage"`
	}
	accepted := make([]int, len(urls))
	for _, b := range bodies {
		var want string
		for i, url := range urls {
			code, body := post(t, url+b.path, b.body)
			if code != 200 {
				t.Fatalf("%s%s: %d %s", url, b.path, code, body)
			}
			var r reply
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, c := range r.Choices {
				fmt.Fprintf(&got, "[%s|%s] %s", c.Text, c.Message.Content, c.FinishReason)
			}
			if d := r.Usage.Details; d != nil {
				accepted[i] += d.Accepted
			}
			if i == 0 {
				want = got.String()
			} else if got.String() != want {
				t.Errorf("%s %s:\nplain %s\ndraft %s", url, b.body, want, got.String())
			}
		}
	}
	for i, url := range urls[1:] {
		acc := metric(t, url, `kiln_spec_decode_method_accepted_tokens_total{method="draft"}`)
		drafts := metric(t, url, `kiln_spec_decode_method_draft_tokens_total{method="draft"}`)
		fwd := metric(t, url, "kiln_spec_decode_draft_model_forwards_total")
		t.Logf("%s: drafts %v, accepted %v, draft forwards %v (usage: %d accepted)", url, drafts, acc, fwd, accepted[i+1])
		if acc == 0 || drafts < acc || fwd == 0 || acc != float64(accepted[i+1]) {
			t.Errorf("%s: %v drafts, %v accepted, %v draft forwards: want drafts accepted", url, drafts, acc, fwd)
		}
		waitEngineIdle(t, url, 5*time.Second)
		if used := metric(t, url, `kiln_spec_decode_draft_kv_blocks{state="used"}`); used != 0 {
			t.Errorf("%s: %v draft K/V blocks in use when idle", url, used)
		}
	}
}

// TestServeDraftModelVocabularyMismatch: a draft model with another
// tokenizer is a start-up error naming both models.
func TestServeDraftModelVocabularyMismatch(t *testing.T) {
	if _, err := os.Stat(tinyGGUF); err != nil {
		t.Skipf("no test model: %v", err)
	}
	cfg := configs.Defaults()
	cfg.Model, cfg.DraftModel, cfg.Host, cfg.Port, cfg.TensorParallelSize = storiesGGUF, tinyGGUF, "127.0.0.1", 0, 1
	cfg.KVCacheSize, cfg.SessionLen = "32MiB", 512
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	err := serve(context.Background(), &cfg, nil)
	if err == nil || !strings.Contains(err.Error(), storiesGGUF) || !strings.Contains(err.Error(), tinyGGUF) || !strings.Contains(err.Error(), "tokenizer") {
		t.Fatalf("serve = %v; want an error naming both models' tokenizers", err)
	}
	t.Log(err)
}
