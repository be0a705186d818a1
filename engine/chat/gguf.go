package chat

import (
	"errors"
	"fmt"

	"github.com/kiln-llm/kiln/engine/gguf"
)

// ErrNoTemplate means the model carries no chat template; callers fall back
// to ChatML, as llama.cpp does.
var ErrNoTemplate = errors.New("chat: model has no tokenizer.chat_template")

// Metadata is the part of a GGUF file FromGGUF reads; *gguf.File satisfies it.
type Metadata interface {
	String(key string) (string, bool)
}

var _ Metadata = (*gguf.File)(nil)

// TemplateKey is the GGUF metadata key of the default chat template.
const TemplateKey = "tokenizer.chat_template"

// FromGGUF parses the model's default chat template (tokenizer.chat_template).
// It returns ErrNoTemplate when the key is absent or empty.
func FromGGUF(md Metadata) (*Template, error) {
	src, ok := md.String(TemplateKey)
	if !ok || src == "" {
		return nil, ErrNoTemplate
	}
	t, err := Parse(TemplateKey, src)
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	return t, nil
}
