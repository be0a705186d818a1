package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// StreamDecoder turns generated token ids into text one id at a time. A
// token may end in the middle of a UTF-8 sequence (byte tokens, byte-level
// BPE pieces of emoji and CJK); the decoder holds such bytes back until the
// sequence is complete, so every string it returns is valid UTF-8 and the
// concatenation of all of them (plus Flush) is the text of the ids. Bytes
// that can never form a valid sequence come out as U+FFFD.
//
// Pieces are concatenated as they are (no removal of SentencePiece's leading
// space, no clean-up of spaces), which is what a server streaming a
// continuation wants. A StreamDecoder is not safe for concurrent use.
type StreamDecoder struct {
	t       *Tokenizer
	special bool
	render  map[int32]bool // control tokens rendered as text even when special is off
	pending []byte
}

// NewStreamDecoder returns a decoder that renders control and unknown tokens
// as nothing (llama.cpp's server default); see RenderSpecial.
func (t *Tokenizer) NewStreamDecoder() *StreamDecoder {
	return &StreamDecoder{t: t}
}

// RenderSpecial makes the decoder render control and unknown tokens as their
// text (such as "<|im_end|>") and returns d.
func (d *StreamDecoder) RenderSpecial(on bool) *StreamDecoder {
	d.special = on
	return d
}

// Add appends token id (invalid ids are ignored) and returns the text that is
// now complete, possibly "".
func (d *StreamDecoder) Add(id int32) string {
	d.pending = d.t.appendPiece(d.pending, id, d.special || d.render[id])
	var out strings.Builder
	i := 0
	for i < len(d.pending) {
		r, n := utf8.DecodeRune(d.pending[i:])
		if r == utf8.RuneError && n <= 1 {
			if !utf8.FullRune(d.pending[i:]) {
				break // an incomplete sequence: wait for more bytes
			}
			out.WriteRune(utf8.RuneError)
			i++
			continue
		}
		out.Write(d.pending[i : i+n])
		i += n
	}
	d.pending = append(d.pending[:0], d.pending[i:]...)
	return out.String()
}

// Flush returns whatever is held back (as U+FFFD, since it is incomplete)
// and resets the decoder.
func (d *StreamDecoder) Flush() string {
	s := strings.ToValidUTF8(string(d.pending), "\uFFFD")
	d.pending = d.pending[:0]
	return s
}

// RenderTokens makes the decoder render these control tokens as their text
// (others stay hidden unless RenderSpecial): markers such as
// <|python_tag|> or [TOOL_CALLS] that a tool-call parser must see. It
// returns d.
func (d *StreamDecoder) RenderTokens(ids []int32) *StreamDecoder {
	if len(ids) == 0 {
		return d
	}
	d.render = make(map[int32]bool, len(ids))
	for _, id := range ids {
		d.render[id] = true
	}
	return d
}

// Clone returns an independent decoder in d's state (the bytes it holds
// back included), for a generation that forks into several continuations.
func (d *StreamDecoder) Clone() *StreamDecoder {
	c := *d
	c.pending = append([]byte(nil), d.pending...)
	return &c
}
