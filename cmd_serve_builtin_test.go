package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/configs"
	"github.com/kiln-llm/kiln/engine/defaultmodel"
)

// TestServeBuiltinModel is the quick start on a fresh machine: no --model
// and nothing in the cache; serve writes the built-in stories260K to the
// user cache directory and answers the README's first request exactly as
// curl -d sends it (labelled application/x-www-form-urlencoded).
func TestServeBuiltinModel(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	cfg := configs.Defaults()
	cfg.Host, cfg.Port, cfg.TensorParallelSize = "127.0.0.1", 0, 1
	cfg.KVCacheSize, cfg.SessionLen, cfg.MaxNumSeqs = "32MiB", 512, 4
	cfg.ShutdownGracePeriod = 2 * time.Second
	url := runServe(t, cfg)

	want := filepath.Join(cache, "kiln", defaultmodel.Sum()[:16], "stories260K.gguf")
	if b, err := os.ReadFile(want); err != nil || len(b) != len(defaultmodel.Bytes()) {
		t.Errorf("built-in model not written to %s: %v", want, err)
	}
	req, _ := http.NewRequest("POST", url+"/v1/completions", strings.NewReader(`{"prompt":"Once upon a time","max_tokens":32}`))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded") // what curl -d says
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Model   string
		Choices []struct{ Text string }
		Usage   struct {
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &r) != nil || r.Model != "stories260K" || len(r.Choices) != 1 || r.Choices[0].Text == "" || r.Usage.CompletionTokens != 32 {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
}
