package tokenizer

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// unigramJSON is a Unigram tokenizer.json of pieces (id order, "<unk>"
// first) and their scores, with a Metaspace pre-tokenizer.
func unigramJSON(t testing.TB, pieces []string, scores []float64, byteFallback bool, added ...map[string]any) []byte {
	t.Helper()
	vocab := make([][]any, len(pieces))
	for i, p := range pieces {
		vocab[i] = []any{p, scores[i]}
	}
	b, err := json.Marshal(map[string]any{
		"added_tokens":  added,
		"normalizer":    nil,
		"pre_tokenizer": map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
		"model":         map[string]any{"type": "Unigram", "unk_id": 0, "vocab": vocab, "byte_fallback": byteFallback},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUnigramSegmentation checks the Viterbi choice, unknown runs and byte
// fallback on a hand-made vocabulary.
func TestUnigramSegmentation(t *testing.T) {
	pieces := []string{"<unk>", "▁", "▁he", "llo", "▁hell", "o", "▁hello", "l", "h", "e", "▁w", "or", "ld", "<0xE2>", "<0x82>", "<0xAC>", "<sep>"}
	scores := []float64{0, -2, -3, -3, -5, -2, -9, -4, -4, -4, -3, -3, -3, -1, -1, -1, 0}
	added := map[string]any{"id": 16, "content": "<sep>", "special": false}
	tests := []struct {
		name         string
		byteFallback bool
		text         string
		want         []string
	}{
		// ▁he+llo = -6 beats ▁hell+o = -7 and ▁hello = -9.
		{"best total score", false, "hello", []string{"▁he", "llo"}},
		{"two words", false, "hello world", []string{"▁he", "llo", "▁w", "or", "ld"}},
		{"unknown run fused", false, "h€€o", []string{"▁", "h", "<unk>", "o"}},
		{"byte fallback", true, "h€o", []string{"▁", "h", "<0xE2>", "<0x82>", "<0xAC>", "o"}},
		{"byte fallback without every byte", true, "h£o", []string{"▁", "h", "<unk>", "o"}},
		{"user-defined token, prefix on each fragment", false, "hello<sep>world", []string{"▁he", "llo", "<sep>", "▁w", "or", "ld"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := FromHFTokenizerJSON(unigramJSON(t, pieces, scores, tt.byteFallback, added), nil)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Model() != ModelUGM {
				t.Fatalf("model %v, want t5", tok.Model())
			}
			ids := tok.Encode(tt.text, false, false)
			got := make([]string, len(ids))
			for i, id := range ids {
				got[i] = pieces[id]
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Encode(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

// bestSegmentation is an exhaustive reference: the highest total score of
// any segmentation of text into pieces (a map piece -> score) and unknown
// characters (each scoring unk), unknown characters fused in the result.
func bestSegmentation(text string, pieces map[string]float64, unk float64) (float64, []string) {
	if text == "" {
		return 0, nil
	}
	best, bestSeg := math.Inf(-1), []string(nil)
	runes := []rune(text)
	for l := 1; l <= len(runes); l++ {
		head := string(runes[:l])
		score, ok := pieces[head]
		if !ok {
			if l > 1 || hasPieceOfLen(pieces, head) {
				continue
			}
			head, score = "<unk>", unk
		}
		rest, seg := bestSegmentation(string(runes[l:]), pieces, unk)
		if rest+score > best {
			best, bestSeg = rest+score, append([]string{head}, seg...)
		}
	}
	return best, bestSeg
}

// hasPieceOfLen reports whether the single character c is a piece.
func hasPieceOfLen(pieces map[string]float64, c string) bool { _, ok := pieces[c]; return ok }

// TestUnigramMatchesExhaustiveSearch: on random vocabularies over a small
// alphabet with distinct random scores, Encode finds the segmentation an
// exhaustive search scores highest.
func TestUnigramMatchesExhaustiveSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	alphabet := []string{"a", "b", "c", "▁"}
	for trial := range 40 {
		set := map[string]float64{}
		pieces, scores := []string{"<unk>"}, []float64{0}
		for range 25 {
			var sb strings.Builder
			for range 1 + rng.IntN(4) {
				sb.WriteString(alphabet[rng.IntN(3)])
			}
			if rng.IntN(3) == 0 {
				p := "▁" + sb.String()
				sb.Reset()
				sb.WriteString(p)
			}
			p := sb.String()
			if _, dup := set[p]; dup {
				continue
			}
			s := -1 - 10*rng.Float64()
			set[p] = float64(float32(s))
			pieces, scores = append(pieces, p), append(scores, s)
		}
		tok, err := FromHFTokenizerJSON(unigramJSON(t, pieces, scores, false), nil)
		if err != nil {
			t.Fatal(err)
		}
		lowest := math.Inf(1)
		for _, s := range set {
			lowest = min(lowest, s)
		}
		for range 10 {
			var sb strings.Builder
			for range 1 + rng.IntN(9) {
				sb.WriteString([]string{"a", "b", "c", "d", " "}[rng.IntN(5)])
			}
			text := sb.String()
			_, want := bestSegmentation(strings.ReplaceAll(" "+text, " ", "▁"), set, lowest-10)
			var fused []string
			for _, p := range want {
				if p == "<unk>" && len(fused) > 0 && fused[len(fused)-1] == "<unk>" {
					continue
				}
				fused = append(fused, p)
			}
			ids := tok.Encode(text, false, false)
			got := make([]string, len(ids))
			for i, id := range ids {
				got[i] = pieces[id]
			}
			if !slices.Equal(got, fused) {
				t.Fatalf("trial %d: Encode(%q) = %q, exhaustive search %q", trial, text, got, fused)
			}
		}
	}
}

// TestUnigramRoundTrip: text the pieces cover decodes back unchanged.
func TestUnigramRoundTrip(t *testing.T) {
	var pieces []string
	var scores []float64
	pieces, scores = append(pieces, "<unk>", "▁"), append(scores, 0, -3)
	for c := 'a'; c <= 'z'; c++ {
		pieces, scores = append(pieces, string(c), "▁"+string(c)), append(scores, -5, -4)
	}
	for b := range 256 {
		pieces, scores = append(pieces, fmt.Sprintf("<0x%02X>", b)), append(scores, -20)
	}
	tok, err := FromHFTokenizerJSON(unigramJSON(t, pieces, scores, true), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"hello world", "naïve café 🦙", "a  b"} {
		if got := tok.Decode(tok.Encode(s, false, false)); got != s {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
	}
}
