package main

import (
	"fmt"

	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// modelTokenizer reads m's tokenizer from its GGUF metadata and checks that
// every token it can produce has a row in the model's embedding, so a file
// whose vocabulary outgrew token_embd is refused at start-up instead of
// failing the requests whose text tokenizes past the embedding.
func modelTokenizer(m *model.Model) (*tokenizer.Tokenizer, error) {
	tok, err := tokenizer.FromGGUF(m.File())
	if err != nil {
		return nil, err
	}
	if n := tok.VocabSize(); n > m.Config.NVocab {
		return nil, fmt.Errorf("the tokenizer has %d tokens but token_embd.weight only %d rows", n, m.Config.NVocab)
	}
	return tok, nil
}
