package main

import (
	"bytes"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/configs"
)

// TestServeFlagAliases: the option names users bring from LMDeploy,
// FastChat, vLLM and the Chinese-LLaMA-Alpaca-2 demo set kiln's options,
// as the documents spell them.
func TestServeFlagAliases(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		check func(c *configs.Config) bool
	}{
		{"LMDeploy --server-name --server-port --tp", []string{"--server-name", "127.0.0.1", "--server-port", "23333", "--tp", "1"},
			func(c *configs.Config) bool {
				return c.Host == "127.0.0.1" && c.Port == 23333 && c.TensorParallelSize == 1
			}},
		{"LMDeploy snake_case", []string{"--server_name", "0.0.0.0", "--server_port", "23334", "--session_len", "256", "--cache_max_entry_count", "0.5"},
			func(c *configs.Config) bool {
				return c.Host == "0.0.0.0" && c.Port == 23334 && c.SessionLen == 256 && c.CacheMaxEntryCount == 0.5
			}},
		{"FastChat --model-path --model-names", []string{"--model-path", storiesGGUF, "--model-names", "vicuna-7b-v1.5,gpt-3.5-turbo"},
			func(c *configs.Config) bool {
				return c.Model == storiesGGUF && slices.Equal(c.ModelNames, []string{"vicuna-7b-v1.5", "gpt-3.5-turbo"})
			}},
		{"vLLM -tp and --served-model-name", []string{"-m", storiesGGUF, "-tp", "1", "--served-model-name", "chinese-llama-alpaca-2"},
			func(c *configs.Config) bool {
				return c.TensorParallelSize == 1 && c.ServedModelName == "chinese-llama-alpaca-2"
			}},
		{"Alpaca-2 vLLM demo --tokenizer-mode slow", []string{"--model", storiesGGUF, "--tokenizer", storiesGGUF, "--tokenizer-mode", "slow"},
			func(c *configs.Config) bool { return c.Tokenizer == storiesGGUF && c.TokenizerMode == "slow" }},
		{"devices cpu:0-1", []string{"--devices", "cpu:0-1", "--tp", "1"},
			func(c *configs.Config) bool { return slices.Equal(c.DeviceCPUs, []int{0, 1}) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fs := newServeCommand().Flags()
			if err := fs.Parse(expandShorthands(tc.args)); err != nil {
				t.Fatal(err)
			}
			c, err := configs.Load("", fs)
			if err != nil {
				if strings.Contains(strings.Join(tc.args, " "), "cpu:0-1") && strings.Contains(err.Error(), "does not exist") {
					t.Skipf("a one-CPU machine: %v", err)
				}
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("%v gave %+v", tc.args, c)
			}
		})
	}
}

// TestServeHelpListsKilnNames: aliases stay out of --help, which lists
// kiln's own names once each.
func TestServeHelpListsKilnNames(t *testing.T) {
	var out bytes.Buffer
	cmd := newServeCommand()
	cmd.SetOut(&out)
	if err := cmd.Help(); err != nil {
		t.Fatal(err)
	}
	for _, alias := range []string{"--server-port", "--model-path", "--model-names"} {
		if regexp.MustCompile(`(?m)^\s+` + alias + ` `).MatchString(out.String()) {
			t.Errorf("help lists alias %s as a flag", alias)
		}
	}
	if !strings.Contains(out.String(), "--strict-model-name") || !strings.Contains(out.String(), "--server-port") {
		t.Errorf("help lacks --strict-model-name or the alias note:\n%s", out.String())
	}
}

// TestLoadProgress: a terminal sees bytes, rate and ETA; a log sees a
// line per tenth with bytes, total and eta.
func TestLoadProgress(t *testing.T) {
	clock := time.Unix(0, 0)
	now := func() time.Time { return clock }
	var tty, logBuf bytes.Buffer
	bar := loadProgress("loading m.gguf", &tty, true, slog.Default(), now)
	lines := loadProgress("loading m.gguf", nil, false, slog.New(slog.NewTextHandler(&logBuf, nil)), now)
	const total = 100 << 20
	for done := int64(10 << 20); done <= total; done += 10 << 20 {
		clock = clock.Add(time.Second)
		bar(done, total)
		lines(done, total)
	}
	if s := tty.String(); !strings.Contains(s, "50.0 MiB/100.0 MiB") || !strings.Contains(s, "10.0 MiB/s ETA 5s") || !strings.Contains(s, "loading m.gguf: 100.0 MiB in 10s") {
		t.Errorf("terminal progress: %q", s)
	}
	if s := logBuf.String(); strings.Count(s, "\n") != 10 || !strings.Contains(s, "bytes=52428800 total=104857600 percent=50 eta=5s") {
		t.Errorf("log progress: %q", s)
	}
}
