package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// hfUnigramModel is the model of a Unigram tokenizer.json: pieces with
// their log probabilities, in id order.
type hfUnigramModel struct {
	Model struct {
		UnkID        *int32            `json:"unk_id"`
		Vocab        []json.RawMessage `json:"vocab"` // [piece, score]
		ByteFallback bool              `json:"byte_fallback"`
	} `json:"model"`
}

// hfUnigram reads a Unigram tokenizer.json (T5-style SentencePiece
// conversions): pieces and scores in id order, unk_id, byte_fallback
// ("<0xNN>" pieces become byte tokens), added tokens, BOS/EOS from the
// post-processor, and the "▁" handling of the normalizer or Metaspace
// pre-tokenizer. A Precompiled normalizer with a character map is refused
// (not implemented).
func hfUnigram(tokenizerJSON []byte) (*SPMVocab, error) {
	var u hfUnigramModel
	if err := json.Unmarshal(tokenizerJSON, &u); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	var f hfTokenizerFile
	if err := json.Unmarshal(stripModel(tokenizerJSON), &f); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	v := &SPMVocab{BOS: noToken, EOS: noToken, UNK: noToken, Unigram: true, ByteFallback: u.Model.ByteFallback}
	var err error
	if v.AddSpacePrefix, err = spmSpaceHandling(f.Normalizer, f.PreTokenizer, true); err != nil {
		return nil, err
	}
	n := int32(len(u.Model.Vocab))
	for _, a := range f.AddedTokens {
		n = max(n, a.ID+1)
	}
	if len(u.Model.Vocab) == 0 || n > 1<<22 {
		return nil, fmt.Errorf("tokenizer: unigram tokenizer.json with %d pieces", len(u.Model.Vocab))
	}
	v.Tokens, v.Types, v.Scores, v.Rstrip = make([]string, n), make([]TokenType, n), make([]float32, n), make([]bool, n)
	for i := range v.Tokens {
		v.Tokens[i], v.Types[i] = "[PAD"+strconv.Itoa(i)+"]", TokenUnused
	}
	for id, raw := range u.Model.Vocab {
		var entry []json.RawMessage
		var piece string
		var score float64
		if json.Unmarshal(raw, &entry) != nil || len(entry) != 2 ||
			json.Unmarshal(entry[0], &piece) != nil || json.Unmarshal(entry[1], &score) != nil {
			return nil, fmt.Errorf("tokenizer: unigram piece %d: want [piece, score], got %s", id, raw)
		}
		v.Tokens[id], v.Types[id], v.Scores[id] = piece, TokenNormal, float32(score)
		if u.Model.ByteFallback && isByteToken(piece) {
			v.Types[id] = TokenByte
		}
	}
	if err := v.addedTokens(&f); err != nil {
		return nil, err
	}
	if u.Model.UnkID == nil || *u.Model.UnkID < 0 || *u.Model.UnkID >= int32(len(u.Model.Vocab)) {
		return nil, errors.New("tokenizer: unigram tokenizer.json without a valid unk_id")
	}
	v.UNK = *u.Model.UnkID
	v.Types[v.UNK] = TokenUnknown
	if err := v.specials(f.PostProcessor); err != nil {
		return nil, err
	}
	return v, nil
}

// stripModel returns tokenizer.json without its model, whose Unigram
// vocabulary (a list) does not fit hfTokenizerFile's BPE map.
func stripModel(tokenizerJSON []byte) []byte {
	var all map[string]json.RawMessage
	if json.Unmarshal(tokenizerJSON, &all) != nil {
		return tokenizerJSON
	}
	delete(all, "model")
	b, err := json.Marshal(all)
	if err != nil {
		return tokenizerJSON
	}
	return b
}
