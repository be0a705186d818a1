package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// wpmEncode appends the WordPiece tokens of text (llama.cpp's
// llm_tokenizer_wpm): split into words, then cover each word, prefixed with
// the phantom space "▁", by greedy longest vocabulary matches; a word that
// cannot be covered becomes the unknown token.
func (t *Tokenizer) wpmEncode(out []int32, text string) []int32 {
	for _, word := range wpmWords(text) {
		w := spaceMarker + word
		n := len(w)
		start := len(out)
		for i := 0; i < n; i++ {
			matched := false
			for j := min(n, i+t.maxTokenLen+1); j > i; j-- {
				if id, ok := t.ids[w[i:j]]; ok {
					out = append(out, id)
					matched = true
					i = j - 1
					break
				}
			}
			if !matched {
				out = out[:start]
				break
			}
		}
		if len(out) == start && t.unk != noToken {
			out = append(out, t.unk)
		}
	}
	return out
}

// wpmWords is BERT's basic tokenization as llama.cpp does it: strip accents
// (each code point is replaced by the first code point of its canonical
// decomposition), lower-case, drop control characters, split at white space
// and isolate punctuation, ASCII symbols and CJK ideographs.
func wpmWords(text string) []string {
	var words []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			words = append(words, cur.String())
			cur.Reset()
		}
	}
	for _, r := range text {
		r = nfdFirst(r)
		f := runeFlags(r)
		if f.isWhitespace() {
			flush()
			continue
		}
		if r == 0 || r == 0xfffd || f&flagControl != 0 {
			continue
		}
		lr := unicode.ToLower(r)
		if f&flagPunct != 0 || (r < 0x7f && f&flagSymbol != 0) || isCJKIdeograph(r) {
			flush()
			words = append(words, string(lr))
			continue
		}
		cur.WriteRune(lr)
	}
	flush()
	return words
}

// isCJKIdeograph is BERT's _is_chinese_char (with Hugging Face's range for
// extension E/F starting at U+2B920).
func isCJKIdeograph(r rune) bool {
	return (r >= 0x4e00 && r <= 0x9fff) ||
		(r >= 0x3400 && r <= 0x4dbf) ||
		(r >= 0x20000 && r <= 0x2a6df) ||
		(r >= 0x2a700 && r <= 0x2b73f) ||
		(r >= 0x2b740 && r <= 0x2b81f) ||
		(r >= 0x2b920 && r <= 0x2ceaf) ||
		(r >= 0xf900 && r <= 0xfaff) ||
		(r >= 0x2f800 && r <= 0x2fa1f)
}

// nfdFirst returns the first code point of r's canonical decomposition
// (llama.cpp's single-code-point NFD table), which for accented letters is
// the base letter.
func nfdFirst(r rune) rune {
	if r < 0xc0 {
		return r
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	if norm.NFD.IsNormal(buf[:n]) {
		return r
	}
	d := norm.NFD.Bytes(buf[:n])
	first, _ := utf8.DecodeRune(d)
	return first
}
