package tokenizer

import (
	"fmt"
)

// splitter refines a partition of a text into pieces. The text is given as
// code points with their classifications; pieces are lengths in code points
// that sum to len(runes). Every splitter only cuts inside a piece, never
// merges, and keeps unmatched stretches as pieces of their own — the
// semantics of llama.cpp's unicode_regex_split and of Hugging Face's
// Split(behavior=Isolated).
type splitter interface {
	split(runes []rune, flags []cpFlags, pieces []int) []int
}

// preTokenizer is a chain of splitters applied in order.
type preTokenizer struct {
	splitters   []splitter
	prefixSpace bool // prepend a space unless the text starts with one (HF ByteLevel)
}

// words cuts text into the pre-tokenizer's pieces (byte strings of text).
func (p *preTokenizer) words(text string) []string {
	if text == "" {
		return nil
	}
	if p.prefixSpace && text[0] != ' ' {
		text = " " + text
	}
	runes, offs := codepoints(text)
	if len(p.splitters) == 0 {
		return []string{text}
	}
	flags := make([]cpFlags, len(runes))
	for i, r := range runes {
		flags[i] = runeFlags(r)
	}
	pieces := []int{len(runes)}
	for _, s := range p.splitters {
		pieces = s.split(runes, flags, pieces)
	}
	out := make([]string, 0, len(pieces))
	start := 0
	for _, n := range pieces {
		if n > 0 {
			out = append(out, text[offs[start]:offs[start+n]])
		}
		start += n
	}
	return out
}

// regexSplitter isolates the matches of a pattern.
type regexSplitter struct{ re *regex }

func (s regexSplitter) split(runes []rune, flags []cpFlags, pieces []int) []int {
	mapped := s.re.mapText(runes, flags)
	out := make([]int, 0, len(pieces))
	start := 0
	for _, n := range pieces {
		sub := mapped[start : start+n]
		prev := 0
		for pos := 0; pos < n; {
			end := s.re.matchAt(sub, pos)
			if end < 0 {
				pos++
				continue
			}
			if pos > prev {
				out = append(out, pos-prev)
			}
			out = append(out, end-pos)
			prev, pos = end, end
		}
		if prev < n {
			out = append(out, n-prev)
		}
		start += n
	}
	return out
}

// The GPT-2 and Llama 3 patterns llama.cpp splits with hand-written code, and
// so do we (they are the most used, so speed matters); Qwen2's differs from
// Llama 3's only in splitting single digits, so it gets the same code.
const (
	patternGPT2   = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`
	patternLlama3 = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// patternLlama3HF is the form found in Hugging Face tokenizer.json files.
	patternLlama3HF = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// patternGPT2HF is the ByteLevel pre-tokenizer's pattern: the GPT-2
	// one with a final \s+ alternative, which splits identically because
	// unmatched stretches become pieces anyway.
	patternGPT2HF = patternGPT2 + `|\s+`
	patternQwen2  = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// patternQwen2HF is Qwen2's pattern as in its tokenizer.json.
	patternQwen2HF = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	patternPoro    = ` ?[^(\s|.,!?…。，、।۔،)]+`
)

// preTokenizerPatterns lists, per llama.cpp pre-tokenizer type, the patterns
// applied in order (llama-vocab.cpp, llm_tokenizer_bpe).
var preTokenizerPatterns = map[string][]string{
	"default": {
		`[\p{P}\$\+<=>\^~\|]+`,
		patternGPT2,
		`\p{N}+`,
		`[0-9][0-9][0-9]`,
	},
	"llama3": {patternLlama3},
	"deepseek-llm": {
		`[\r\n]`,
		// Code points that Unicode normalization would change are escaped.
		`\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1F7Dᾀ-ᾴᾶ-ᾼ\u1FBEῂ-ῄῆ-ῌῐ-\u1FD3ῖ-\u1FDBῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ\u212A-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+`,
		`\s?[!-/:-~！-／：-～‘-‟　-。]+`,
		`\s+$`,
		`[一-龥ࠀ-一가-퟿]+`,
		`\p{N}+`,
	},
	"deepseek-coder": {
		`[\r\n]`,
		`\s?\p{L}+`,
		`\s?\p{P}+`,
		`[一-龥ࠀ-一가-퟿]+`,
		`\p{N}`,
	},
	"falcon": {
		`[\p{P}\$\+<=>\^~\|` + "`" + `]+`,
		patternGPT2,
		`[0-9][0-9][0-9]`,
	},
	"starcoder": {`\p{N}`, patternGPT2},
	"gpt2":      {patternGPT2},
	"qwen2":     {patternQwen2},
	"poro":      {patternPoro},
	"viking":    {patternPoro, `\p{N}`},
	"tekken": {
		`[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
	},
	"chameleon": {
		`<sentinel:[0-9]+>`,
		`(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z`,
		`([\t\n]|    |  )`,
		`\p{N}`,
		`[\p{P}!-/:-@\[-` + "`" + `{-~]`,
		patternGPT2,
	},
}

// preTokenizerInfo describes a tokenizer.ggml.pre value: which pattern set it
// uses and the vocabulary flags llama.cpp sets for it.
type preTokenizerInfo struct {
	patterns     string // key of preTokenizerPatterns
	ignoreMerges bool   // whole-word vocabulary hits skip BPE
	addBOS       bool   // default for add_bos_token
	cleanSpaces  bool   // clean_up_tokenization_spaces on decode
	noBOS        bool   // the vocabulary has no BOS token
}

// preTokenizerInfoFor maps tokenizer.ggml.pre to its pre-tokenizer, following
// llama.cpp's llama_vocab::impl::load.
func preTokenizerInfoFor(pre string) (preTokenizerInfo, error) {
	switch pre {
	case "", "default":
		return preTokenizerInfo{patterns: "default", cleanSpaces: true}, nil
	case "llama3", "llama-v3", "llama-bpe", "falcon3":
		return preTokenizerInfo{patterns: "llama3", ignoreMerges: true, addBOS: true, cleanSpaces: true}, nil
	case "dbrx", "smaug-bpe":
		return preTokenizerInfo{patterns: "llama3", cleanSpaces: true}, nil
	case "chatglm-bpe":
		return preTokenizerInfo{patterns: "llama3", cleanSpaces: true, noBOS: true}, nil
	case "deepseek-llm":
		return preTokenizerInfo{patterns: "deepseek-llm"}, nil
	case "deepseek-coder":
		return preTokenizerInfo{patterns: "deepseek-coder"}, nil
	case "falcon":
		return preTokenizerInfo{patterns: "falcon", cleanSpaces: true}, nil
	case "starcoder", "refact", "codeshell", "exaone", "minerva-7b":
		return preTokenizerInfo{patterns: "starcoder", cleanSpaces: true}, nil
	case "command-r", "smollm":
		return preTokenizerInfo{patterns: "starcoder"}, nil
	case "gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v1-en", "jina-v2-es", "jina-v2-de",
		"jina-v2-code", "roberta-bpe", "mpt", "olmo", "jais":
		return preTokenizerInfo{patterns: "gpt2", cleanSpaces: true}, nil
	case "qwen2":
		return preTokenizerInfo{patterns: "qwen2"}, nil
	case "stablelm2", "megrez":
		return preTokenizerInfo{patterns: "qwen2", cleanSpaces: true}, nil
	case "poro-chat":
		return preTokenizerInfo{patterns: "poro"}, nil
	case "bloom", "gpt3-finnish":
		return preTokenizerInfo{patterns: "poro", cleanSpaces: true}, nil
	case "viking":
		return preTokenizerInfo{patterns: "viking"}, nil
	case "tekken":
		return preTokenizerInfo{patterns: "tekken", ignoreMerges: true, addBOS: true}, nil
	case "chameleon":
		return preTokenizerInfo{patterns: "chameleon", addBOS: true}, nil
	}
	return preTokenizerInfo{}, fmt.Errorf("unknown pre-tokenizer type %q", pre)
}

// newLlamaPreTokenizer compiles llama.cpp patterns, substituting the
// hand-written splitters where llama.cpp does.
func newLlamaPreTokenizer(patterns []string) (*preTokenizer, error) {
	p := &preTokenizer{}
	for _, pat := range patterns {
		s, err := llamaSplitter(pat, llamaRegexMode(pat))
		if err != nil {
			return nil, err
		}
		p.splitters = append(p.splitters, s)
	}
	return p, nil
}

// llamaSplitter returns the hand-written splitter for the GPT-2 and Llama 3
// patterns and a regex splitter otherwise.
func llamaSplitter(pattern string, mode regexMode) (splitter, error) {
	switch pattern {
	case patternGPT2, patternGPT2HF:
		return gpt2Splitter{}, nil
	case patternLlama3, patternLlama3HF:
		return llama3Splitter{maxDigits: 3}, nil
	case patternQwen2, patternQwen2HF:
		return llama3Splitter{maxDigits: 1}, nil
	}
	re, err := compileRegex(pattern, mode)
	if err != nil {
		return nil, err
	}
	return regexSplitter{re}, nil
}
