package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// cpFlags classifies a code point the way llama.cpp's unicode tables do: one
// general-category bit (from Python's \p{..} classes, C including unassigned
// code points) plus a white-space bit (the Unicode White_Space property). The
// pre-tokenizers only ever ask these questions, so the standard library's
// unicode tables are enough and no generated table is needed.
type cpFlags uint16

const (
	flagNumber cpFlags = 1 << (iota + 1)
	flagLetter
	flagSeparator
	flagMark
	flagPunct
	flagSymbol
	flagControl
	flagWhitespace cpFlags = 0x100
)

// runeFlags returns the classification of r. utf8.RuneError (also used for
// invalid input bytes) is a symbol, like U+FFFD itself.
func runeFlags(r rune) cpFlags {
	var f cpFlags
	switch {
	case r < 0x80:
		return asciiFlags(r)
	case unicode.IsLetter(r):
		f = flagLetter
	case unicode.IsNumber(r):
		f = flagNumber
	case unicode.IsPunct(r):
		f = flagPunct
	case unicode.IsSymbol(r):
		f = flagSymbol
	case unicode.IsMark(r):
		f = flagMark
	case unicode.Is(unicode.Z, r):
		f = flagSeparator
	default:
		f = flagControl
	}
	if unicode.Is(unicode.White_Space, r) {
		f |= flagWhitespace
	}
	return f
}

// asciiFlags classifies the ASCII range without table look-ups.
func asciiFlags(r rune) cpFlags {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		return flagLetter
	case r >= '0' && r <= '9':
		return flagNumber
	case r == ' ':
		return flagSeparator | flagWhitespace
	case r >= '\t' && r <= '\r':
		return flagControl | flagWhitespace
	case r < 0x20 || r == 0x7f:
		return flagControl
	case r == '$' || r == '+' || r == '<' || r == '=' || r == '>' || r == '^' || r == '`' || r == '|' || r == '~':
		return flagSymbol
	default:
		return flagPunct
	}
}

func (f cpFlags) isLetter() bool     { return f&flagLetter != 0 }
func (f cpFlags) isNumber() bool     { return f&flagNumber != 0 }
func (f cpFlags) isWhitespace() bool { return f&flagWhitespace != 0 }

// codepoints splits s into code points with their byte offsets. Invalid bytes
// become single U+FFFD code points of width one, so the byte offsets still
// cover the input exactly and nothing is lost when the pieces are cut back out
// of s (llama.cpp would reject such input instead).
func codepoints(s string) (runes []rune, offs []int) {
	runes = make([]rune, 0, len(s))
	offs = make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		runes = append(runes, r)
		offs = append(offs, i)
		i += n
	}
	offs = append(offs, len(s))
	return runes, offs
}

// utf8Len is the length of the UTF-8 sequence that starts with byte b,
// judged from its high bits only (llama.cpp's unicode_len_utf8).
func utf8Len(b byte) int {
	switch {
	case b < 0xc0:
		return 1
	case b < 0xe0:
		return 2
	case b < 0xf0:
		return 3
	default:
		return 4
	}
}
