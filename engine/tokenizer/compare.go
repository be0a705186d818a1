package tokenizer

import (
	"fmt"
	"slices"
)

// SameVocabulary reports how b's vocabulary differs from a's (nil when it
// does not): a draft model tokenized by b may propose tokens to a target
// tokenized by a only if every id means the same token — the same
// algorithm, the same tokens (text and type) under the same ids, the same
// special ids (BOS, EOS, EOT, unknown, padding) and the same
// end-of-generation set. Scores and merges are not compared: ids, not how
// text is split, cross between the models.
func SameVocabulary(a, b *Tokenizer) error {
	if a.model != b.model {
		return fmt.Errorf("tokenizer model %s vs %s", a.model, b.model)
	}
	if len(a.tokens) != len(b.tokens) {
		return fmt.Errorf("%d tokens vs %d", len(a.tokens), len(b.tokens))
	}
	for id := range a.tokens {
		if a.tokens[id] != b.tokens[id] || a.types[id] != b.types[id] {
			return fmt.Errorf("token %d is %q (type %d) vs %q (type %d)", id, a.tokens[id], a.types[id], b.tokens[id], b.types[id])
		}
	}
	for _, sp := range []struct {
		name string
		x, y int32
	}{{"BOS", a.bos, b.bos}, {"EOS", a.eos, b.eos}, {"EOT", a.eot, b.eot}, {"unknown", a.unk, b.unk}, {"padding", a.pad, b.pad}} {
		if sp.x != sp.y {
			return fmt.Errorf("%s token %d vs %d", sp.name, sp.x, sp.y)
		}
	}
	if ea, eb := a.EOGTokens(), b.EOGTokens(); !slices.Equal(ea, eb) {
		return fmt.Errorf("end-of-generation tokens %v vs %v", ea, eb)
	}
	return nil
}
