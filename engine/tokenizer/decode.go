package tokenizer

import (
	"strconv"
	"strings"
)

// appendPiece appends the text of token id. With special, control and
// unknown tokens render as their text; otherwise they render as nothing.
// Invalid ids render as nothing. This is llama.cpp's token_to_piece.
func (t *Tokenizer) appendPiece(dst []byte, id int32, special bool) []byte {
	if !t.valid(id) {
		return dst
	}
	text := t.tokens[id]
	switch k := t.types[id]; {
	case isSpecialType(k):
		if special {
			dst = append(dst, text...)
		}
		return dst
	case k == TokenUserDefined:
		return append(dst, text...)
	case k == TokenNormal:
		if t.model == ModelBPE {
			return byteDecode(dst, text)
		}
		return append(dst, strings.ReplaceAll(text, spaceMarker, " ")...)
	case k == TokenByte && t.model != ModelBPE:
		if len(text) == 6 && strings.HasPrefix(text, "<0x") {
			if v, err := strconv.ParseUint(text[3:5], 16, 8); err == nil {
				return append(dst, byte(v))
			}
		}
	}
	return dst
}

// TokenToPiece returns the bytes token id stands for: SentencePiece "▁" as
// a space and "<0xXX>" as the byte, GPT-2 printable characters as the
// original bytes, special tokens as their text. A piece may be an
// incomplete UTF-8 sequence (use a StreamDecoder to print them as they
// come). Invalid ids give "".
func (t *Tokenizer) TokenToPiece(id int32) string {
	return string(t.appendPiece(nil, id, true))
}

// Decode returns the text of ids with special tokens rendered, exactly as
// llama.cpp's llama_detokenize(remove_special=false, unparse_special=true):
// the space SentencePiece adds before the first word is removed and, for
// vocabularies that ask for it, spaces before punctuation and contractions
// are cleaned up. Invalid ids are skipped.
func (t *Tokenizer) Decode(ids []int32) string {
	return t.Detokenize(ids, false, true)
}

// Detokenize is llama.cpp's llama_detokenize. removeSpecial drops a leading
// BOS and trailing EOS that Encode would have added; unparseSpecial renders
// control and unknown tokens as their text instead of nothing. Invalid ids
// are skipped.
func (t *Tokenizer) Detokenize(ids []int32, removeSpecial, unparseSpecial bool) string {
	removeSpace := t.addSpacePrefix
	if removeSpecial && t.addBOS && len(ids) > 0 && ids[0] == t.bos {
		removeSpace = false
		ids = ids[1:]
	}
	if removeSpecial && t.addEOS && len(ids) > 0 && ids[len(ids)-1] == t.eos {
		ids = ids[:len(ids)-1]
	}
	var buf []byte
	for _, id := range ids {
		if !t.valid(id) {
			continue
		}
		n := len(buf)
		buf = t.appendPiece(buf, id, unparseSpecial)
		if removeSpace && len(buf) > n && buf[n] == ' ' {
			buf = append(buf[:n], buf[n+1:]...)
		}
		removeSpace = false
	}
	if t.cleanSpaces {
		buf = cleanSpaces(buf)
	}
	return string(buf)
}

// cleanSpaces is Hugging Face's clean_up_tokenization_spaces as llama.cpp
// implements it, in place and with the same index arithmetic (the second
// pass overwrites the space it skips, which the next step then sees): drop
// the space before ? ! . , then collapse " ' " to "'", then drop the space
// before 's 'm 're 've.
func cleanSpaces(text []byte) []byte {
	total := len(text)
	// Pass 1: " ?", " !", " .", " ,".
	n := total
	total = min(total, 1)
	for i := 1; i < n; i++ {
		x := text[i]
		if text[i-1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') {
			total--
		}
		text[total] = x
		total++
	}
	// Pass 2: a lone apostrophe between spaces.
	n = total
	total = min(total, 1)
	for i := 1; i < n; i++ {
		x := text[i]
		if x == '\'' && i+1 < n && text[i-1] == ' ' && text[i+1] == ' ' {
			total--
			i++
			text[i] = 0
		}
		text[total] = x
		total++
	}
	// Pass 3: " 's", " 'm", " 're", " 've".
	n = total
	total = min(total, 1)
	for i := 1; i < n; i++ {
		x := text[i]
		if text[i-1] == ' ' && x == '\'' && i+1 < n {
			x1 := text[i+1]
			switch {
			case x1 == 't' || x1 == 'd':
			case x1 == 's' || x1 == 'm':
				total--
			case i+2 < n:
				x2 := text[i+2]
				if (x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e') {
					total--
				}
			}
		}
		text[total] = x
		total++
	}
	return text[:total]
}
