package configs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BuiltinChatTemplates are the names chat_template accepts besides a file:
// engine/chat's built-ins (configs imports nothing of ours; a test in
// package main keeps the two lists equal).
var BuiltinChatTemplates = []string{"chatml", "llama2", "llama3", "mistral", "qwen2", "phi3", "gemma"}

// ToolCallParsers are the names tool_call_parser accepts: engine/chat/
// toolcall's parsers (a test in package main keeps the two lists equal).
var ToolCallParsers = []string{"hermes", "llama3_json", "mistral", "pythonic", "qwen2.5"}

// ReasoningParsers are the names reasoning_parser accepts: engine/chat/
// reasoning's parsers (a test in package main keeps the two lists equal).
var ReasoningParsers = []string{"deepseek_r1", "qwen3"}

// Validate checks every option and fills the derived fields. Each message
// names the option as it is spelt in kiln.yaml, with its flag and variable,
// so the user can find whichever source set it.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("option %s (--%s, %s): %s", key, FlagName(key), EnvName(key), fmt.Sprintf(format, args...)))
	}
	if c.Model == "" {
		// The built-in model is served, or the models list.
	} else if st, err := os.Stat(c.Model); err != nil {
		bad("model", "%v", err)
	} else if st.IsDir() {
		if cs, err := os.Stat(filepath.Join(c.Model, "config.json")); err != nil || !cs.Mode().IsRegular() {
			bad("model", "%s is a directory without config.json; want a GGUF file or a Hugging Face model directory", c.Model)
		}
	}
	c.ModelNames = nil
	if c.ServedModelName != "" {
		for i, n := range strings.Split(c.ServedModelName, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				bad("served_model_name", "name %d of %q is empty", i, c.ServedModelName)
				continue
			}
			c.ModelNames = append(c.ModelNames, n)
		}
	}
	if c.Tokenizer != "" && c.Tokenizer != c.Model {
		bad("tokenizer", "%q: kiln reads the tokenizer from the GGUF model file; leave tokenizer empty or set it to the model file", c.Tokenizer)
	}
	if !slices.Contains([]string{"auto", "slow", "fast"}, c.TokenizerMode) {
		bad("tokenizer_mode", "%q: want auto, slow or fast", c.TokenizerMode)
	}
	c.validateModels(bad)
	if c.Host == "" {
		bad("host", "empty; want an address such as 0.0.0.0 or 127.0.0.1")
	}
	if c.Port < 0 || c.Port > 65535 {
		bad("port", "%d: want 0..65535 (0: any free port)", c.Port)
	}
	if c.ChatTemplate != "" && !slices.Contains(BuiltinChatTemplates, c.ChatTemplate) {
		if _, err := os.Stat(c.ChatTemplate); err != nil {
			bad("chat_template", "%v (want a template file or one of %s)", err, strings.Join(BuiltinChatTemplates, ", "))
		}
	}
	if c.ResponseRole == "" {
		bad("response_role", "empty; want a role such as assistant")
	}
	if c.ToolCallParser != "" && !slices.Contains(ToolCallParsers, c.ToolCallParser) {
		bad("tool_call_parser", "%q: want one of %s", c.ToolCallParser, strings.Join(ToolCallParsers, ", "))
	}
	if c.EnableAutoToolChoice && c.ToolCallParser == "" {
		bad("enable_auto_tool_choice", "needs tool_call_parser (--tool-call-parser) to read the model's calls")
	}
	if c.ReasoningParser != "" && !slices.Contains(ReasoningParsers, c.ReasoningParser) {
		bad("reasoning_parser", "%q: want one of %s", c.ReasoningParser, strings.Join(ReasoningParsers, ", "))
	}
	if c.ResponseStoreEntries < 1 {
		bad("response_store_entries", "%d: want >= 1", c.ResponseStoreEntries)
	}
	if c.TensorParallelSize < 0 {
		bad("tensor_parallel_size", "%d: want >= 0 (0: automatic)", c.TensorParallelSize)
	}
	if c.DataParallelSize < 1 {
		bad("data_parallel_size", "%d: want >= 1", c.DataParallelSize)
	}
	if c.PipelineParallelSize != 1 {
		bad("pipeline_parallel_size", "%d: only 1 is supported on a CPU (use tensor_parallel_size for threads and data_parallel_size for replicas)", c.PipelineParallelSize)
	}
	cpus, err := ParseDevices(c.Devices, runtime.NumCPU())
	if err != nil {
		bad("devices", "%v", err)
	}
	c.DeviceCPUs = cpus
	if n := len(cpus); n > 0 && c.TensorParallelSize*c.DataParallelSize > n {
		bad("tensor_parallel_size", "%d threads x %d replicas exceed the %d CPUs of devices %q", c.TensorParallelSize, c.DataParallelSize, n, c.Devices)
	}
	c.AllAPIKeys = nil
	for i, k := range c.APIKeys {
		if strings.TrimSpace(k) == "" {
			bad("api_keys", "key %d is empty", i)
		}
		c.AllAPIKeys = append(c.AllAPIKeys, k)
	}
	if c.APIKeyFile != "" {
		keys, err := readAPIKeyFile(c.APIKeyFile)
		switch {
		case err != nil:
			bad("api_key_file", "%v", err)
		case len(keys) == 0:
			bad("api_key_file", "%s holds no key", c.APIKeyFile)
		}
		c.AllAPIKeys = append(c.AllAPIKeys, keys...)
	}
	if c.SessionLen < 0 || c.SessionLen == 1 {
		bad("session_len", "%d: want 0 (the model's context) or >= 2", c.SessionLen)
	}
	if !(c.CacheMaxEntryCount > 0 && c.CacheMaxEntryCount <= 1) {
		bad("cache_max_entry_count", "%g: want a fraction in (0, 1]", c.CacheMaxEntryCount)
	}
	c.KVCacheBytes = 0
	if c.KVCacheSize != "" {
		n, err := ParseSize(c.KVCacheSize)
		if err != nil || n <= 0 {
			bad("kv_cache_size", "%q: want a positive size such as 512MiB or 2GiB", c.KVCacheSize)
		}
		c.KVCacheBytes = n
	}
	c.validatePrefixCacheDir(bad)
	if c.KVCacheDtype != "f16" && c.KVCacheDtype != "f32" && c.KVCacheDtype != "q8_0" {
		bad("kv_cache_dtype", "%q: want f16, f32 or q8_0", c.KVCacheDtype)
	}
	if c.BlockSize < 1 || c.BlockSize > 1024 || c.BlockSize&(c.BlockSize-1) != 0 {
		bad("block_size", "%d: want a power of two in 1..1024", c.BlockSize)
	}
	if c.MaxBatchTokens < 1 {
		bad("max_batch_tokens", "%d: want >= 1", c.MaxBatchTokens)
	}
	if c.MaxNumSeqs < 1 {
		bad("max_num_seqs", "%d: want >= 1", c.MaxNumSeqs)
	} else if c.MaxBatchTokens >= 1 && c.MaxNumSeqs > c.MaxBatchTokens {
		bad("max_num_seqs", "%d exceeds max_batch_tokens %d (every running sequence needs a token of each step)", c.MaxNumSeqs, c.MaxBatchTokens)
	}
	if c.MaxQueue < 1 {
		bad("max_queue", "%d: want >= 1", c.MaxQueue)
	}
	if c.MaxITLMs < -1 {
		bad("max_itl_ms", "%d: want a target in ms, 0 (automatic) or -1 (off)", c.MaxITLMs)
	}
	c.validateSpeculative(bad)
	for i, o := range c.CORSOrigins {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			bad("cors_origins", "origin %d %q: want * or a scheme://host[:port] origin", i, o)
		}
	}
	if n, err := ParseSize(c.BodyLimit); err != nil || n < 1024 || n > 1<<30 {
		bad("body_limit", "%q: want a size from 1KiB to 1GiB, such as 4MiB", c.BodyLimit)
	} else {
		c.BodyLimitBytes = int(n)
	}
	if n, err := ParseSize(c.GrammarMaxBytes); err != nil || n < 1<<20 || n > 1<<40 {
		bad("grammar_max_bytes", "%q: want a size from 1MiB to 1TiB, such as 64MiB", c.GrammarMaxBytes)
	}
	if c.GrammarStepWork < 1<<16 {
		bad("grammar_step_work", "%d: want >= 65536", c.GrammarStepWork)
	}
	if _, err := ParseSize(c.GrammarCacheBytes); err != nil {
		bad("grammar_cache_bytes", "%q: want a size such as 256MiB (0: keep none)", c.GrammarCacheBytes)
	}
	if c.RequestTimeout < 0 {
		bad("request_timeout", "%s: want >= 0 (0: no limit)", c.RequestTimeout)
	}
	if c.ReadTimeout < time.Second {
		bad("read_timeout", "%s: want >= 1s", c.ReadTimeout)
	}
	if c.ShutdownGracePeriod < 0 {
		bad("shutdown_grace_period", "%s: want >= 0", c.ShutdownGracePeriod)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log_format", "%q: want text or json", c.LogFormat)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		bad("log_level", "%q: want debug, info, warn or error", c.LogLevel)
	}
	return errors.Join(errs...)
}

// GrammarBytes returns grammar_max_bytes and grammar_cache_bytes in bytes
// (0 for a size Validate would refuse).
func (c *Config) GrammarBytes() (maxBytes, cacheBytes int64) {
	maxBytes, _ = ParseSize(c.GrammarMaxBytes)
	cacheBytes, _ = ParseSize(c.GrammarCacheBytes)
	return maxBytes, cacheBytes
}

// Threads is the kernel threads of the process: tensor_parallel_size, or
// the devices' CPUs (all CPUs when none are named) when it is 0.
func (c *Config) Threads() int {
	if c.TensorParallelSize > 0 {
		return c.TensorParallelSize
	}
	if len(c.DeviceCPUs) > 0 {
		return max(1, len(c.DeviceCPUs)/c.DataParallelSize)
	}
	return max(1, runtime.NumCPU()/max(1, c.DataParallelSize))
}

// ParseDevices reads "cpu", "cpu:0-3", "cpu:0,2,4-5" or, as furiosa-llm
// writes its devices, "cpu:0,cpu:2-3" into sorted CPU
// indices below ncpu; an empty spec (or bare "cpu") means all CPUs (nil).
func ParseDevices(spec string, ncpu int) ([]int, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "cpu" {
		return nil, nil
	}
	list, ok := strings.CutPrefix(spec, "cpu:")
	if !ok {
		return nil, fmt.Errorf("%q: want cpu, cpu:0-3 or cpu:0,2 (only CPU devices exist here)", spec)
	}
	seen := map[int]bool{}
	for i, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if i > 0 { // furiosa-llm names each device ("npu:0,npu:1"): "cpu:0,cpu:2-3" too
			part = strings.TrimPrefix(part, "cpu:")
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a {
			return nil, fmt.Errorf("%q: bad CPU range %q", spec, part)
		}
		if b >= ncpu {
			return nil, fmt.Errorf("%q: CPU %d does not exist (this machine has CPUs 0-%d)", spec, b, ncpu-1)
		}
		for i := a; i <= b; i++ {
			seen[i] = true
		}
	}
	cpus := make([]int, 0, len(seen))
	for i := range seen {
		cpus = append(cpus, i)
	}
	slices.Sort(cpus)
	return cpus, nil
}

// ParseSize reads a byte size: a number with an optional unit B, KB, MB,
// GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := len(s)
	for i > 0 && (s[i-1] < '0' || s[i-1] > '9') {
		i--
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	mult := map[string]float64{"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}[unit]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || v < 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional unit (B, KB, MB, GB, KiB, MiB, GiB)", s)
	}
	return int64(v * mult), nil
}

// splitLines splits on newlines and trims each line.
func splitLines(s string) []string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return lines
}

// validatePrefixCacheDir checks the prefix cache's spill options (the
// directory itself is created and probed when the server starts).
func (c *Config) validatePrefixCacheDir(bad func(key, format string, args ...any)) {
	var err error
	c.PrefixCacheDirMaxBytesN, err = ParseSize(c.PrefixCacheDirMaxBytes)
	if err != nil || c.PrefixCacheDirMaxBytesN <= 0 {
		bad("prefix_cache_dir_max_bytes", "%q: want a positive size such as 4GiB", c.PrefixCacheDirMaxBytes)
	}
	c.PrefixCacheRAMBytesN, err = ParseSize(c.PrefixCacheRAMBytes)
	if err != nil || c.PrefixCacheRAMBytesN < 0 {
		bad("prefix_cache_ram_bytes", "%q: want a size such as 1GiB (0: none)", c.PrefixCacheRAMBytes)
	}
	if c.PrefixCacheDir != "" && !c.EnablePrefixCaching {
		bad("prefix_cache_dir", "%q needs enable_prefix_caching: only cached prefixes are spilled", c.PrefixCacheDir)
	}
}
