package tokenizer

// byteRunes is GPT-2's reversible byte -> code point table: printable Latin-1
// bytes map to themselves and the other 68 bytes to U+0100.. in byte order,
// so every byte string has a printable form that BPE vocabularies store.
var byteRunes = buildByteRunes()

// runeBytes is the inverse of byteRunes, indexed by code point (all < 0x144).
var runeBytes = buildRuneBytes()

func buildByteRunes() [256]rune {
	var t [256]rune
	n := rune(0)
	for b := 0; b < 256; b++ {
		if (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff) {
			t[b] = rune(b)
		} else {
			t[b] = 256 + n
			n++
		}
	}
	return t
}

func buildRuneBytes() [0x144]int16 {
	var t [0x144]int16
	for i := range t {
		t[i] = -1
	}
	br := buildByteRunes()
	for b, r := range br {
		t[r] = int16(b)
	}
	return t
}

// byteEncode maps raw bytes to their GPT-2 printable form.
func byteEncode(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		r := byteRunes[s[i]]
		if r < 0x80 {
			dst = append(dst, byte(r))
		} else {
			dst = append(dst, byte(0xc0|r>>6), byte(0x80|r&0x3f))
		}
	}
	return dst
}

// byteDecode maps a GPT-2 printable string back to raw bytes. Code points
// outside the table are kept as their UTF-8 bytes (llama.cpp writes an
// "[UNK_BYTE_..]" marker there; keeping the text is more useful and equally
// lossless for valid vocabularies).
func byteDecode(dst []byte, s string) []byte {
	for _, r := range s {
		if r >= 0 && int(r) < len(runeBytes) && runeBytes[r] >= 0 {
			dst = append(dst, byte(runeBytes[r]))
			continue
		}
		dst = append(dst, string(r)...)
	}
	return dst
}
