package configs

import "os"

// validateSpeculative checks the speculative decoding options: a method's
// own options, draft_model implying the draft method, and
// draft_kv_cache_size (DraftKVCacheBytes).
func (c *Config) validateSpeculative(bad func(key, format string, args ...any)) {
	if c.DraftModel != "" && c.Speculative == "" {
		c.Speculative = "draft"
	}
	if c.Speculative != "" && (c.NumSpeculativeTokens < 1 || c.NumSpeculativeTokens > 16) {
		bad("num_speculative_tokens", "%d: want 1..16", c.NumSpeculativeTokens)
	}
	switch c.Speculative {
	case "":
	case "ngram":
		if c.NgramMin < 1 {
			bad("ngram_min", "%d: want >= 1", c.NgramMin)
		}
		if c.NgramMax < c.NgramMin || c.NgramMax > 16 {
			bad("ngram_max", "%d: want ngram_min (%d)..16", c.NgramMax, c.NgramMin)
		}
		if c.DraftModel != "" {
			bad("draft_model", "set with speculative ngram: a draft model needs speculative draft (or empty)")
		}
	case "draft":
		switch {
		case c.DraftModel == "":
			bad("speculative", "draft needs a draft_model")
		case len(c.Models) > 0:
			bad("draft_model", "drafts for one served model; it cannot be combined with models")
		default:
			if _, err := os.Stat(c.DraftModel); err != nil {
				bad("draft_model", "%v", err)
			}
		}
	default:
		bad("speculative", "%q: want ngram, draft or empty (off)", c.Speculative)
	}
	c.DraftKVCacheBytes = 0
	if c.DraftKVCacheSize != "" {
		n, err := ParseSize(c.DraftKVCacheSize)
		if err != nil || n <= 0 {
			bad("draft_kv_cache_size", "%q: want a positive size such as 256MiB", c.DraftKVCacheSize)
		}
		c.DraftKVCacheBytes = n
	}
}
