package configs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ModelSpec is one entry of the models list: a model served beside (or
// instead of) model, with the options that may differ per model. Zero
// fields take the server-wide option.
type ModelSpec struct {
	Path         string // GGUF file (required)
	Name         string // id in the API (default: the file's base name without .gguf)
	ChatTemplate string
	SessionLen   int
	MaxNumSeqs   int
	KVCacheSize  string
}

// modelSpecKeys are the keys a models entry may have, with their help.
var modelSpecKeys = []option{
	{"path", "GGUF model file (required)"},
	{"name", "model id in the API (default: the file's base name)"},
	{"chat_template", "as chat_template, for this model"},
	{"session_len", "as session_len, for this model"},
	{"max_num_seqs", "as max_num_seqs, for this model"},
	{"kv_cache_size", "as kv_cache_size, for this model"},
}

// ID is the model's id in the API.
func (s ModelSpec) ID() string {
	if s.Name != "" {
		return s.Name
	}
	return strings.TrimSuffix(filepath.Base(s.Path), ".gguf")
}

// parseModels reads the models option as it comes: from the file a list
// of file names ("NAME=PATH" names it) or of maps with modelSpecKeys;
// from --models (repeated or comma-separated) or KILN_MODELS the string
// forms. Unknown keys are refused.
func parseModels(raw any) ([]ModelSpec, error) {
	var items []any
	switch v := raw.(type) {
	case nil:
		return nil, nil
	case []ModelSpec: // the default
		return v, nil
	case string:
		for s := range strings.SplitSeq(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
	case []string:
		for _, s := range v {
			items = append(items, s)
		}
	case []any:
		items = v
	default:
		return nil, fmt.Errorf("want a list of model files or of {path, name, ...} maps, got %T", raw)
	}
	var out []ModelSpec
	var errs []error
	for i, it := range items {
		spec, err := parseModelSpec(it)
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %d: %w", i, err))
		}
		out = append(out, spec)
	}
	return out, errors.Join(errs...)
}

func parseModelSpec(item any) (ModelSpec, error) {
	var s ModelSpec
	switch v := item.(type) {
	case string:
		name, path, named := strings.Cut(v, "=")
		if !named {
			path, name = v, ""
		}
		s.Name, s.Path = strings.TrimSpace(name), strings.TrimSpace(path)
		return s, nil
	case map[string]any:
		var errs []error
		for k, val := range v {
			var err error
			switch k {
			case "path":
				s.Path, err = asString(val)
			case "name":
				s.Name, err = asString(val)
			case "chat_template":
				s.ChatTemplate, err = asString(val)
			case "kv_cache_size":
				s.KVCacheSize, err = asString(val)
			case "session_len":
				s.SessionLen, err = asInt(val)
			case "max_num_seqs":
				s.MaxNumSeqs, err = asInt(val)
			default:
				keys := make([]string, len(modelSpecKeys))
				for i, o := range modelSpecKeys {
					keys[i] = o.key
				}
				err = fmt.Errorf("unknown key (want %s)", strings.Join(keys, ", "))
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", k, err))
			}
		}
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return s, errors.Join(errs...)
	default:
		return s, fmt.Errorf("want a model file or a {path, name, ...} map, got %T", item)
	}
}

func asString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("want a string, got %v", v)
	}
	return s, nil
}

func asInt(v any) (int, error) {
	switch n := v.(type) {
	case int:
		return n, nil
	case int64:
		return int(n), nil
	case float64:
		if n == float64(int(n)) {
			return int(n), nil
		}
	}
	return 0, fmt.Errorf("want an integer, got %v", v)
}

// ServedModels is every model to serve: model (if set) first, with
// served_model_name, then the models list.
func (c *Config) ServedModels() []ModelSpec {
	var out []ModelSpec
	if c.Model != "" {
		out = append(out, ModelSpec{Path: c.Model, Name: c.primaryName()})
	}
	return append(out, c.Models...)
}

// primaryName is model's id: the first of served_model_name's names
// (ModelNames once validated), "" for the file's base name.
func (c *Config) primaryName() string {
	if len(c.ModelNames) > 0 {
		return c.ModelNames[0]
	}
	name, _, _ := strings.Cut(c.ServedModelName, ",")
	return strings.TrimSpace(name)
}

// ForModel is the configuration one model is served with: c with model,
// served_model_name and the options s sets replaced.
func (c *Config) ForModel(s ModelSpec) *Config {
	out := *c
	out.Model, out.ServedModelName, out.ModelNames, out.Models = s.Path, s.ID(), []string{s.ID()}, nil
	if s.ChatTemplate != "" {
		out.ChatTemplate = s.ChatTemplate
	}
	if s.SessionLen != 0 {
		out.SessionLen = s.SessionLen
	}
	if s.MaxNumSeqs != 0 {
		out.MaxNumSeqs = s.MaxNumSeqs
	}
	if s.KVCacheSize != "" {
		out.KVCacheSize = s.KVCacheSize
		out.KVCacheBytes, _ = ParseSize(s.KVCacheSize) // checked by validateModels
	}
	return &out
}

// validateModels checks the models list and the options of serving
// several models; bad reports an error against a key.
func (c *Config) validateModels(bad func(key, format string, args ...any)) {
	seen := map[string]bool{}
	if c.Model != "" {
		seen[ModelSpec{Path: c.Model, Name: c.primaryName()}.ID()] = true
	}
	for i, s := range c.Models {
		switch st, err := os.Stat(s.Path); {
		case s.Path == "":
			bad("models", "entry %d: path: a GGUF model file is required", i)
		case err != nil:
			bad("models", "entry %d: %v", i, err)
		case st.IsDir():
			if cs, err := os.Stat(filepath.Join(s.Path, "config.json")); err != nil || !cs.Mode().IsRegular() {
				bad("models", "entry %d: %s is a directory without config.json; want a GGUF file or a Hugging Face model directory", i, s.Path)
			}
		}
		if id := s.ID(); seen[id] {
			bad("models", "entry %d: model id %q is served twice; give each a distinct name", i, id)
		} else {
			seen[id] = true
		}
		if s.ChatTemplate != "" && !slices.Contains(BuiltinChatTemplates, s.ChatTemplate) {
			if _, err := os.Stat(s.ChatTemplate); err != nil {
				bad("models", "entry %d: chat_template: %v", i, err)
			}
		}
		if s.SessionLen < 0 || s.SessionLen == 1 {
			bad("models", "entry %d: session_len %d: want 0 (the server's) or >= 2", i, s.SessionLen)
		}
		if s.MaxNumSeqs < 0 || (c.MaxBatchTokens >= 1 && s.MaxNumSeqs > c.MaxBatchTokens) {
			bad("models", "entry %d: max_num_seqs %d: want 0 (the server's) up to max_batch_tokens %d", i, s.MaxNumSeqs, c.MaxBatchTokens)
		}
		if s.KVCacheSize != "" {
			if n, err := ParseSize(s.KVCacheSize); err != nil || n <= 0 {
				bad("models", "entry %d: kv_cache_size %q: want a positive size such as 512MiB", i, s.KVCacheSize)
			}
		}
	}
	c.ModelsMemoryBudgetBytes = 0
	if c.ModelsMemoryBudget != "" {
		n, err := ParseSize(c.ModelsMemoryBudget)
		if err != nil || n < 0 {
			bad("models_memory_budget", "%q: want a size such as 8GiB (empty: no bound)", c.ModelsMemoryBudget)
		}
		c.ModelsMemoryBudgetBytes = n
	}
	if c.KeepAlive < 0 {
		bad("keep_alive", "%s: want >= 0 (0: keep loaded)", c.KeepAlive)
	}
}
