package server

import (
	"slices"
	"sync"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/chat"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// Model is what the server serves once loading is done.
type Model struct {
	ID      string   // served model name
	Aliases []string // other names it answers to (served_model_name's later names)
	// StrictName answers 404 to a request naming neither ID nor an alias;
	// otherwise the one served model answers any name.
	StrictName bool
	Root       string // the model file (/v1/models shows its base name only)
	Created    int64  // Unix seconds
	ContextLen int    // tokens per sequence (prompt plus completion)
	Tokenizer  *tokenizer.Tokenizer
	// Backend is the serving core: a *control.Engine, control.Replicas of
	// them, or a fake in handler tests.
	Backend  control.Backend
	Embedder Embedder // nil: /v1/embeddings answers 400
	// ChatTemplate renders chat prompts; nil means ChatML.
	ChatTemplate ChatTemplate
	// KVCacheDtype ("f16", "f32", "q8_0") and KVBytesPerToken (K and V of
	// every layer for one token) describe the K/V cache for /metrics;
	// empty and 0 when unknown (fakes).
	KVCacheDtype    string
	KVBytesPerToken int64

	chatml struct { // the fallback template, built on first use
		once sync.Once
		r    *chat.Renderer
		err  error
	}
}

// AnswersTo reports whether name is the model's ID or one of its aliases.
func (m *Model) AnswersTo(name string) bool {
	return name == m.ID || slices.Contains(m.Aliases, name)
}
