package tokenizer

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/tokenizer/llamaconv"
)

// hfJSONOf converts a GGUF SentencePiece vocabulary to tokenizer.json as
// Hugging Face's LlamaConverter does.
func hfJSONOf(t *testing.T, ref *Tokenizer, space llamaconv.Space) []byte {
	t.Helper()
	types := make([]int32, len(ref.types))
	for i, k := range ref.types {
		types[i] = int32(k)
	}
	js, err := llamaconv.TokenizerJSON(ref.tokens, ref.scores, types,
		llamaconv.Options{Space: space, AddBOS: ref.addBOS, BOS: ref.bos, UNK: ref.unk, Rstrip: ref.rstrip})
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestHFSentencePiece converts the llama.cpp SentencePiece test
// vocabularies (and stories260K's) to tokenizer.json in each of the three "▁" forms and checks
// that the tokenizer read from it encodes every .inp/.out conformance case
// as llama.cpp does with the GGUF, encodes and decodes pseudo-random text
// exactly as the GGUF tokenizer does, and has the same special tokens.
func TestHFSentencePiece(t *testing.T) {
	dir := sharedDir(t, "vocab")
	for _, name := range []string{"llama-spm", "phi-3", "stories260K"} {
		gguf := filepath.Join(dir, "ggml-vocab-"+name+".gguf")
		var cases []vocabCase
		if name == "stories260K" { // no conformance pairs: compared with the GGUF only
			gguf = filepath.Join(sharedDir(t, "models"), "stories260K.gguf")
		} else {
			var err error
			if cases, err = readVocabCases(gguf+".inp", gguf+".out"); err != nil {
				t.Fatal(err)
			}
		}
		for _, space := range []llamaconv.Space{llamaconv.Legacy, llamaconv.Metaspace, llamaconv.NoPrefix} {
			t.Run(name+"/"+[]string{"legacy", "metaspace", "noprefix"}[space], func(t *testing.T) {
				ref := loadGGUFTokenizer(t, gguf)
				if space == llamaconv.NoPrefix { // as Gemma: add_space_prefix false
					c := *ref
					c.addSpacePrefix = false
					ref = &c
				}
				// config.json names BOS and EOS (Phi-3's EOS is <|endoftext|>).
				cfg := `{"bos_token_id":` + strconv.Itoa(int(ref.bos)) + `,"eos_token_id":` + strconv.Itoa(int(ref.eos)) + `}`
				tok, err := FromHFTokenizerJSON(hfJSONOf(t, ref, space), []byte(cfg))
				if err != nil {
					t.Fatal(err)
				}
				if tok.Model() != ModelSPM || tok.VocabSize() != ref.VocabSize() || tok.BOS() != ref.BOS() ||
					tok.EOS() != ref.EOS() || tok.Unknown() != ref.Unknown() || tok.AddBOS() != ref.AddBOS() {
					t.Fatalf("model %v size %d BOS %d EOS %d UNK %d addBOS %t; GGUF: %v %d %d %d %d %t",
						tok.Model(), tok.VocabSize(), tok.BOS(), tok.EOS(), tok.Unknown(), tok.AddBOS(),
						ref.Model(), ref.VocabSize(), ref.BOS(), ref.EOS(), ref.Unknown(), ref.AddBOS())
				}
				for id := range int32(tok.VocabSize()) {
					if tok.TokenText(id) != ref.TokenText(id) || typeClass(tok.TokenType(id)) != typeClass(ref.TokenType(id)) {
						t.Fatalf("token %d: %q type %d, GGUF %q type %d", id, tok.TokenText(id), tok.TokenType(id), ref.TokenText(id), ref.TokenType(id))
					}
				}
				if space != llamaconv.NoPrefix {
					for i, c := range cases {
						if got := tok.Encode(c.text, false, false); !slices.Equal(got, c.ids) {
							t.Errorf("case %d: Encode(%q)\n got %v\nwant %v", i, c.text, got, c.ids)
						}
					}
				}
				inputs := fuzzStrings(400)
				for _, c := range cases {
					inputs = append(inputs, c.text)
				}
				for _, s := range inputs {
					for _, parse := range []bool{false, true} {
						a, b := tok.Encode(s, true, parse), ref.Encode(s, true, parse)
						if !slices.Equal(a, b) {
							t.Fatalf("Encode(%q, parse=%t): HF %v, GGUF %v", s, parse, a, b)
						}
						if da, db := tok.Decode(a), ref.Decode(b); da != db {
							t.Fatalf("Decode(Encode(%q)): HF %q, GGUF %q", s, da, db)
						}
					}
				}
			})
		}
	}
}

// typeClass folds control and unknown together: tokenizer.json only says
// "special", and Phi-3's GGUF marks <unk> control and its padding unknown.
func typeClass(k TokenType) TokenType {
	if k == TokenUnknown {
		return TokenControl
	}
	return k
}

// TestHFSentencePieceDecodesBack: text without the unknown token survives
// Encode and Detokenize unchanged.
func TestHFSentencePieceDecodesBack(t *testing.T) {
	ref := loadGGUFTokenizer(t, filepath.Join(sharedDir(t, "vocab"), "ggml-vocab-llama-spm.gguf"))
	tok, err := FromHFTokenizerJSON(hfJSONOf(t, ref, llamaconv.Legacy), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []string{"Hello world", " leading space", "tabs\tand\nnewlines", "naïve café 🦙 你好", "  two  spaces  ", "\x00\x7f"} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			ids := tok.Encode(s, false, false)
			if got := tok.Decode(ids); got != s {
				t.Errorf("Detokenize(Encode(%q)) = %q", s, got)
			}
		})
	}
}

func TestHFSentencePieceErrors(t *testing.T) {
	const vocab = `"model":{"type":"BPE","byte_fallback":true,"vocab":{"<unk>":0,"▁":1,"a":2,"▁a":3},"merges":[["▁","a"]]}`
	for _, tc := range []struct{ name, json, want string }{
		{"unigram without space handling", `{"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["a",-1]]}}`, "without Replace"},
		{"unigram with a charsmap", `{"normalizer":{"type":"Precompiled","precompiled_charsmap":"ALQCAACEAAAAAACAAQAAgMz8AgC4BQAAhyIAgMzkAgC4PQAAeyIAgMzsAgC4BQAAiyIAgMw8AADNvAAAmwkAgJ4JAIChCQCAgx0AAIAZAACBGQAAPR0AgDUdAIBNHQCARR0AgIAxAACBMQAAoQkAgIkxAAA9WAMAPEgDAEAKAIA+aAMAAYQAAIQBAACGAQ"},` +
			`"pre_tokenizer":{"type":"Metaspace","replacement":"▁","split":true},"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["a",-1]]}}`, "precompiled_charsmap, as T5 and mT5 have) is not implemented"},
		{"unigram without unk_id", `{"pre_tokenizer":{"type":"Metaspace","replacement":"▁"},"model":{"type":"Unigram","vocab":[["<unk>",0],["a",-1]]}}`, "unk_id"},
		{"unigram piece not a pair", `{"pre_tokenizer":{"type":"Metaspace","replacement":"▁"},"model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>"],["a",-1]]}}`, "want [piece, score]"},
		{"precompiled normalizer", `{"normalizer":{"type":"Precompiled"},` + vocab + `}`, `Precompiled normalizer is not supported in a SentencePiece-style BPE`},
		{"no space replacement", `{"normalizer":{"type":"Prepend","prepend":"▁"},` + vocab + `}`, "without Replace"},
		{"replace other", `{"normalizer":{"type":"Replace","pattern":{"String":"x"},"content":"▁"},` + vocab + `}`, "Replace"},
		{"metaspace split", `{"pre_tokenizer":{"type":"Metaspace","replacement":"▁","split":true},` + vocab + `}`, "split=true"},
		{"bytelevel", `{"normalizer":{"type":"Replace","pattern":{"String":" "},"content":"▁"},"pre_tokenizer":{"type":"ByteLevel"},` + vocab + `}`, `"ByteLevel" is not supported`},
		{"split before replace", `{"pre_tokenizer":{"type":"Split","pattern":{"String":" "},"behavior":"MergedWithPrevious"},` + vocab + `}`, "Split"},
		{"split on other", `{"normalizer":{"type":"Replace","pattern":{"String":" "},"content":"▁"},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"\\d"},"behavior":"Isolated"},` + vocab + `}`, "Split"},
		{"empty vocab", `{"normalizer":{"type":"Replace","pattern":{"String":" "},"content":"▁"},"model":{"type":"BPE","byte_fallback":true,"vocab":{}}}`, "vocabulary of 0 tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromHFTokenizerJSON([]byte(tc.json), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestHFSentencePieceMinimal checks the "▁" prefix, merge order and byte
// fallback on a hand-made vocabulary.
func TestHFSentencePieceMinimal(t *testing.T) {
	js := `{"added_tokens":[{"id":0,"content":"<unk>","special":true},{"id":1,"content":"<s>","special":true}],
	  "normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]},
	  "post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>"}},{"Sequence":{"id":"A"}}],"special_tokens":{"<s>":{"ids":[1]}}},
	  "model":{"type":"BPE","byte_fallback":true,"unk_token":"<unk>",
	    "vocab":{"<unk>":0,"<s>":1,"<0xC3>":2,"<0xA9>":3,"▁":4,"a":5,"b":6,"ab":7,"▁a":8,"▁ab":9},
	    "merges":[["a","b"],["▁","a"],["▁","ab"]]}}`
	tok, err := FromHFTokenizerJSON([]byte(js), nil)
	if err != nil {
		t.Fatal(err)
	}
	// "▁ab": a+b (rank 0) before ▁+a (rank 1), then ▁+ab; "é" falls back to bytes.
	for _, tc := range []struct {
		text string
		want []int32
	}{{"ab", []int32{1, 9}}, {"ab é", []int32{1, 9, 4, 2, 3}}, {"b a", []int32{1, 4, 6, 8}}} {
		if got := tok.Encode(tc.text, true, false); !slices.Equal(got, tc.want) {
			t.Errorf("Encode(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
	if tok.TokenType(2) != TokenByte || tok.TokenType(0) != TokenUnknown || tok.TokenType(1) != TokenControl {
		t.Errorf("types %d %d %d", tok.TokenType(0), tok.TokenType(1), tok.TokenType(2))
	}
}
