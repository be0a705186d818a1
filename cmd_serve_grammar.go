package main

import (
	"github.com/kiln-llm/kiln/configs"
	"github.com/kiln-llm/kiln/engine/grammar"
)

// grammarOptions turns the grammar_* options into the server's grammar
// limits and cache budget.
func grammarOptions(cfg *configs.Config) (grammar.Limits, int64) {
	maxBytes, cacheBytes := cfg.GrammarBytes()
	if cacheBytes == 0 {
		cacheBytes = -1 // grammar_cache_bytes 0: keep none (the server's 0 is its default)
	}
	return grammar.Limits{MaxBytes: maxBytes, StepWork: int64(cfg.GrammarStepWork)}, cacheBytes
}
