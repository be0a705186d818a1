package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

func TestRegexMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		mode    regexMode
		text    string
		want    []string // the pieces of splitting text
	}{
		{`\s+(?!\S)|\s+`, modeUnicode, "a   b", []string{"a", "  ", " ", "b"}},
		{`\s+(?!\S)`, modeUnicode, "a \tb  ", []string{"a", " ", "\tb", "  "}},
		{`\p{N}{1,3}`, modeUnicode, "1234567", []string{"123", "456", "7"}},
		{`\p{N}{2,}`, modeUnicode, "1a22b333", []string{"1a", "22", "b", "333"}},
		{`a*?b`, modeUnicode, "aab", []string{"aab"}},
		{`(?i:'s|'ll)`, modeUnicode, "'S'Ll", []string{"'S", "'Ll"}},
		{`[^a-c]+`, modeUnicode, "abxyzc", []string{"ab", "xyz", "c"}},
		{`\s+$`, modeWide, "a  b  ", []string{"a  b", "  "}},
		{`^a`, modeUnicode, "aaa", []string{"a", "aa"}},
		{`x(?=y)`, modeUnicode, "xxy", []string{"x", "x", "y"}},
		{`[\p{P}\$]+`, modeCollapsed, "a$.,b“”", []string{"a", "$.,", "b", "“”"}},
		{`\p{L}+`, modeCollapsed, "héllo wörld", []string{"héllo", " ", "wörld"}},
		{`[一-龥]+`, modeWide, "ab你好c", []string{"ab", "你好", "c"}},
		{`\d\w\W`, modeUnicode, "1a-", []string{"1a-"}},
		{`\x41\u0042.`, modeUnicode, "ABC", []string{"ABC"}},
		{`\u{1F999}`, modeUnicode, "x🦙", []string{"x", "🦙"}},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			re, err := compileRegex(tc.pattern, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			p := &preTokenizer{splitters: []splitter{regexSplitter{re}}}
			if got := p.words(tc.text); !slices.Equal(got, tc.want) {
				t.Errorf("split(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

func TestRegexErrors(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		mode    regexMode
	}{
		{`(a`, modeUnicode},
		{`a)`, modeUnicode},
		{`[a`, modeUnicode},
		{`\p{Xx}`, modeUnicode},
		{`\p{M}`, modeCollapsed},
		{`\q`, modeUnicode},
		{`[z-a]`, modeUnicode},
		{`a{x}`, modeUnicode},
		{`(?<n>a)`, modeUnicode},
		{`\x4`, modeUnicode},
	} {
		if _, err := compileRegex(tc.pattern, tc.mode); err == nil {
			t.Errorf("compileRegex(%q) succeeded", tc.pattern)
		}
	}
}

// TestCustomSplittersMatchRegex checks the hand-written GPT-2 and Llama 3
// splitters against the regex engine running their patterns, in llama.cpp's
// collapsed mode and with Unicode semantics.
func TestCustomSplittersMatchRegex(t *testing.T) {
	inputs := append(fuzzStrings(2000), "", " ", "  a", "a  ", "\n\n \n", "'s'S 'LL", "x\u00a0\u00a0y", "1 2  3")
	for _, tc := range []struct {
		name    string
		pattern string
		custom  splitter
	}{
		{"gpt2", patternGPT2, gpt2Splitter{}},
		{"llama3", patternLlama3, llama3Splitter{3}},
		{"llama3-hf", patternLlama3HF, llama3Splitter{3}},
		{"qwen2", patternQwen2, llama3Splitter{1}},
		{"qwen2-hf", patternQwen2HF, llama3Splitter{1}},
	} {
		for _, mode := range []regexMode{modeCollapsed, modeUnicode} {
			re, err := compileRegex(tc.pattern, mode)
			if err != nil {
				t.Fatal(err)
			}
			want := &preTokenizer{splitters: []splitter{regexSplitter{re}}}
			got := &preTokenizer{splitters: []splitter{tc.custom}}
			for _, s := range inputs {
				if a, b := got.words(s), want.words(s); !slices.Equal(a, b) {
					t.Fatalf("%s mode %d: %q: custom %q, regex %q", tc.name, mode, s, a, b)
				}
			}
		}
	}
}

// TestPreTokenizersCompile builds every llama.cpp pre-tokenizer and checks
// that its pieces always reassemble the input.
func TestPreTokenizersCompile(t *testing.T) {
	names := []string{"", "default", "llama3", "llama-bpe", "dbrx", "chatglm-bpe", "deepseek-llm",
		"deepseek-coder", "falcon", "starcoder", "refact", "smollm", "command-r", "gpt-2", "mpt",
		"qwen2", "stablelm2", "poro-chat", "bloom", "viking", "tekken", "chameleon", "jina-v2-de"}
	for _, name := range names {
		info, err := preTokenizerInfoFor(name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := newLlamaPreTokenizer(preTokenizerPatterns[info.patterns])
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		for _, s := range fuzzStrings(200) {
			if got := strings.Join(p.words(s), ""); got != s {
				t.Fatalf("%q: pieces of %q join to %q", name, s, got)
			}
		}
	}
	if _, err := preTokenizerInfoFor("no-such-pre"); err == nil {
		t.Error("unknown pre-tokenizer accepted")
	}
}

func TestPreTokenizerExamples(t *testing.T) {
	for _, tc := range []struct {
		pre, text string
		want      []string
	}{
		{"qwen2", "abc 1234 don't", []string{"abc", " ", "1", "2", "3", "4", " don", "'t"}},
		{"llama3", "abc 1234\n\n  x", []string{"abc", " ", "123", "4", "\n\n", " ", " x"}},
		{"smollm", "x=12 ", []string{"x", "=", "1", "2", " "}},
		{"deepseek-coder", "int x=1;\n", []string{"int", " x", "=", "1", ";", "\n"}},
	} {
		info, _ := preTokenizerInfoFor(tc.pre)
		p, err := newLlamaPreTokenizer(preTokenizerPatterns[info.patterns])
		if err != nil {
			t.Fatal(err)
		}
		if got := p.words(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("%s: words(%q) = %q, want %q", tc.pre, tc.text, got, tc.want)
		}
	}
}
