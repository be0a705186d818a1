package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/configs"
	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/engine/tokenizer/llamaconv"
)

// hfFixture is a tiny Qwen3 model as a Hugging Face directory (two
// safetensors shards, a byte-level BPE tokenizer.json, a ChatML template).
const hfFixture = "engine/model/testdata/arch/hf-tiny-qwen3"

// TestServeHFDirectory: `kiln serve --model DIR` maps a Hugging Face
// directory in place and serves it, chat template and stop token included.
func TestServeHFDirectory(t *testing.T) {
	cfg := configs.Defaults()
	cfg.Model, cfg.Host, cfg.Port, cfg.TensorParallelSize = hfFixture, "127.0.0.1", 0, 1
	cfg.KVCacheSize, cfg.SessionLen, cfg.MaxNumSeqs = "8MiB", 256, 2
	cfg.ShutdownGracePeriod = 2 * time.Second
	url := runServe(t, cfg)
	for _, tc := range []struct{ path, body string }{
		{"/v1/completions", `{"model":"hf-tiny-qwen3","prompt":"the cat","max_tokens":8,"temperature":0}`},
		{"/v1/chat/completions", `{"model":"hf-tiny-qwen3","messages":[{"role":"user","content":"hi there"}],"max_tokens":8,"temperature":0}`},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/v1/"), func(t *testing.T) {
			code, body := post(t, url+tc.path, tc.body)
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, body)
			}
			var r struct {
				Usage struct {
					PromptTokens     int `json:"prompt_tokens"`
					CompletionTokens int `json:"completion_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				t.Fatal(err)
			}
			if r.Usage.PromptTokens == 0 || r.Usage.CompletionTokens == 0 {
				t.Fatalf("usage %+v: %s", r.Usage, body)
			}
		})
	}
}

// TestServeHFSentencePieceDirectory: a Hugging Face directory whose
// tokenizer.json is SentencePiece-style (as Llama 2, Mistral v0.1, Gemma
// and Phi-3 ship it) serves, with the prompt tokenized as the GGUF of the
// same vocabulary tokenizes it.
func TestServeHFSentencePieceDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hf-tiny-spm")
	if err := os.CopyFS(dir, os.DirFS(hfFixture)); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open("engine/model/testdata/arch/tiny-qwen3-f16.gguf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ref, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	tokens, _ := f.Strings("tokenizer.ggml.tokens")
	scores, _ := f.Float32s("tokenizer.ggml.scores")
	types, _ := f.Int32s("tokenizer.ggml.token_type")
	js, err := llamaconv.TokenizerJSON(tokens, scores, types,
		llamaconv.Options{Space: llamaconv.Legacy, AddBOS: true, BOS: ref.BOS(), UNK: ref.Unknown()})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), js, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"add_bos_token":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := configs.Defaults()
	cfg.Model, cfg.Host, cfg.Port, cfg.TensorParallelSize = dir, "127.0.0.1", 0, 1
	cfg.KVCacheSize, cfg.SessionLen, cfg.MaxNumSeqs = "8MiB", 256, 2
	cfg.ShutdownGracePeriod = 2 * time.Second
	url := runServe(t, cfg)
	const prompt = "the cat sat on the mat"
	code, body := post(t, url+"/v1/completions", `{"model":"hf-tiny-spm","prompt":"`+prompt+`","max_tokens":4,"temperature":0}`)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	var r struct {
		Usage struct {
			PromptTokens     int `json:"prompt_tokens"`
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if want := len(ref.Encode(prompt, true, false)); r.Usage.PromptTokens != want || r.Usage.CompletionTokens == 0 {
		t.Fatalf("usage %+v, want %d prompt tokens: %s", r.Usage, want, body)
	}
}

// TestConvertHFDirectory: `kiln convert DIR -o OUT` writes a GGUF that
// `kiln run` loads, as it loads the directory itself; a bad directory is an
// error naming the problem.
func TestConvertHFDirectory(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.gguf")
	if err := runKiln("convert", hfFixture, "-o", out); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{out, hfFixture} {
		if _, _, err := runKilnOutput(t, "run", "--model", m, "-p", "the cat", "-n", "4"); err != nil {
			t.Fatal(err)
		}
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"architectures":["GPT2LMHeadModel"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := runKiln("convert", bad, "-o", filepath.Join(t.TempDir(), "x.gguf")); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("got %v, want an unsupported-architecture error", err)
	}
}

// TestServeSlidingWindowPrefixCache: a sliding-window, soft-capped model
// (tiny gemma2, window 8) served for real gives the same greedy text when
// its long prompt comes back from the prefix cache, as for a cold prompt,
// and with n=2 (forked, copy-on-write blocks) both choices equal it too.
func TestServeSlidingWindowPrefixCache(t *testing.T) {
	cfg := configs.Defaults()
	cfg.Model, cfg.Host, cfg.Port, cfg.TensorParallelSize = "engine/model/testdata/arch/tiny-gemma2-f16.gguf", "127.0.0.1", 0, 1
	cfg.KVCacheSize, cfg.SessionLen, cfg.MaxNumSeqs = "8MiB", 256, 4
	cfg.ShutdownGracePeriod = 2 * time.Second
	url := runServe(t, cfg)
	prompt := "a small cat sat by the warm fire, and the rain fell on the roof all night long"
	texts := func(n int) []string {
		code, body := post(t, url+"/v1/completions",
			`{"model":"tiny-gemma2-f16","prompt":"`+prompt+`","max_tokens":12,"temperature":0,"n":`+strconv.Itoa(n)+`}`)
		if code != http.StatusOK {
			t.Fatalf("status %d: %s", code, body)
		}
		var r struct {
			Choices []struct {
				Text string `json:"text"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range r.Choices {
			out = append(out, c.Text)
		}
		return out
	}
	cold := texts(1)
	hits := metric(t, url, "kiln_prefix_cache_hits_total")
	warm := texts(1)
	if after := metric(t, url, "kiln_prefix_cache_hits_total"); after <= hits {
		t.Fatalf("the second request did not hit the prefix cache (%v -> %v hits)", hits, after)
	}
	if warm[0] != cold[0] {
		t.Fatalf("from the prefix cache %q, cold %q", warm[0], cold[0])
	}
	for i, s := range texts(2) {
		if s != cold[0] {
			t.Errorf("n=2 choice %d: %q, want %q", i, s, cold[0])
		}
	}
}
