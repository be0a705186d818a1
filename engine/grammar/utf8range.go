package grammar

import "unicode/utf8"

// runeRange is an inclusive range of code points.
type runeRange struct{ lo, hi rune }

// utf8Class is one character whose code point is in one of ranges, as
// UTF-8 bytes: each range is split where its encodings change length or
// prefix, so that every piece is a sequence of byte classes. Surrogates
// (which UTF-8 cannot encode) are left out.
func utf8Class(ranges []runeRange) *expr {
	var alts []*expr
	var ascii []byteRange
	for _, r := range ranges {
		for _, piece := range splitSurrogates(r) {
			if piece.lo < 0x80 {
				ascii = append(ascii, rng(byte(piece.lo), byte(min(piece.hi, 0x7F))))
				if piece.hi < 0x80 {
					continue
				}
				piece.lo = 0x80
			}
			alts = appendUTF8Range(alts, piece.lo, piece.hi)
		}
	}
	if len(ascii) > 0 {
		alts = append([]*expr{class(ascii...)}, alts...)
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return alt(alts...)
}

func splitSurrogates(r runeRange) []runeRange {
	r.hi = min(r.hi, utf8.MaxRune)
	if r.lo > r.hi {
		return nil
	}
	if r.hi < 0xD800 || r.lo > 0xDFFF {
		return []runeRange{r}
	}
	var out []runeRange
	if r.lo < 0xD800 {
		out = append(out, runeRange{r.lo, 0xD7FF})
	}
	if r.hi > 0xDFFF {
		out = append(out, runeRange{0xE000, r.hi})
	}
	return out
}

// appendUTF8Range appends the byte sequences of code points lo..hi (all
// non-ASCII, no surrogates), splitting as Go's regexp/syntax does.
func appendUTF8Range(alts []*expr, lo, hi rune) []*expr {
	// Split at encoded-length boundaries.
	for _, b := range []rune{0x7FF, 0xFFFF} {
		if lo <= b && b < hi {
			alts = appendUTF8Range(alts, lo, b)
			return appendUTF8Range(alts, b+1, hi)
		}
	}
	n := utf8.RuneLen(lo)
	// Split until lo and hi differ only in a suffix of full continuation ranges.
	for i := 1; i < n; i++ {
		m := rune(1)<<(6*i) - 1 // the low 6*i bits
		if lo&^m != hi&^m {
			if lo&m != 0 {
				alts = appendUTF8Range(alts, lo, lo|m)
				return appendUTF8Range(alts, (lo|m)+1, hi)
			}
			if hi&m != m {
				alts = appendUTF8Range(alts, lo, (hi&^m)-1)
				return appendUTF8Range(alts, hi&^m, hi)
			}
		}
	}
	var a, b [utf8.UTFMax]byte
	utf8.EncodeRune(a[:], lo)
	utf8.EncodeRune(b[:], hi)
	subs := make([]*expr, n)
	for i := 0; i < n; i++ {
		subs[i] = class(rng(a[i], b[i]))
	}
	return append(alts, seq(subs...))
}
