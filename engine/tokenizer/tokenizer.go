// Package tokenizer turns text into token ids and back for GGUF models,
// reproducing llama.cpp's tokenizers exactly: SentencePiece-style BPE
// ("llama" vocabularies), GPT-2 byte-level BPE ("gpt2") with llama.cpp's
// per-model pre-tokenizers, WordPiece ("bert"), special-token parsing and
// detokenization. A Tokenizer is immutable after construction and safe for
// concurrent use.
package tokenizer

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Metadata is the part of a GGUF file's key/value metadata the tokenizer
// reads; engine/gguf's *gguf.File satisfies it. Declared here so that the
// tokenizer does not depend on the reader and tests can use fakes.
type Metadata interface {
	String(key string) (string, bool)
	Strings(key string) ([]string, bool)
	Float32s(key string) ([]float32, bool)
	Int32s(key string) ([]int32, bool)
	Uint32(key string) (uint32, bool)
	Bool(key string) (bool, bool)
}

// TokenType is a vocabulary entry's kind, as stored in tokenizer.ggml.token_type.
type TokenType int32

// Token types (llama.cpp's llama_token_type).
const (
	TokenUndefined   TokenType = 0
	TokenNormal      TokenType = 1
	TokenUnknown     TokenType = 2
	TokenControl     TokenType = 3
	TokenUserDefined TokenType = 4
	TokenUnused      TokenType = 5
	TokenByte        TokenType = 6
)

// Model is the tokenization algorithm.
type Model int

// Tokenization algorithms, named after tokenizer.ggml.model.
const (
	ModelSPM Model = iota // "llama": SentencePiece-style BPE over scores
	ModelBPE              // "gpt2": byte-level BPE over merges
	ModelWPM              // "bert": WordPiece
	ModelUGM              // "t5": SentencePiece unigram, Viterbi over scores
)

// String returns the tokenizer.ggml.model name of m.
func (m Model) String() string {
	switch m {
	case ModelSPM:
		return "llama"
	case ModelBPE:
		return "gpt2"
	case ModelWPM:
		return "bert"
	case ModelUGM:
		return "t5"
	}
	return "model(" + strconv.Itoa(int(m)) + ")"
}

// noToken marks an absent special token.
const noToken int32 = -1

// mergePair is a BPE merge's two sides.
type mergePair struct{ a, b string }

// Tokenizer encodes and decodes text for one vocabulary.
type Tokenizer struct {
	model     Model
	pre       string
	tokens    []string
	scores    []float32
	types     []TokenType
	lstrip    []bool // strip white space left of this special token when parsing
	rstrip    []bool // strip white space right of it
	ids       map[string]int32
	merges    map[uint64]int32    // rank by mergeKey of the sides' token ids
	strMerges map[mergePair]int32 // rank of merges with a side outside the vocabulary
	byteIDs   [256]int32          // SentencePiece byte-fallback tokens
	preTok    *preTokenizer
	// normalize rewrites raw text before BPE (Hugging Face normalizers);
	// nil for GGUF vocabularies.
	normalize func(string) string

	special []int32 // control, user-defined and unknown tokens, longest text first

	bos, eos, eot, eom, unk, sep, pad int32
	eog                               map[int32]bool

	addBOS, addEOS, addSpacePrefix bool
	ignoreMerges, cleanSpaces      bool
	maxTokenLen                    int

	// Unigram (ModelUGM): what an uncovered character scores, and whether
	// uncovered characters become byte tokens rather than the unknown one.
	ugmUnknownScore float64
	byteFallback    bool
}

// Model returns the tokenization algorithm.
func (t *Tokenizer) Model() Model { return t.model }

// Pre returns the pre-tokenizer name (tokenizer.ggml.pre), "" when absent.
func (t *Tokenizer) Pre() string { return t.pre }

// VocabSize returns the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// BOS returns the beginning-of-sequence token id, or -1.
func (t *Tokenizer) BOS() int32 { return t.bos }

// EOS returns the end-of-sequence token id, or -1.
func (t *Tokenizer) EOS() int32 { return t.eos }

// EOT returns the end-of-turn token id, or -1. When the metadata names none
// it is recognised by text ("<|eot_id|>", "<|im_end|>", "<|end|>",
// "<end_of_turn>", "<|endoftext|>", "<EOT>", in that order of preference).
func (t *Tokenizer) EOT() int32 { return t.eot }

// Unknown returns the unknown token id, or -1.
func (t *Tokenizer) Unknown() int32 { return t.unk }

// Pad returns the padding token id, or -1.
func (t *Tokenizer) Pad() int32 { return t.pad }

// AddBOS reports whether Encode with addSpecial prepends BOS.
func (t *Tokenizer) AddBOS() bool { return t.addBOS }

// AddEOS reports whether Encode with addSpecial appends EOS.
func (t *Tokenizer) AddEOS() bool { return t.addEOS }

// IsEOG reports whether id ends generation (EOS, EOT, EOM and the tokens
// llama.cpp treats as such by their text).
func (t *Tokenizer) IsEOG(id int32) bool { return t.eog[id] }

// EOGTokens returns the end-of-generation token ids in ascending order.
func (t *Tokenizer) EOGTokens() []int32 {
	out := make([]int32, 0, len(t.eog))
	for id := range t.eog {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// TokenText returns the vocabulary string of id ("" for an invalid id).
func (t *Tokenizer) TokenText(id int32) string {
	if !t.valid(id) {
		return ""
	}
	return t.tokens[id]
}

// TokenType returns the type of id (TokenUndefined for an invalid id).
func (t *Tokenizer) TokenType(id int32) TokenType {
	if !t.valid(id) {
		return TokenUndefined
	}
	return t.types[id]
}

// TokenID returns the id whose vocabulary string is exactly text.
func (t *Tokenizer) TokenID(text string) (int32, bool) {
	id, ok := t.ids[text]
	return id, ok
}

func (t *Tokenizer) valid(id int32) bool { return id >= 0 && int(id) < len(t.tokens) }

// isSpecialType reports whether tokens of type k are hidden from text unless
// special tokens are rendered (llama.cpp: control and unknown).
func isSpecialType(k TokenType) bool { return k == TokenControl || k == TokenUnknown }

// vocabSpec is what every constructor gathers before finish builds the
// lookup tables; it keeps FromGGUF and the tokenizer.json loader agreeing.
type vocabSpec struct {
	model          Model
	pre            string
	tokens         []string
	scores         []float32
	types          []TokenType
	merges         []mergePair
	preTok         *preTokenizer
	normalize      func(string) string
	bos, eos, unk  int32
	sep, pad       int32
	eot, eom       int32
	extraEOG       []int32
	addBOS, addEOS bool
	addSpacePrefix bool
	byteFallback   bool // unigram: uncovered characters as byte tokens
	ignoreMerges   bool
	cleanSpaces    bool
	rstripAll      bool // phi-3: strip white space after special tokens
}

// errNoTokens is returned for metadata without a vocabulary.
var errNoTokens = errors.New("tokenizer: no tokens")

// finish validates the spec and builds the Tokenizer.
func (s *vocabSpec) finish() (*Tokenizer, error) {
	n := len(s.tokens)
	if n == 0 {
		return nil, errNoTokens
	}
	if s.scores == nil {
		s.scores = make([]float32, n)
	}
	if s.types == nil {
		s.types = make([]TokenType, n)
		for i := range s.types {
			s.types[i] = TokenNormal
		}
	}
	if len(s.scores) != n || len(s.types) != n {
		return nil, fmt.Errorf("tokenizer: %d tokens but %d scores and %d token types", n, len(s.scores), len(s.types))
	}
	t := &Tokenizer{
		model: s.model, pre: s.pre, tokens: s.tokens, scores: s.scores, types: s.types,
		lstrip: make([]bool, n), rstrip: make([]bool, n),
		ids: make(map[string]int32, n), preTok: s.preTok, normalize: s.normalize,
		addBOS: s.addBOS, addEOS: s.addEOS, addSpacePrefix: s.addSpacePrefix,
		ignoreMerges: s.ignoreMerges, cleanSpaces: s.cleanSpaces,
	}
	for i, tok := range t.tokens {
		if tok == "" {
			tok = "[EMPTY_" + strconv.Itoa(i) + "]"
			t.tokens[i] = tok
		}
		t.ids[tok] = int32(i)
		t.maxTokenLen = max(t.maxTokenLen, len(tok))
	}
	if s.model == ModelBPE {
		t.buildMerges(s.merges)
	}
	check := func(id int32) int32 {
		if id < 0 || int(id) >= n {
			return noToken
		}
		return id
	}
	t.bos, t.eos, t.unk = check(s.bos), check(s.eos), check(s.unk)
	t.sep, t.pad, t.eot, t.eom = check(s.sep), check(s.pad), check(s.eot), check(s.eom)
	for b := range t.byteIDs {
		t.byteIDs[b] = t.findByteToken(byte(b))
	}
	if s.model == ModelUGM {
		if t.unk == noToken {
			return nil, errors.New("tokenizer: a unigram vocabulary needs an unknown token")
		}
		lowest := math.Inf(1)
		for id, k := range t.types {
			if k == TokenNormal {
				lowest = min(lowest, float64(t.scores[id]))
			}
		}
		if math.IsInf(lowest, 1) {
			return nil, errors.New("tokenizer: a unigram vocabulary without normal pieces")
		}
		t.ugmUnknownScore, t.byteFallback = lowest-unknownPenalty, s.byteFallback
	}
	t.findEOG(s.extraEOG)
	t.buildSpecial(s.rstripAll)
	return t, nil
}

// eotTexts are the texts llama.cpp recognises as end-of-turn tokens.
var eotTexts = []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "<｜end▁of▁sentence｜>"}

// eogTexts are the texts llama.cpp treats as end of generation.
var eogTexts = []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>"}

// EndOfTurnTexts are the texts of the tokens that end a turn or a
// generation in the common vocabularies (those recognised as end-of-turn
// or end-of-generation tokens by text), for finding the marker a chat
// template closes a turn with.
func EndOfTurnTexts() []string {
	out := slices.Clone(eogTexts)
	for _, s := range eotTexts {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// findEOG fills eot/eom when missing and the end-of-generation set, and
// marks text-detected ones as control tokens, as llama.cpp does.
func (t *Tokenizer) findEOG(extra []int32) {
	markControl := func(id int32) {
		t.types[id] = TokenControl
	}
	if t.eot == noToken {
		for _, s := range eotTexts {
			if id, ok := t.ids[s]; ok {
				t.eot = id
				markControl(id)
				break
			}
		}
	}
	if t.eom == noToken {
		if id, ok := t.ids["<|eom_id|>"]; ok {
			t.eom = id
			markControl(id)
		}
	}
	t.eog = map[int32]bool{}
	for _, id := range extra {
		if t.valid(id) {
			t.eog[id] = true
		}
	}
	for _, s := range eogTexts {
		if id, ok := t.ids[s]; ok {
			t.eog[id] = true
			markControl(id)
		}
	}
	for _, id := range []int32{t.eos, t.eot, t.eom} {
		if id != noToken {
			t.eog[id] = true
		}
	}
}

// buildSpecial lists the tokens that tokenizer_st_partition looks for.
func (t *Tokenizer) buildSpecial(rstripAll bool) {
	for id, k := range t.types {
		if k == TokenControl || k == TokenUserDefined || k == TokenUnknown {
			t.special = append(t.special, int32(id))
			if rstripAll {
				t.rstrip[id] = true
			}
		}
	}
	sort.SliceStable(t.special, func(i, j int) bool {
		return len(t.tokens[t.special[i]]) > len(t.tokens[t.special[j]])
	})
	if rstripAll {
		set := func(text string, v bool) {
			if id, ok := t.ids[text]; ok {
				t.rstrip[id] = v
			}
		}
		set("</s>", true)
		for _, s := range []string{"<unk>", "<s>", "<|endoftext|>"} {
			set(s, false)
		}
	}
}

// FromGGUF builds a tokenizer from GGUF metadata (the tokenizer.ggml.* keys),
// with llama.cpp's defaults for absent keys.
func FromGGUF(md Metadata) (*Tokenizer, error) {
	modelName, ok := md.String("tokenizer.ggml.model")
	if !ok {
		return nil, errors.New("tokenizer: missing tokenizer.ggml.model")
	}
	s := &vocabSpec{sep: noToken, pad: noToken, eot: noToken, eom: noToken}
	s.pre, _ = md.String("tokenizer.ggml.pre")
	switch modelName {
	case "llama":
		s.model = ModelSPM
		s.bos, s.eos, s.unk = 1, 2, 0
		s.addSpacePrefix, s.addBOS = true, true
	case "t5":
		// llama.cpp's defaults for a unigram vocabulary; it has no byte
		// fallback, and its precompiled normalizer is not implemented here.
		s.model = ModelUGM
		s.bos, s.eos, s.unk, s.pad = noToken, 1, 2, 0
		s.addSpacePrefix, s.addEOS = true, true
		if k, ok := md.(interface{ Keys() []string }); ok && slices.Contains(k.Keys(), "tokenizer.ggml.precompiled_charsmap") {
			return nil, errors.New("tokenizer: t5 vocabulary with a precompiled_charsmap: SentencePiece's precompiled normalizer is not implemented")
		}
	case "bert":
		s.model = ModelWPM
		s.bos, s.eos, s.unk, s.sep, s.pad = 101, noToken, 100, 102, 0
		s.cleanSpaces, s.addBOS = true, true
	case "gpt2":
		s.model = ModelBPE
		s.bos, s.eos, s.unk = 11, 11, noToken
		info, err := preTokenizerInfoFor(s.pre)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		if info.noBOS {
			s.bos = noToken
		}
		s.addBOS, s.ignoreMerges, s.cleanSpaces = info.addBOS, info.ignoreMerges, info.cleanSpaces
		if s.preTok, err = newLlamaPreTokenizer(preTokenizerPatterns[info.patterns]); err != nil {
			return nil, fmt.Errorf("tokenizer: pre-tokenizer %q: %w", s.pre, err)
		}
		merges, ok := md.Strings("tokenizer.ggml.merges")
		if !ok {
			return nil, errors.New("tokenizer: gpt2 vocabulary without tokenizer.ggml.merges")
		}
		s.merges = parseMerges(merges)
	default:
		return nil, fmt.Errorf("tokenizer: unsupported tokenizer model %q", modelName)
	}
	if v, ok := md.Bool("tokenizer.ggml.add_space_prefix"); ok {
		s.addSpacePrefix = v
	}
	tokens, ok := md.Strings("tokenizer.ggml.tokens")
	if !ok {
		return nil, errNoTokens
	}
	s.tokens = append([]string(nil), tokens...)
	if scores, ok := md.Float32s("tokenizer.ggml.scores"); ok {
		s.scores = scores
	}
	if types, ok := md.Int32s("tokenizer.ggml.token_type"); ok {
		s.types = make([]TokenType, len(types))
		for i, v := range types {
			s.types[i] = TokenType(v)
		}
	}
	for _, k := range []struct {
		key string
		id  *int32
	}{
		{"bos_token_id", &s.bos}, {"eos_token_id", &s.eos}, {"eot_token_id", &s.eot},
		{"eom_token_id", &s.eom}, {"unknown_token_id", &s.unk}, {"seperator_token_id", &s.sep},
		{"padding_token_id", &s.pad},
	} {
		// Out-of-range ids (such as UINT32_MAX for "none") keep the default.
		if v, ok := md.Uint32("tokenizer.ggml." + k.key); ok && int64(v) < int64(len(s.tokens)) {
			*k.id = int32(v)
		}
	}
	for _, key := range []string{"fim_pad_token_id", "fim_rep_token_id", "fim_sep_token_id"} {
		if v, ok := md.Uint32("tokenizer.ggml." + key); ok && int64(v) < int64(len(s.tokens)) {
			s.extraEOG = append(s.extraEOG, int32(v))
		}
	}
	if v, ok := md.Bool("tokenizer.ggml.add_bos_token"); ok {
		s.addBOS = v
	}
	if v, ok := md.Bool("tokenizer.ggml.add_eos_token"); ok {
		s.addEOS = v
	}
	name, _ := md.String("general.name")
	name = strings.ToLower(name)
	s.rstripAll = strings.Contains(name, "phi-3") || strings.Contains(name, "phi3")
	t, err := s.finish()
	if err != nil {
		return nil, err
	}
	if strings.Contains(s.pre, "jina-v2-") {
		if id, ok := t.ids["<mask>"]; ok {
			t.lstrip[id] = true
		}
	}
	return t, nil
}

// parseMerges splits "left right" merge strings at the first space after
// the first byte (a side may itself be a space-like symbol).
func parseMerges(merges []string) []mergePair {
	out := make([]mergePair, 0, len(merges))
	for _, m := range merges {
		i := strings.IndexByte(m[min(1, len(m)):], ' ')
		if i < 0 {
			out = append(out, mergePair{"\x00", "\x00"}) // keeps ranks aligned; never matches
			continue
		}
		i += min(1, len(m))
		out = append(out, mergePair{m[:i], m[i+1:]})
	}
	return out
}
