package tokenizer

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestStreamDecoder(t *testing.T) {
	dir := sharedDir(t, "testdata")
	for _, name := range []string{"tiny-llama3-q8_0.gguf", "stories260K-f32.gguf", "tiny-smollm2-q8_0.gguf"} {
		tok := loadGGUFTokenizer(t, filepath.Join(dir, name))
		t.Run(name, func(t *testing.T) {
			for _, s := range append(fuzzStrings(300), "🦙👩‍💻 你好 한국어 ĀāĂ") {
				ids := tok.Encode(s, false, false)
				var b strings.Builder
				d := tok.NewStreamDecoder().RenderSpecial(true)
				for _, id := range ids {
					piece := d.Add(id)
					if !utf8.ValidString(piece) {
						t.Fatalf("%q: Add(%d) returned invalid UTF-8 %q", s, id, piece)
					}
					b.WriteString(piece)
				}
				b.WriteString(d.Flush())
				var want []byte
				for _, id := range ids {
					want = tok.appendPiece(want, id, true)
				}
				if b.String() != strings.ToValidUTF8(string(want), "\uFFFD") {
					t.Fatalf("%q: streamed %q, want %q", s, b.String(), want)
				}
			}
		})
	}
}

func TestStreamDecoderHoldsBack(t *testing.T) {
	tok := tinySPM(t)
	d := tok.NewStreamDecoder()
	if got := d.Add(4); got != "" { // 0xC3: first byte of "é"
		t.Errorf("Add(0xC3) = %q, want nothing yet", got)
	}
	if got := d.Add(5); got != "é" {
		t.Errorf("Add(0xA9) = %q, want é", got)
	}
	if got := d.Add(1); got != "" { // control token, not rendered by default
		t.Errorf("Add(<s>) = %q", got)
	}
	if got := d.Add(1000); got != "" { // invalid id ignored
		t.Errorf("Add(invalid) = %q", got)
	}
	d.Add(4)
	if got := d.Add(3); got != "\uFFFD\n" { // 0xC3 then newline: invalid
		t.Errorf("Add(\\n) = %q", got)
	}
	d.Add(4)
	if got := d.Flush(); got != "\uFFFD" {
		t.Errorf("Flush = %q", got)
	}
	if got := d.Flush(); got != "" {
		t.Errorf("second Flush = %q", got)
	}
}

// TestStreamDecoderRenderTokens: only the listed control tokens appear as
// text (a tool-call marker), others stay hidden; a clone keeps the list.
func TestStreamDecoderRenderTokens(t *testing.T) {
	tok := tinySPM(t)
	d := tok.NewStreamDecoder().RenderTokens([]int32{1})
	if got := d.Add(1); got != tok.TokenText(1) || got == "" {
		t.Errorf("Add(<s>) with <s> rendered = %q, want %q", got, tok.TokenText(1))
	}
	if got := d.Clone().Add(1); got != tok.TokenText(1) {
		t.Errorf("clone: Add(<s>) = %q", got)
	}
	if got := d.Add(2); got != "" {
		t.Errorf("Add(</s>) not listed = %q, want nothing", got)
	}
}
