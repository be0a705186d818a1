package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/configs"
)

// hfFixture is a tiny Qwen3 model as a Hugging Face directory (two
// safetensors shards, a byte-level BPE tokenizer.json, a ChatML template).
const hfFixture = "engine/model/testdata/arch/hf-tiny-qwen3"

// TestServeHFDirectory: `kiln serve --model DIR` converts a Hugging Face
// directory at start-up and serves it, chat template and stop token
// included, and its temporary GGUF is gone once loaded.
func TestServeHFDirectory(t *testing.T) {
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "kiln-hf-*.gguf"))
	cfg := configs.Defaults()
	cfg.Model, cfg.Host, cfg.Port, cfg.TensorParallelSize = hfFixture, "127.0.0.1", 0, 1
	cfg.KVCacheSize, cfg.SessionLen, cfg.MaxNumSeqs = "8MiB", 256, 2
	cfg.ShutdownGracePeriod = 2 * time.Second
	url := runServe(t, cfg)
	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "kiln-hf-*.gguf"))
	if len(after) > len(before) {
		t.Errorf("temporary GGUF files left behind: %v", after)
	}
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

// TestConvertHFDirectory: `kiln convert DIR -o OUT` writes a GGUF that
// `kiln run` loads; a bad directory is an error naming the problem.
func TestConvertHFDirectory(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.gguf")
	if err := runKiln("convert", hfFixture, "-o", out); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runKilnOutput(t, "run", "--model", out, "-p", "the cat", "-n", "4"); err != nil {
		t.Fatal(err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"architectures":["GPT2LMHeadModel"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := runKiln("convert", bad, "-o", filepath.Join(t.TempDir(), "x.gguf")); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("got %v, want an unsupported-architecture error", err)
	}
}
