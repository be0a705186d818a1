package configs

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// modelFile is any existing file: Validate only checks that it exists.
func modelFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.gguf")
	if err := os.WriteFile(p, []byte("GGUF"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKilnYAMLMatchesDefaults(t *testing.T) {
	t.Setenv("KILN_MODEL", modelFile(t))
	c, err := Load("kiln.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.Model = c.Model
	got := *c
	got.DeviceCPUs, got.BodyLimitBytes, got.KVCacheBytes, got.AllAPIKeys, got.ModelsMemoryBudgetBytes, got.ModelNames = nil, 0, 0, nil, 0, nil
	got.PrefixCacheDirMaxBytesN, got.PrefixCacheRAMBytesN = 0, 0
	got.DraftKVCacheBytes = 0
	if len(got.APIKeys) == 0 {
		got.APIKeys = nil // [] in the file, nil in Defaults
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("kiln.yaml differs from Defaults:\n got %+v\nwant %+v", got, want)
	}
	b, _ := os.ReadFile("kiln.yaml")
	for _, o := range options {
		if !strings.Contains(string(b), "\n"+o.key+":") {
			t.Errorf("kiln.yaml lacks option %s", o.key)
		}
	}
	keyed := 0 // fields with a key (the others are derived by Validate)
	for f := range reflect.TypeFor[Config]().Fields() {
		if f.Tag.Get("mapstructure") != "-" {
			keyed++
		}
	}
	if len(options) != keyed {
		t.Errorf("%d options for %d fields", len(options), keyed)
	}
}

func TestPrecedence(t *testing.T) {
	m := modelFile(t)
	file := filepath.Join(t.TempDir(), "kiln.yaml")
	if err := os.WriteFile(file, []byte("model: "+m+"\nport: 9001\nhost: 127.0.0.1\nmax_num_seqs: 4\napi_keys: [a, b]\nrequest_timeout: 5s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	newFlags := func(args ...string) *pflag.FlagSet {
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		RegisterFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return fs
	}
	cases := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(*Config) bool
	}{
		{"file over default", nil, nil, func(c *Config) bool { return c.Port == 9001 && c.MaxNumSeqs == 4 && c.MaxBatchTokens == 512 }},
		{"env over file", map[string]string{"KILN_PORT": "9002", "KILN_API_KEYS": "x,y,z"}, nil,
			func(c *Config) bool { return c.Port == 9002 && c.Host == "127.0.0.1" && len(c.APIKeys) == 3 }},
		{"flag over env", map[string]string{"KILN_PORT": "9002"}, []string{"--port", "9003", "--request-timeout", "1m"},
			func(c *Config) bool { return c.Port == 9003 && c.RequestTimeout == time.Minute && c.MaxNumSeqs == 4 }},
		{"unset flag keeps env", map[string]string{"KILN_MAX_NUM_SEQS": "8"}, []string{"--host", "::1"},
			func(c *Config) bool { return c.MaxNumSeqs == 8 && c.Host == "::1" && c.Port == 9001 }},
		{"bool flag", nil, []string{"--enable-prefix-caching=false"}, func(c *Config) bool { return !c.EnablePrefixCaching }},
		{"prefix cache dir", map[string]string{"KILN_PREFIX_CACHE_DIR": "/var/kv", "KILN_PREFIX_CACHE_RAM_BYTES": "1GiB"}, []string{"--prefix-cache-dir-max-bytes", "8GiB"},
			func(c *Config) bool {
				return c.PrefixCacheDir == "/var/kv" && c.PrefixCacheDirMaxBytesN == 8<<30 && c.PrefixCacheRAMBytesN == 1<<30
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := Load(file, newFlags(tc.args...))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

func TestValidateNamesTheOption(t *testing.T) {
	m := modelFile(t)
	cases := []struct {
		key  string
		edit func(*Config)
	}{
		{"served_model_name", func(c *Config) { c.ServedModelName = "a,,b" }},
		{"tokenizer", func(c *Config) { c.Tokenizer = "/some/hf/tokenizer" }},
		{"tokenizer_mode", func(c *Config) { c.TokenizerMode = "mistral" }},
		{"model", func(c *Config) { c.Model = "/nonexistent/x.gguf" }},
		{"port", func(c *Config) { c.Port = 70000 }},
		{"tensor_parallel_size", func(c *Config) { c.TensorParallelSize = -1 }},
		{"data_parallel_size", func(c *Config) { c.DataParallelSize = 0 }},
		{"pipeline_parallel_size", func(c *Config) { c.PipelineParallelSize = 2 }},
		{"devices", func(c *Config) { c.Devices = "gpu:0" }},
		{"devices", func(c *Config) { c.Devices = "cpu:0-99999" }},
		{"devices", func(c *Config) { c.Devices = "cpu:3-1" }},
		{"api_keys", func(c *Config) { c.APIKeys = []string{" "} }},
		{"api_key_file", func(c *Config) { c.APIKeyFile = "/nonexistent" }},
		{"session_len", func(c *Config) { c.SessionLen = 1 }},
		{"cache_max_entry_count", func(c *Config) { c.CacheMaxEntryCount = 1.5 }},
		{"cache_max_entry_count", func(c *Config) { c.CacheMaxEntryCount = 0 }},
		{"kv_cache_size", func(c *Config) { c.KVCacheSize = "lots" }},
		{"kv_cache_dtype", func(c *Config) { c.KVCacheDtype = "q4" }},
		{"prefix_cache_dir", func(c *Config) { c.PrefixCacheDir, c.EnablePrefixCaching = "/tmp/kv", false }},
		{"prefix_cache_dir_max_bytes", func(c *Config) { c.PrefixCacheDirMaxBytes = "0" }},
		{"prefix_cache_dir_max_bytes", func(c *Config) { c.PrefixCacheDirMaxBytes = "lots" }},
		{"prefix_cache_ram_bytes", func(c *Config) { c.PrefixCacheRAMBytes = "-1GiB" }},
		{"block_size", func(c *Config) { c.BlockSize = 12 }},
		{"max_num_seqs", func(c *Config) { c.MaxNumSeqs = 0 }},
		{"max_num_seqs", func(c *Config) { c.MaxNumSeqs = 1000 }},
		{"max_batch_tokens", func(c *Config) { c.MaxBatchTokens = 0 }},
		{"max_queue", func(c *Config) { c.MaxQueue = 0 }},
		{"cors_origins", func(c *Config) { c.CORSOrigins = []string{"example.com"} }},
		{"body_limit", func(c *Config) { c.BodyLimit = "1" }},
		{"grammar_max_bytes", func(c *Config) { c.GrammarMaxBytes = "1KiB" }},
		{"grammar_step_work", func(c *Config) { c.GrammarStepWork = 10 }},
		{"grammar_cache_bytes", func(c *Config) { c.GrammarCacheBytes = "lots" }},
		{"request_timeout", func(c *Config) { c.RequestTimeout = -time.Second }},
		{"read_timeout", func(c *Config) { c.ReadTimeout = 0 }},
		{"shutdown_grace_period", func(c *Config) { c.ShutdownGracePeriod = -time.Second }},
		{"log_format", func(c *Config) { c.LogFormat = "xml" }},
		{"log_level", func(c *Config) { c.LogLevel = "loud" }},
		{"response_role", func(c *Config) { c.ResponseRole = "" }},
		{"tool_call_parser", func(c *Config) { c.ToolCallParser = "gpt" }},
		{"reasoning_parser", func(c *Config) { c.ReasoningParser = "o1" }},
		{"response_store_entries", func(c *Config) { c.ResponseStoreEntries = 0 }},
		{"enable_auto_tool_choice", func(c *Config) { c.EnableAutoToolChoice = true }},
		{"chat_template", func(c *Config) { c.ChatTemplate = "/nonexistent.jinja" }},
		{"speculative", func(c *Config) { c.Speculative = "eagle" }},
		{"speculative", func(c *Config) { c.Speculative = "draft" }},
		{"num_speculative_tokens", func(c *Config) { c.Speculative, c.NumSpeculativeTokens = "ngram", 17 }},
		{"ngram_max", func(c *Config) { c.Speculative, c.NgramMax = "ngram", 0 }},
		{"draft_model", func(c *Config) { c.DraftModel = "/nonexistent/draft.gguf" }},
		{"draft_model", func(c *Config) { c.Speculative, c.DraftModel = "ngram", m }},
		{"draft_kv_cache_size", func(c *Config) { c.DraftModel, c.DraftKVCacheSize = m, "some" }},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			c := Defaults()
			c.Model = m
			tc.edit(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), "option "+tc.key+" (--"+FlagName(tc.key)+", "+EnvName(tc.key)+")") {
				t.Errorf("error does not name %s: %v", tc.key, err)
			}
		})
	}
	t.Run("defaults valid", func(t *testing.T) {
		c := Defaults()
		c.Model = m
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if c.BodyLimitBytes != 4<<20 {
			t.Errorf("body limit %d", c.BodyLimitBytes)
		}
	})
}

func TestConfigFileFromEnv(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kiln.yaml")
	if err := os.WriteFile(file, []byte("model: "+modelFile(t)+"\nport: 9100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KILN_CONFIG", file)
	c, err := Load("", nil)
	if err != nil || c.Port != 9100 {
		t.Fatalf("%v %+v", err, c)
	}
}

func TestUnknownFileKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kiln.yaml")
	if err := os.WriteFile(file, []byte("model: x\nmax_num_seq: 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(file, nil); err == nil || !strings.Contains(err.Error(), `"max_num_seq"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestParseDevicesAndSize(t *testing.T) {
	for _, spec := range []string{"cpu:0,2-3,2", "cpu:0,cpu:2-3", "cpu:0, cpu:3,cpu:2"} {
		cpus, err := ParseDevices(spec, 4)
		if err != nil || !reflect.DeepEqual(cpus, []int{0, 2, 3}) {
			t.Errorf("ParseDevices(%q) = %v, %v", spec, cpus, err)
		}
	}
	for _, spec := range []string{"npu:0", "cpu:0,npu:1", "cpu:cpu:0", "cpu:0-"} {
		if cpus, err := ParseDevices(spec, 4); err == nil {
			t.Errorf("ParseDevices(%q) = %v, want an error", spec, cpus)
		}
	}
	for s, want := range map[string]int64{"4MiB": 4 << 20, "1.5GiB": 3 << 29, "100": 100, "2 GB": 2e9} {
		if n, err := ParseSize(s); err != nil || n != want {
			t.Errorf("ParseSize(%q) = %d, %v", s, n, err)
		}
	}
}

func TestAPIKeyFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(p, []byte("# comment\nk1\n\n k2 \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Defaults()
	c.Model, c.APIKeys, c.APIKeyFile = modelFile(t), []string{"k0"}, p
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.AllAPIKeys, []string{"k0", "k1", "k2"}) {
		t.Errorf("keys %v", c.AllAPIKeys)
	}
}
