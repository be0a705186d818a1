package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/configs"
)

// spillPrompt is long enough for many 16-token blocks of stories260K.
var spillPrompt = strings.Repeat("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. ", 8)

// spillCompletion is the greedy answer to spillPrompt and its cached
// prompt tokens.
func spillCompletion(t *testing.T, url, model string) (string, int) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"model": model, "prompt": spillPrompt, "max_tokens": 24, "temperature": 0})
	code, resp := post(t, url+"/v1/completions", string(body))
	if code != 200 {
		t.Fatalf("completion: %d %s", code, resp)
	}
	var r struct {
		Choices []struct{ Text string } `json:"choices"`
		Usage   struct {
			PromptTokens  int `json:"prompt_tokens"`
			PromptDetails *struct {
				CachedTokens int `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(resp), &r); err != nil || len(r.Choices) != 1 {
		t.Fatalf("completion %s: %v", resp, err)
	}
	cached := 0
	if r.Usage.PromptDetails != nil {
		cached = r.Usage.PromptDetails.CachedTokens
	}
	if r.Usage.PromptTokens < 100 {
		t.Fatalf("the prompt has %d tokens, want a long one", r.Usage.PromptTokens)
	}
	return r.Choices[0].Text, cached
}

// spillFiles are the block files under dir.
func spillFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.kvb"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// stopServe stops p with SIGTERM and expects a clean exit.
func stopServe(t *testing.T, p *serveProcess) {
	t.Helper()
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("kiln serve exited with %d\n%s", code, p.logs.Tail(20))
	}
}

// TestServePrefixCacheDirRestart: the real `kiln serve` with
// --prefix-cache-dir saves its prefix cache when stopped; started again on
// the same directory it answers the same prompt with cached prompt tokens
// and the same greedy answer. A corrupted file costs a recompute, not the
// answer: it is deleted and counted.
func TestServePrefixCacheDirRestart(t *testing.T) {
	dir := t.TempDir()
	first := startServeProcess(t, "--prefix-cache-dir", dir)
	want, cached := spillCompletion(t, first.url, "")
	if cached != 0 {
		t.Fatalf("a fresh server reports %d cached tokens", cached)
	}
	stopServe(t, first)
	saved := spillFiles(t, dir)
	if len(saved) == 0 {
		t.Fatalf("nothing saved in %s\n%s", dir, first.logs.Tail(20))
	}

	second := startServeProcess(t, "--prefix-cache-dir", dir)
	got, cached := spillCompletion(t, second.url, "")
	if cached == 0 || got != want {
		t.Fatalf("after a restart: cached %d, answer %q, want %q", cached, got, want)
	}
	if hits := metric(t, second.url, "kiln_prefix_cache_spill_hits_total"); hits != float64(cached) {
		t.Errorf("kiln_prefix_cache_spill_hits_total %v, want the %d cached tokens", hits, cached)
	}
	if reads := metric(t, second.url, "kiln_prefix_cache_spill_reads_total"); reads != float64(cached/16) {
		t.Errorf("kiln_prefix_cache_spill_reads_total %v, want %d blocks", reads, cached/16)
	}
	stopServe(t, second)

	// Flip a byte in the middle of every file: the first block of the
	// prompt is refused and deleted, the chain stops there.
	files := spillFiles(t, dir)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		raw[len(raw)/2] ^= 0x20
		if err := os.WriteFile(f, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	third := startServeProcess(t, "--prefix-cache-dir", dir)
	got, cached = spillCompletion(t, third.url, "")
	if got != want || cached != 0 {
		t.Errorf("over corrupted files: cached %d, answer %q, want %q recomputed", cached, got, want)
	}
	if n := metric(t, third.url, "kiln_prefix_cache_spill_errors_total"); n != 1 {
		t.Errorf("kiln_prefix_cache_spill_errors_total %v, want 1", n)
	}
	left := spillFiles(t, dir)
	if len(left) != len(files)-1 {
		t.Errorf("%d files left of %d, want the corrupted one read gone", len(left), len(files))
	}
	for _, f := range left {
		if !slices.Contains(files, f) {
			t.Errorf("a new file appeared while serving: %s", f)
		}
	}
	if !strings.Contains(third.logs.String(), "ignored and deleted") {
		t.Error("the refused file was not logged")
	}
}

// TestServePrefixCacheDirUnusable: a directory that cannot be created is a
// start-up error naming the option.
func TestServePrefixCacheDirUnusable(t *testing.T) {
	if _, err := os.Stat(storiesGGUF); err != nil {
		t.Skipf("no test model: %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := configs.Defaults()
	cfg.Model, cfg.Host, cfg.Port, cfg.TensorParallelSize = storiesGGUF, "127.0.0.1", 0, 1
	cfg.KVCacheSize, cfg.SessionLen, cfg.MaxNumSeqs = "32MiB", 512, 4
	cfg.PrefixCacheDir = filepath.Join(file, "kv")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := serve(ctx, &cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "prefix_cache_dir (--prefix-cache-dir, KILN_PREFIX_CACHE_DIR)") {
		t.Errorf("serve with an unusable directory: %v", err)
	}
}

// TestServePrefixCacheDirModels: several models share one directory, each
// in its own subdirectory, and each reuses its own blocks after a restart
// (the router's engines save their pools when the server stops).
func TestServePrefixCacheDirModels(t *testing.T) {
	dir := t.TempDir()
	edit := func(c *configs.Config) { c.PrefixCacheDir = dir }
	models := []string{"stories260K", "smollm"}
	want := map[string]string{}
	t.Run("first", func(t *testing.T) {
		url := startTwoModels(t, edit)
		for _, m := range models {
			text, cached := spillCompletion(t, url, m)
			if cached != 0 {
				t.Errorf("%s: %d cached tokens on a fresh server", m, cached)
			}
			want[m] = text
		}
	})
	subs, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(subs) != 2 {
		t.Fatalf("%d model subdirectories, want 2: %v", len(subs), subs)
	}
	for _, s := range subs {
		if files, _ := filepath.Glob(filepath.Join(s, "*.kvb")); len(files) == 0 {
			t.Errorf("no blocks saved in %s", s)
		}
	}
	t.Run("restarted", func(t *testing.T) {
		url := startTwoModels(t, edit)
		for _, m := range models {
			text, cached := spillCompletion(t, url, m)
			if cached == 0 || text != want[m] {
				t.Errorf("%s after a restart: cached %d, %q, want %q", m, cached, text, want[m])
			}
		}
	})
}

// TestServePrefixCacheDirReplicas: with -dp 2 both replicas spill into
// the model's one subdirectory, and a restarted server reuses the blocks
// whichever replica answers.
func TestServePrefixCacheDirReplicas(t *testing.T) {
	dir := t.TempDir()
	edit := func(c *configs.Config) { c.PrefixCacheDir, c.DataParallelSize, c.TensorParallelSize = dir, 2, 1 }
	var want string
	t.Run("first", func(t *testing.T) {
		want, _ = spillCompletion(t, startServe(t, edit), "")
	})
	if subs, _ := filepath.Glob(filepath.Join(dir, "*")); len(subs) != 1 {
		t.Fatalf("%d subdirectories for one model served by two replicas: %v", len(subs), subs)
	}
	t.Run("restarted", func(t *testing.T) {
		url := startServe(t, edit)
		for i := range 2 { // the second may go to the other replica
			got, cached := spillCompletion(t, url, "")
			if got != want || cached == 0 {
				t.Errorf("request %d after a restart: cached %d, %q, want %q", i, cached, got, want)
			}
		}
	})
}
