// Package configs holds kiln serve's typed configuration and its loading:
// defaults, then a YAML file, then KILN_* environment variables, then
// command-line flags (each later source wins), then Validate.
//
// kiln.yaml beside this file lists every option with its default; a test
// keeps it equal to Defaults, so the file is documentation that cannot rot.
package configs

import (
	"fmt"
	"os"
	"time"
)

// Config is every option of `kiln serve`. The mapstructure tags are the keys
// of kiln.yaml; flags are the same names in kebab-case and environment
// variables the same names upper-cased with a KILN_ prefix.
type Config struct {
	Host string `mapstructure:"host"`
	Port int    `mapstructure:"port"`

	Model           string `mapstructure:"model"`
	ServedModelName string `mapstructure:"served_model_name"`
	StrictModelName bool   `mapstructure:"strict_model_name"`
	Tokenizer       string `mapstructure:"tokenizer"`
	TokenizerMode   string `mapstructure:"tokenizer_mode"`
	ChatTemplate    string `mapstructure:"chat_template"`
	ResponseRole    string `mapstructure:"response_role"`

	// Models are served beside Model, each loaded on first use (see
	// ModelSpec); decoded by hand (parseModels) to refuse unknown keys.
	Models             []ModelSpec   `mapstructure:"models"`
	ModelsMemoryBudget string        `mapstructure:"models_memory_budget"`
	KeepAlive          time.Duration `mapstructure:"keep_alive"`

	ToolCallParser       string `mapstructure:"tool_call_parser"`
	EnableAutoToolChoice bool   `mapstructure:"enable_auto_tool_choice"`
	ReasoningParser      string `mapstructure:"reasoning_parser"`
	ResponseStoreEntries int    `mapstructure:"response_store_entries"`

	GrammarMaxBytes   string `mapstructure:"grammar_max_bytes"`
	GrammarStepWork   int    `mapstructure:"grammar_step_work"`
	GrammarCacheBytes string `mapstructure:"grammar_cache_bytes"`

	TensorParallelSize   int    `mapstructure:"tensor_parallel_size"`
	DataParallelSize     int    `mapstructure:"data_parallel_size"`
	PipelineParallelSize int    `mapstructure:"pipeline_parallel_size"`
	Devices              string `mapstructure:"devices"`

	APIKeys    []string `mapstructure:"api_keys"`
	APIKeyFile string   `mapstructure:"api_key_file"`

	SessionLen          int     `mapstructure:"session_len"`
	CacheMaxEntryCount  float64 `mapstructure:"cache_max_entry_count"`
	KVCacheSize         string  `mapstructure:"kv_cache_size"`
	KVCacheDtype        string  `mapstructure:"kv_cache_dtype"`
	BlockSize           int     `mapstructure:"block_size"`
	MaxNumSeqs          int     `mapstructure:"max_num_seqs"`
	MaxBatchTokens      int     `mapstructure:"max_batch_tokens"`
	RepackWeights       bool    `mapstructure:"repack_weights"`
	MaxQueue            int     `mapstructure:"max_queue"`
	EnablePrefixCaching bool    `mapstructure:"enable_prefix_caching"`
	MaxITLMs            int     `mapstructure:"max_itl_ms"`

	PrefixCacheDir         string `mapstructure:"prefix_cache_dir"`
	PrefixCacheDirMaxBytes string `mapstructure:"prefix_cache_dir_max_bytes"`
	PrefixCacheRAMBytes    string `mapstructure:"prefix_cache_ram_bytes"`

	Speculative          string `mapstructure:"speculative"`
	NumSpeculativeTokens int    `mapstructure:"num_speculative_tokens"`
	NgramMin             int    `mapstructure:"ngram_min"`
	NgramMax             int    `mapstructure:"ngram_max"`
	DraftModel           string `mapstructure:"draft_model"`
	DraftKVCacheSize     string `mapstructure:"draft_kv_cache_size"`

	CORSOrigins         []string      `mapstructure:"cors_origins"`
	BodyLimit           string        `mapstructure:"body_limit"`
	RequestTimeout      time.Duration `mapstructure:"request_timeout"`
	ReadTimeout         time.Duration `mapstructure:"read_timeout"`
	ShutdownGracePeriod time.Duration `mapstructure:"shutdown_grace_period"`

	LogFormat string `mapstructure:"log_format"`
	LogLevel  string `mapstructure:"log_level"`

	// Derived by Validate.
	DeviceCPUs     []int `mapstructure:"-"` // CPUs named by Devices (nil: all)
	BodyLimitBytes int   `mapstructure:"-"`
	KVCacheBytes   int64 `mapstructure:"-"` // 0: sized by CacheMaxEntryCount
	// DraftKVCacheBytes is DraftKVCacheSize (0: as many tokens as the
	// target's pool holds).
	DraftKVCacheBytes int64    `mapstructure:"-"`
	AllAPIKeys        []string `mapstructure:"-"` // APIKeys plus APIKeyFile's lines
	ModelNames        []string `mapstructure:"-"` // ServedModelName split at commas (nil: the file's base name)

	// PrefixCacheDirMaxBytesN and PrefixCacheRAMBytesN are the two sizes
	// in bytes (the RAM tier 0: none).
	PrefixCacheDirMaxBytesN int64 `mapstructure:"-"`
	PrefixCacheRAMBytesN    int64 `mapstructure:"-"`

	// ModelsMemoryBudgetBytes is ModelsMemoryBudget (0: no bound).
	ModelsMemoryBudgetBytes int64 `mapstructure:"-"`
}

// Defaults is the configuration with no file, environment or flags.
func Defaults() Config {
	return Config{
		Host:                 "0.0.0.0",
		Port:                 8000,
		ResponseRole:         "assistant",
		TokenizerMode:        "auto",
		ResponseStoreEntries: 1024,
		GrammarMaxBytes:      "64MiB",
		GrammarStepWork:      4 << 20,
		GrammarCacheBytes:    "256MiB",
		DataParallelSize:     1,
		PipelineParallelSize: 1,
		CacheMaxEntryCount:   0.8,
		KVCacheDtype:         "f16",
		BlockSize:            16,
		MaxNumSeqs:           16,
		MaxBatchTokens:       512,
		RepackWeights:        true,
		MaxQueue:             256,
		EnablePrefixCaching:  true,
		NumSpeculativeTokens: 4,
		NgramMin:             1,
		NgramMax:             4,
		CORSOrigins:          []string{"*"},
		BodyLimit:            "4MiB",
		RequestTimeout:       10 * time.Minute,
		ReadTimeout:          time.Minute,
		ShutdownGracePeriod:  30 * time.Second,
		LogFormat:            "text",
		LogLevel:             "info",

		PrefixCacheDirMaxBytes: "4GiB",
		PrefixCacheRAMBytes:    "0",
	}
}

// option describes one key for flags and help: its flag name and usage.
type option struct {
	key, usage string
}

// options lists every key with its one-line help, in kiln.yaml's order.
var options = []option{
	{"host", "address to listen on"},
	{"port", "TCP port to listen on"},
	{"model", "GGUF model file, or Hugging Face model directory, to serve (empty: the built-in stories260K, a tiny TinyStories llama)"},
	{"served_model_name", "model id in the API (default: the model file's base name); several comma-separated names are aliases, the first is listed"},
	{"strict_model_name", "answer 404 model_not_found for a request naming another model (default: one served model answers any name, e.g. EMPTY)"},
	{"tokenizer", "tokenizer to use: empty or the model file (kiln reads the tokenizer from the GGUF file)"},
	{"tokenizer_mode", "tokenizer mode: auto, slow or fast (accepted for vLLM compatibility; the GGUF tokenizer is exact in every mode)"},
	{"chat_template", "chat template: a file, or a built-in name (chatml, llama2, llama3, mistral, qwen2, phi3, gemma); empty: the model's tokenizer.chat_template, else ChatML"},
	{"response_role", "role of generated chat messages"},
	{"models", "more models to serve, each loaded on first use: FILE or NAME=FILE (repeat the flag, or repeat --model); in the file, maps with path, name, chat_template, session_len, max_num_seqs, kv_cache_size"},
	{"models_memory_budget", "bytes the loaded models may hold (weights plus K/V), least recently used idle models unloaded to stay under it, e.g. 8GiB (empty: no bound)"},
	{"keep_alive", "with several models, unload a model idle this long, e.g. 5m (0: keep loaded)"},
	{"tool_call_parser", "parser of the model's tool calls: hermes, llama3_json, mistral, pythonic or qwen2.5 (empty: tool_choice auto is off; required/named take the format from the chat template)"},
	{"enable_auto_tool_choice", "allow tool_choice auto, the model deciding whether to call tools (needs tool_call_parser)"},
	{"reasoning_parser", "split a reasoning model's thinking from its answer (reasoning_content): deepseek_r1 or qwen3 (empty: the thinking stays in the content)"},
	{"response_store_entries", "responses /v1/responses keeps for GET and previous_response_id, least recently used evicted first (also at most 64 MiB)"},
	{"grammar_max_bytes", "largest compiled grammar of one response_format, guided_* or tools request; a bigger one is a 400 grammar_too_complex"},
	{"grammar_step_work", "work budget of one constrained generation step (about one unit per thread expanded or token-trie node walked); a step over it ends its request with an error"},
	{"grammar_cache_bytes", "memory for compiled grammars kept for reuse, least recently used evicted first"},
	{"tensor_parallel_size", "kernel threads per engine replica (0: the devices' CPUs divided by data_parallel_size)"},
	{"data_parallel_size", "engine replicas, each with its own K/V pool and kernel threads (pinned to its own cores when they suffice); requests go to the least loaded"},
	{"pipeline_parallel_size", "pipeline stages (only 1 on a CPU)"},
	{"devices", "CPU cores to use, e.g. cpu:0-3 or cpu:0,2 (empty: all)"},
	{"api_keys", "accepted API keys (Bearer); empty with no api_key_file: no authentication"},
	{"api_key_file", "file with one accepted API key per line"},
	{"session_len", "context length per sequence in tokens (0: the model's)"},
	{"cache_max_entry_count", "fraction of available memory for the K/V pool (0..1], capped at what max_num_seqs sequences of session_len need"},
	{"kv_cache_size", "absolute K/V pool size per replica, e.g. 2GiB (overrides cache_max_entry_count)"},
	{"kv_cache_dtype", "K/V cache element type: f16, f32 or q8_0 (GGUF's Q8_0 per head row: 34 bytes per 32 values, ~1.9x the tokens of f16 in the same kv_cache_size)"},
	{"block_size", "tokens per K/V block"},
	{"max_num_seqs", "sequences running at once per replica"},
	{"max_batch_tokens", "tokens per forward pass (decodes plus prefill chunks)"},
	{"repack_weights", "copy weights at load into the layout this CPU's kernels read fastest (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q4_K, Q5_K, Q6_K and IQ4_XS on AVX2 and AVX-512: 1.1-2x decode speed; the repacked matrices' size in anonymous memory per replica, their file pages released); false: use them in place from the file mapping"},
	{"max_queue", "requests waiting per replica before 429"},
	{"enable_prefix_caching", "reuse the K/V of shared prompt prefixes"},
	{"prefix_cache_dir", "directory where evicted prefix-cache blocks are kept (checksummed files per model) and reused, also after a restart (empty: off)"},
	{"prefix_cache_dir_max_bytes", "bytes the prefix_cache_dir files may take, least recently used deleted first, e.g. 4GiB"},
	{"prefix_cache_ram_bytes", "memory for evicted prefix-cache blocks before they go to prefix_cache_dir, e.g. 1GiB (0: none)"},
	{"max_itl_ms", "inter-token latency target of running streams in ms: prefill chunks beside decodes are cut to fit it (0: 3x the measured decode step of the streams running and waiting to run; -1: off)"},
	{"speculative", "speculative decoding: ngram (prompt lookup), draft (a draft model, implied by draft_model) or empty for off"},
	{"num_speculative_tokens", "draft tokens per sequence and step with speculative decoding (1..16)"},
	{"ngram_min", "shortest suffix the ngram drafter looks up"},
	{"ngram_max", "longest suffix the ngram drafter looks up (ngram_min..16)"},
	{"draft_model", "draft model for speculative decoding (GGUF file or Hugging Face directory, any quantization) sharing the model's tokenizer; sets speculative to draft"},
	{"draft_kv_cache_size", "the draft model's K/V pool per replica, e.g. 256MiB (empty: as many tokens as the model's pool)"},
	{"cors_origins", "allowed CORS origins (* for any)"},
	{"body_limit", "largest request body, e.g. 4MiB"},
	{"request_timeout", "longest a request may run (0: no limit)"},
	{"read_timeout", "longest a client may take to send a request's headers and body; slower connections get a 408 (slowloris guard)"},
	{"shutdown_grace_period", "on SIGTERM, how long in-flight requests may finish before they are cancelled"},
	{"log_format", "log format: text or json"},
	{"log_level", "log level: debug, info, warn or error"},
}

// readAPIKeyFile returns the non-empty, non-comment lines of path.
func readAPIKeyFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("api_key_file: %w", err)
	}
	var keys []string
	for _, line := range splitLines(string(b)) {
		if line != "" && line[0] != '#' {
			keys = append(keys, line)
		}
	}
	return keys, nil
}
