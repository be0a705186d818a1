package tokenizer

import (
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// TestRoundTrip checks Decode(Encode(x)) == x where the tokenizer is
// lossless: byte-level BPE always is (clean-up of spaces disabled), and
// SentencePiece with byte fallback is for text without the unknown token.
// Invalid UTF-8 survives too (bytes that no vocabulary has a token for, such
// as 0xFF in SmolLM2's, are dropped as llama.cpp drops them). SentencePiece
// adds a space after every parsed special token, so parse_special only
// round-trips for BPE.
func TestRoundTrip(t *testing.T) {
	dir := sharedDir(t, "testdata")
	inputs := append(fuzzStrings(500), "\xc3( invalid \xc3", "\xe4\xbd", " leading", "trailing ", "")
	for _, name := range []string{"tiny-llama3-q8_0.gguf", "tiny-smollm2-q8_0.gguf", "tiny-qwen2-q8_0.gguf", "stories260K-f32.gguf"} {
		tok := *loadGGUFTokenizer(t, filepath.Join(dir, name))
		tok.cleanSpaces = false
		t.Run(name, func(t *testing.T) {
			for _, s := range inputs {
				for _, parse := range []bool{false, true} {
					if parse && tok.model == ModelSPM {
						continue
					}
					ids := tok.Encode(s, false, parse)
					if got := tok.Decode(ids); got != s {
						t.Fatalf("Decode(Encode(%q, parse=%t)) = %q (ids %v)", s, parse, got, ids)
					}
				}
			}
		})
	}
}

func TestDecodeInvalidIDs(t *testing.T) {
	tok := tinySPM(t)
	if got := tok.Decode([]int32{-5, 15, 1 << 30, 15}); got != "hello hello" {
		t.Errorf("Decode with invalid ids = %q", got)
	}
}

// TestConcurrentEncode runs Encode and Decode from several goroutines (run
// with -race): a Tokenizer must be safe for concurrent use.
func TestConcurrentEncode(t *testing.T) {
	tok := loadGGUFTokenizer(t, filepath.Join(sharedDir(t, "testdata"), "tiny-qwen2-q8_0.gguf"))
	inputs := fuzzStrings(50)
	want := make([][]int32, len(inputs))
	for i, s := range inputs {
		want[i] = tok.Encode(s, true, true)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, s := range inputs {
				if got := tok.Encode(s, true, true); !slices.Equal(got, want[i]) {
					t.Errorf("concurrent Encode(%q) = %v, want %v", s, got, want[i])
				}
				_ = tok.Decode(want[i])
			}
		}()
	}
	wg.Wait()
}
