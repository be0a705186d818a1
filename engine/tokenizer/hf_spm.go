package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// SPMVocab is a SentencePiece vocabulary read from a Hugging Face
// tokenizer.json, in GGUF "llama" terms: what engine/hf writes as
// tokenizer.ggml.* metadata and what FromHFTokenizerJSON tokenizes with.
type SPMVocab struct {
	Tokens []string
	// Scores rank merges: a token made by merge number r scores -r, so the
	// SentencePiece merge loop (highest score first) applies merges in the
	// tokenizer.json's order, as Hugging Face's BPE does.
	Scores         []float32
	Types          []TokenType
	Rstrip         []bool // added tokens that swallow the white space after them
	BOS, EOS, UNK  int32  // -1 when absent
	AddSpacePrefix bool   // Prepend("▁") / Metaspace prepend_scheme first|always
	AddBOS, AddEOS bool   // from the TemplateProcessing post-processor
	// Unigram is set for a unigram model (GGUF "t5"): Scores are the
	// pieces' log probabilities and segmentation is a Viterbi search;
	// ByteFallback turns characters no piece covers into byte tokens.
	Unigram, ByteFallback bool
}

// noMergeScore scores multi-character tokens that no merge produces; they
// lose to every token a merge produces.
const noMergeScore = -1e9

// hfSPMFile is the part of a SentencePiece-style tokenizer.json that
// IsHFSentencePiece and HFSentencePiece read beyond hfTokenizerFile.
type hfSPMFile struct {
	Model struct {
		Type         string  `json:"type"`
		ByteFallback bool    `json:"byte_fallback"`
		UnkToken     *string `json:"unk_token"`
	} `json:"model"`
	Normalizer   json.RawMessage `json:"normalizer"`
	PreTokenizer json.RawMessage `json:"pre_tokenizer"`
}

// IsHFSentencePiece reports whether tokenizer.json describes a
// SentencePiece-style vocabulary (Llama 2, Mistral v0.1, Gemma, Phi-3):
// model BPE with byte fallback or a "▁" word joiner (Metaspace
// pre-tokenizer, Replace normalizer), or model Unigram.
func IsHFSentencePiece(tokenizerJSON []byte) bool {
	var f hfSPMFile
	if json.Unmarshal(tokenizerJSON, &f) != nil {
		return false
	}
	if f.Model.Type == "Unigram" {
		return true
	}
	both := string(f.Normalizer) + string(f.PreTokenizer)
	return f.Model.Type == "BPE" && (f.Model.ByteFallback || strings.Contains(both, "Metaspace") ||
		strings.Contains(string(f.Normalizer), spaceMarker) || strings.Contains(string(f.Normalizer), `\u2581`))
}

// HFSentencePiece reads a SentencePiece-style BPE tokenizer.json. Vocabulary
// tokens are normal, "<0xNN>" tokens byte tokens, unk_token unknown, added
// tokens control (special) or user-defined; scores come from the merges.
// Normalizers and pre-tokenizers other than the "▁" handling SentencePiece
// does (Prepend, Replace " "→"▁", Metaspace) are an error. A Unigram model
// is read by hfUnigram.
func HFSentencePiece(tokenizerJSON []byte) (*SPMVocab, error) {
	var g hfSPMFile
	if err := json.Unmarshal(tokenizerJSON, &g); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	if g.Model.Type == "Unigram" {
		return hfUnigram(tokenizerJSON)
	}
	if g.Model.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer: tokenizer.json model %q is not supported", g.Model.Type)
	}
	var f hfTokenizerFile
	if err := json.Unmarshal(tokenizerJSON, &f); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	v := &SPMVocab{BOS: noToken, EOS: noToken, UNK: noToken}
	var err error
	if v.AddSpacePrefix, err = spmSpaceHandling(f.Normalizer, f.PreTokenizer, false); err != nil {
		return nil, err
	}
	n := int32(0)
	for _, id := range f.Model.Vocab {
		n = max(n, id+1)
	}
	for _, a := range f.AddedTokens {
		n = max(n, a.ID+1)
	}
	if n == 0 || n > 1<<22 {
		return nil, fmt.Errorf("tokenizer: tokenizer.json vocabulary of %d tokens", n)
	}
	v.Tokens, v.Types, v.Scores, v.Rstrip = make([]string, n), make([]TokenType, n), make([]float32, n), make([]bool, n)
	for i := range v.Tokens {
		v.Tokens[i], v.Types[i] = "[PAD"+strconv.Itoa(i)+"]", TokenUnused
	}
	for text, id := range f.Model.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("tokenizer: negative id for %q", text)
		}
		v.Tokens[id], v.Types[id] = text, TokenNormal
		if isByteToken(text) {
			v.Types[id] = TokenByte
		}
	}
	if err := v.addedTokens(&f); err != nil {
		return nil, err
	}
	if g.Model.UnkToken != nil {
		if id, ok := f.Model.Vocab[*g.Model.UnkToken]; ok {
			v.UNK, v.Types[id] = id, TokenUnknown
		}
	}
	merges, err := parseHFMerges(f.Model.Merges)
	if err != nil {
		return nil, err
	}
	scored := make([]bool, n)
	for r, m := range merges {
		if id, ok := f.Model.Vocab[m.a+m.b]; ok && !scored[id] {
			v.Scores[id], scored[id] = -float32(r), true
		}
	}
	for id, text := range v.Tokens {
		if !scored[id] && v.Types[id] == TokenNormal && len([]rune(text)) > 1 {
			v.Scores[id] = noMergeScore
		}
	}
	if err := v.specials(f.PostProcessor); err != nil {
		return nil, err
	}
	return v, nil
}

// specials sets BOS/EOS and whether they are added from the
// post-processor, then BOS/EOS from the usual texts where it names none.
func (v *SPMVocab) specials(postProcessor json.RawMessage) error {
	s := &vocabSpec{bos: noToken, eos: noToken}
	if err := hfPostProcessor(postProcessor, s); err != nil {
		return err
	}
	v.BOS, v.EOS, v.AddBOS, v.AddEOS = s.bos, s.eos, s.addBOS, s.addEOS
	for _, d := range []struct {
		id   *int32
		text string
	}{{&v.BOS, "<s>"}, {&v.EOS, "</s>"}, {&v.BOS, "<bos>"}, {&v.EOS, "<eos>"}} {
		if *d.id == noToken {
			if i := slices.Index(v.Tokens, d.text); i >= 0 {
				*d.id = int32(i)
			}
		}
	}
	return nil
}

// addedTokens marks the tokenizer.json's added tokens in v: control when
// special, else user-defined, with their rstrip.
func (v *SPMVocab) addedTokens(f *hfTokenizerFile) error {
	for _, a := range f.AddedTokens {
		if a.ID < 0 || int(a.ID) >= len(v.Tokens) {
			return fmt.Errorf("tokenizer: added token %q has id %d outside the vocabulary", a.Content, a.ID)
		}
		v.Tokens[a.ID], v.Types[a.ID], v.Rstrip[a.ID] = a.Content, TokenUserDefined, a.Rstrip
		if a.Special {
			v.Types[a.ID] = TokenControl
		}
	}
	return nil
}

// isByteToken reports whether text is a byte-fallback token "<0xNN>".
func isByteToken(text string) bool {
	if len(text) != 6 || !strings.HasPrefix(text, "<0x") || text[5] != '>' {
		return false
	}
	_, err := strconv.ParseUint(text[3:5], 16, 8)
	return err == nil
}

// spmNode is a normalizer or pre-tokenizer node of a SentencePiece-style
// tokenizer.json.
type spmNode struct {
	Type           string          `json:"type"`
	Normalizers    []spmNode       `json:"normalizers"`
	Pretokenizers  []spmNode       `json:"pretokenizers"`
	Prepend        string          `json:"prepend"`
	Pattern        json.RawMessage `json:"pattern"`
	Content        string          `json:"content"`
	Replacement    string          `json:"replacement"`
	PrependScheme  *string         `json:"prepend_scheme"`
	AddPrefixSpace *bool           `json:"add_prefix_space"`
	Split          bool            `json:"split"`
	Charsmap       *string         `json:"precompiled_charsmap"`
}

// spmSpaceHandling checks that the normalizer and pre-tokenizer only do
// SentencePiece's space handling (spaces become "▁", optionally with one
// "▁" in front) and reports whether the "▁" prefix is added. unigram
// allows what unigram tokenizer.json files add: Metaspace's split (a
// unigram vocabulary's pieces hold "▁" only in front, so splitting before
// each "▁" leaves the best segmentation as it is, and llama.cpp does not
// split either) and an empty Precompiled normalizer.
func spmSpaceHandling(normalizer, preTokenizer json.RawMessage, unigram bool) (prefix bool, err error) {
	replaced := false
	var visit func(n spmNode) error
	visit = func(n spmNode) error {
		switch n.Type {
		case "Sequence":
			for _, sub := range append(n.Normalizers, n.Pretokenizers...) {
				if err := visit(sub); err != nil {
					return err
				}
			}
		case "Prepend":
			if n.Prepend != spaceMarker {
				return fmt.Errorf("tokenizer: Prepend %q is not supported (only %q)", n.Prepend, spaceMarker)
			}
			prefix = true
		case "Replace":
			var pat struct {
				String *string `json:"String"`
			}
			if json.Unmarshal(n.Pattern, &pat) != nil || pat.String == nil || *pat.String != " " || n.Content != spaceMarker {
				return fmt.Errorf("tokenizer: Replace %s -> %q is not supported (only \" \" -> %q)", n.Pattern, n.Content, spaceMarker)
			}
			replaced = true
		case "Split":
			// Gemma's Split(" ") after the Replace normalizer finds no space.
			var pat struct {
				String *string `json:"String"`
			}
			if json.Unmarshal(n.Pattern, &pat) != nil || pat.String == nil || *pat.String != " " || !replaced {
				return fmt.Errorf("tokenizer: Split %s is not supported in a SentencePiece-style tokenizer.json (only on \" \" after Replace(\" \", %q))", n.Pattern, spaceMarker)
			}
		case "Metaspace":
			if n.Replacement != spaceMarker {
				return fmt.Errorf("tokenizer: Metaspace replacement %q is not supported", n.Replacement)
			}
			if n.Split && !unigram {
				return errors.New("tokenizer: Metaspace with split=true is not supported")
			}
			replaced = true
			switch {
			case n.PrependScheme != nil:
				if *n.PrependScheme != "first" && *n.PrependScheme != "always" && *n.PrependScheme != "never" {
					return fmt.Errorf("tokenizer: Metaspace prepend_scheme %q is not supported", *n.PrependScheme)
				}
				prefix = prefix || *n.PrependScheme != "never"
			case n.AddPrefixSpace != nil:
				prefix = prefix || *n.AddPrefixSpace
			default:
				prefix = true
			}
		case "Precompiled":
			if n.Charsmap != nil && *n.Charsmap != "" {
				return errors.New("tokenizer: the Precompiled normalizer (SentencePiece's precompiled_charsmap, as T5 and mT5 have) is not implemented; serve a GGUF made by llama.cpp's convert_hf_to_gguf.py with llama.cpp")
			}
			if !unigram {
				return errors.New("tokenizer: the Precompiled normalizer is not supported in a SentencePiece-style BPE tokenizer.json")
			}
		default:
			return fmt.Errorf("tokenizer: %q is not supported in a SentencePiece-style tokenizer.json", n.Type)
		}
		return nil
	}
	for _, raw := range []json.RawMessage{normalizer, preTokenizer} {
		if isJSONNull(raw) {
			continue
		}
		var n spmNode
		if err := json.Unmarshal(raw, &n); err != nil {
			return false, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
		}
		if err := visit(n); err != nil {
			return false, err
		}
	}
	if !replaced {
		return false, errors.New("tokenizer: SentencePiece-style tokenizer.json without Replace(\" \", \"▁\") or Metaspace is not supported")
	}
	return prefix, nil
}

// fromSPMVocab builds the tokenizer of v, with config.json's ids (may be
// nil) and the overrides of the directory's other files.
func fromSPMVocab(v *SPMVocab, configJSON []byte, ov hfOverrides) (*Tokenizer, error) {
	s := &vocabSpec{model: ModelSPM, tokens: v.Tokens, scores: v.Scores, types: v.Types,
		bos: v.BOS, eos: v.EOS, unk: v.UNK, sep: noToken, pad: noToken, eot: noToken, eom: noToken,
		addBOS: v.AddBOS, addEOS: v.AddEOS, addSpacePrefix: v.AddSpacePrefix}
	if v.Unigram {
		s.model, s.byteFallback = ModelUGM, v.ByteFallback
	}
	if len(configJSON) > 0 {
		if err := hfConfigIDs(configJSON, s); err != nil {
			return nil, err
		}
	}
	ov.apply(s)
	t, err := s.finish()
	if err != nil {
		return nil, err
	}
	copy(t.rstrip, v.Rstrip)
	return t, nil
}
