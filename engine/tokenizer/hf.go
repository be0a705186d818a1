package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// hfTokenizerFile is the part of a Hugging Face tokenizer.json we read.
type hfTokenizerFile struct {
	AddedTokens []struct {
		ID      int32  `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
		Lstrip  bool   `json:"lstrip"`
		Rstrip  bool   `json:"rstrip"`
	} `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Model         struct {
		Type                    string           `json:"type"`
		Vocab                   map[string]int32 `json:"vocab"`
		Merges                  json.RawMessage  `json:"merges"`
		IgnoreMerges            bool             `json:"ignore_merges"`
		ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
	} `json:"model"`
}

// hfComponent is a normalizer, pre-tokenizer or post-processor node.
type hfComponent struct {
	Type           string          `json:"type"`
	Normalizers    []hfComponent   `json:"normalizers"`
	Pretokenizers  []hfComponent   `json:"pretokenizers"`
	Processors     []hfComponent   `json:"processors"`
	AddPrefixSpace bool            `json:"add_prefix_space"`
	UseRegex       *bool           `json:"use_regex"`
	Individual     bool            `json:"individual_digits"`
	Behavior       string          `json:"behavior"`
	Invert         bool            `json:"invert"`
	Pattern        json.RawMessage `json:"pattern"`
	Single         []struct {
		SpecialToken *struct {
			ID string `json:"id"`
		} `json:"SpecialToken"`
	} `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int32 `json:"ids"`
	} `json:"special_tokens"`
}

// LoadHF builds a tokenizer from a Hugging Face model directory: its
// tokenizer.json and, when present, config.json (BOS/EOS/PAD ids),
// tokenizer_config.json (add_bos_token, add_eos_token) and
// generation_config.json (the EOS id generation stops at), read as
// engine/hf reads them when it serves the directory.
func LoadHF(dir string) (*Tokenizer, error) {
	tj, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var files [3][]byte
	for i, name := range []string{"config.json", "tokenizer_config.json", "generation_config.json"} {
		files[i], err = os.ReadFile(filepath.Join(dir, name))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
	}
	ov, err := readHFOverrides(files[1], files[2])
	if err != nil {
		return nil, err
	}
	return fromHF(tj, files[0], ov)
}

// hfOverrides are the settings tokenizer_config.json and
// generation_config.json override.
type hfOverrides struct {
	AddBOS *bool           `json:"add_bos_token"`
	AddEOS *bool           `json:"add_eos_token"`
	EOS    json.RawMessage `json:"-"` // generation_config.json eos_token_id
}

func readHFOverrides(tokenizerConfig, generationConfig []byte) (hfOverrides, error) {
	var ov hfOverrides
	if len(tokenizerConfig) > 0 {
		if err := json.Unmarshal(tokenizerConfig, &ov); err != nil {
			return ov, fmt.Errorf("tokenizer: tokenizer_config.json: %w", err)
		}
	}
	if len(generationConfig) > 0 {
		var gc struct {
			EOS json.RawMessage `json:"eos_token_id"`
		}
		if err := json.Unmarshal(generationConfig, &gc); err != nil {
			return ov, fmt.Errorf("tokenizer: generation_config.json: %w", err)
		}
		ov.EOS = gc.EOS
	}
	return ov, nil
}

// apply sets the overridden fields of s.
func (ov hfOverrides) apply(s *vocabSpec) {
	if ov.AddBOS != nil {
		s.addBOS = *ov.AddBOS
	}
	if ov.AddEOS != nil {
		s.addEOS = *ov.AddEOS
	}
	var one int32
	var many []int32
	if len(ov.EOS) == 0 {
		return
	}
	if json.Unmarshal(ov.EOS, &one) == nil {
		s.eos = one
	} else if json.Unmarshal(ov.EOS, &many) == nil && len(many) > 0 {
		s.eos = many[0]
	}
}

// FromHFTokenizerJSON builds a tokenizer from the contents of a Hugging
// Face tokenizer.json: SentencePiece-style BPE (see HFSentencePiece) or
// byte-level BPE (a ByteLevel pre-tokenizer,
// optionally preceded by Split and Digits, and an optional NFC/NFD/NFKC/NFKD/
// Lowercase normalizer) and of config.json (may be nil). Added tokens marked
// special become control tokens, the others user-defined tokens — as
// llama.cpp's converter does — so Encode treats them like the GGUF of the
// same model. Unsupported components are an error rather than a silently
// different tokenization.
func FromHFTokenizerJSON(tokenizerJSON, configJSON []byte) (*Tokenizer, error) {
	return fromHF(tokenizerJSON, configJSON, hfOverrides{})
}

func fromHF(tokenizerJSON, configJSON []byte, ov hfOverrides) (*Tokenizer, error) {
	if IsHFSentencePiece(tokenizerJSON) {
		v, err := HFSentencePiece(tokenizerJSON)
		if err != nil {
			return nil, err
		}
		return fromSPMVocab(v, configJSON, ov)
	}
	var f hfTokenizerFile
	if err := json.Unmarshal(tokenizerJSON, &f); err != nil {
		return nil, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	if f.Model.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer: tokenizer.json model %q is not supported (only BPE)", f.Model.Type)
	}
	if (f.Model.ContinuingSubwordPrefix != nil && *f.Model.ContinuingSubwordPrefix != "") ||
		(f.Model.EndOfWordSuffix != nil && *f.Model.EndOfWordSuffix != "") {
		return nil, errors.New("tokenizer: BPE with subword prefixes or suffixes is not supported")
	}
	s := &vocabSpec{model: ModelBPE, bos: noToken, eos: noToken, unk: noToken, sep: noToken,
		pad: noToken, eot: noToken, eom: noToken, ignoreMerges: f.Model.IgnoreMerges}
	n := int32(0)
	for _, id := range f.Model.Vocab {
		n = max(n, id+1)
	}
	for _, a := range f.AddedTokens {
		n = max(n, a.ID+1)
	}
	s.tokens = make([]string, n)
	s.types = make([]TokenType, n)
	for i := range s.tokens {
		s.tokens[i] = "[PAD" + strconv.Itoa(i) + "]"
		s.types[i] = TokenUnused
	}
	for text, id := range f.Model.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("tokenizer: negative id for %q", text)
		}
		s.tokens[id], s.types[id] = text, TokenNormal
	}
	strip := map[int32][2]bool{}
	for _, a := range f.AddedTokens {
		if a.ID < 0 {
			return nil, fmt.Errorf("tokenizer: negative id for added token %q", a.Content)
		}
		s.tokens[a.ID] = a.Content
		s.types[a.ID] = TokenUserDefined
		if a.Special {
			s.types[a.ID] = TokenControl
		}
		strip[a.ID] = [2]bool{a.Lstrip, a.Rstrip}
	}
	var err error
	if s.merges, err = parseHFMerges(f.Model.Merges); err != nil {
		return nil, err
	}
	if s.normalize, err = hfNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	if s.preTok, err = hfPreTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if err := hfPostProcessor(f.PostProcessor, s); err != nil {
		return nil, err
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
	for id, ls := range strip {
		t.lstrip[id], t.rstrip[id] = ls[0], ls[1]
	}
	return t, nil
}

func parseHFMerges(raw json.RawMessage) ([]mergePair, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var flat []string
	if err := json.Unmarshal(raw, &flat); err == nil {
		return parseMerges(flat), nil
	}
	var pairs [][2]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("tokenizer: merges: %w", err)
	}
	out := make([]mergePair, len(pairs))
	for i, p := range pairs {
		out[i] = mergePair{p[0], p[1]}
	}
	return out, nil
}

func isJSONNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// hfNormalizer compiles a normalizer into a function (nil for none).
func hfNormalizer(raw json.RawMessage) (func(string) string, error) {
	if isJSONNull(raw) {
		return nil, nil
	}
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: normalizer: %w", err)
	}
	return hfNormalizerOf(c)
}

func hfNormalizerOf(c hfComponent) (func(string) string, error) {
	switch c.Type {
	case "NFC":
		return norm.NFC.String, nil
	case "NFD":
		return norm.NFD.String, nil
	case "NFKC":
		return norm.NFKC.String, nil
	case "NFKD":
		return norm.NFKD.String, nil
	case "Lowercase":
		return strings.ToLower, nil
	case "Sequence":
		var fs []func(string) string
		for _, sub := range c.Normalizers {
			f, err := hfNormalizerOf(sub)
			if err != nil {
				return nil, err
			}
			fs = append(fs, f)
		}
		return func(s string) string {
			for _, f := range fs {
				s = f(s)
			}
			return s
		}, nil
	}
	return nil, fmt.Errorf("tokenizer: normalizer %q is not supported", c.Type)
}

// hfPreTokenizer compiles a pre-tokenizer; it must include ByteLevel, since
// only byte-level BPE is supported.
func hfPreTokenizer(raw json.RawMessage) (*preTokenizer, error) {
	if isJSONNull(raw) {
		return nil, errors.New("tokenizer: tokenizer.json without a ByteLevel pre-tokenizer is not supported")
	}
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("tokenizer: pre_tokenizer: %w", err)
	}
	p := &preTokenizer{}
	byteLevel, err := addHFPreTokenizer(p, c)
	if err != nil {
		return nil, err
	}
	if !byteLevel {
		return nil, errors.New("tokenizer: tokenizer.json without a ByteLevel pre-tokenizer is not supported")
	}
	return p, nil
}

func addHFPreTokenizer(p *preTokenizer, c hfComponent) (byteLevel bool, err error) {
	switch c.Type {
	case "Sequence":
		for _, sub := range c.Pretokenizers {
			bl, err := addHFPreTokenizer(p, sub)
			if err != nil {
				return false, err
			}
			byteLevel = byteLevel || bl
		}
		return byteLevel, nil
	case "ByteLevel":
		if c.AddPrefixSpace {
			if len(p.splitters) > 0 {
				return false, errors.New("tokenizer: ByteLevel add_prefix_space after other pre-tokenizers is not supported")
			}
			p.prefixSpace = true
		}
		if c.UseRegex == nil || *c.UseRegex {
			p.splitters = append(p.splitters, gpt2Splitter{})
		}
		return true, nil
	case "Digits":
		pat := `\p{N}+`
		if c.Individual {
			pat = `\p{N}`
		}
		re, err := compileRegex(pat, modeUnicode)
		if err != nil {
			return false, err
		}
		p.splitters = append(p.splitters, regexSplitter{re})
		return false, nil
	case "Split":
		if c.Behavior != "Isolated" || c.Invert {
			return false, fmt.Errorf("tokenizer: Split behavior %q (invert=%t) is not supported", c.Behavior, c.Invert)
		}
		var pat struct {
			Regex  *string `json:"Regex"`
			String *string `json:"String"`
		}
		if err := json.Unmarshal(c.Pattern, &pat); err != nil {
			return false, fmt.Errorf("tokenizer: Split pattern: %w", err)
		}
		var expr string
		switch {
		case pat.Regex != nil:
			expr = *pat.Regex
		case pat.String != nil:
			expr = quoteRegex(*pat.String)
		default:
			return false, errors.New("tokenizer: Split without a pattern")
		}
		sp, err := llamaSplitter(expr, modeUnicode)
		if err != nil {
			return false, fmt.Errorf("tokenizer: %w", err)
		}
		p.splitters = append(p.splitters, sp)
		return false, nil
	}
	return false, fmt.Errorf("tokenizer: pre-tokenizer %q is not supported", c.Type)
}

// quoteRegex escapes s so that it matches literally.
func quoteRegex(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 && !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == ' ') {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// hfPostProcessor reads BOS/EOS addition from a TemplateProcessing
// post-processor (possibly inside a Sequence).
func hfPostProcessor(raw json.RawMessage, s *vocabSpec) error {
	if isJSONNull(raw) {
		return nil
	}
	var c hfComponent
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("tokenizer: post_processor: %w", err)
	}
	var visit func(c hfComponent)
	visit = func(c hfComponent) {
		switch c.Type {
		case "Sequence":
			for _, sub := range c.Processors {
				visit(sub)
			}
		case "TemplateProcessing":
			idOf := func(i int) int32 {
				if i < 0 || i >= len(c.Single) || c.Single[i].SpecialToken == nil {
					return noToken
				}
				st := c.SpecialTokens[c.Single[i].SpecialToken.ID]
				if len(st.IDs) != 1 {
					return noToken
				}
				return st.IDs[0]
			}
			if id := idOf(0); id != noToken {
				s.bos, s.addBOS = id, true
			}
			if id := idOf(len(c.Single) - 1); id != noToken && len(c.Single) > 1 {
				s.eos, s.addEOS = id, true
			}
		}
	}
	visit(c)
	return nil
}

// hfConfigIDs reads bos/eos/pad ids from config.json (an id or a list of ids).
func hfConfigIDs(raw []byte, s *vocabSpec) error {
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("tokenizer: config.json: %w", err)
	}
	get := func(key string, dst *int32) {
		v, ok := cfg[key]
		if !ok {
			return
		}
		var one int32
		if json.Unmarshal(v, &one) == nil {
			*dst = one
			return
		}
		var many []int32
		if json.Unmarshal(v, &many) == nil && len(many) > 0 {
			*dst = many[0]
		}
	}
	get("bos_token_id", &s.bos)
	get("eos_token_id", &s.eos)
	get("pad_token_id", &s.pad)
	return nil
}
