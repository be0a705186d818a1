package server

import (
	"os"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/chat"
	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// TestJinjaTemplateOfModels renders a conversation with the chat template of
// each ../shared/testdata model: the end of turn is found from the template,
// and a template that writes BOS itself does not get a second one.
func TestJinjaTemplateOfModels(t *testing.T) {
	for _, tc := range []struct {
		file, eot, start, end string
	}{
		{"tiny-llama3-q8_0.gguf", "<|eot_id|>", "<|begin_of_text|><|start_header_id|>system<|end_header_id|>", "<|start_header_id|>assistant<|end_header_id|>\n\n"},
		{"tiny-smollm2-q8_0.gguf", "<|im_end|>", "<|im_start|>system\n", "<|im_start|>assistant\n"},
		{"tiny-qwen2-q8_0.gguf", "<|im_end|>", "<|im_start|>", "<|im_start|>assistant\n"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := "../../shared/testdata/" + tc.file
			if _, err := os.Stat(path); err != nil {
				t.Skipf("test model: %v", err)
			}
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tok, err := tokenizer.FromGGUF(f)
			if err != nil {
				t.Fatal(err)
			}
			tpl, err := chat.FromGGUF(f)
			if err != nil {
				t.Fatal(err)
			}
			j := chat.NewRenderer(tpl, tok)
			if j.EndOfTurn() != tc.eot {
				t.Errorf("end of turn %q, want %q", j.EndOfTurn(), tc.eot)
			}
			m := &Model{Tokenizer: tok, ChatTemplate: j}
			text, err := j.Render([]chat.Message{{Role: "user", Content: "Hello!"}}, nil, true)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(text, tc.start) || !strings.HasSuffix(text, tc.end) || !strings.Contains(text, "Hello!") {
				t.Errorf("rendered %q", text)
			}
			ids := m.encodeChat(text, j)
			bos := 0
			for _, id := range ids {
				if id == tok.BOS() {
					bos++
				}
			}
			if want := strings.Count(text, tok.TokenText(tok.BOS())); tok.AddBOS() && bos != max(want, 1) {
				t.Errorf("%d BOS tokens in the prompt, want %d", bos, max(want, 1))
			}
		})
	}
}
