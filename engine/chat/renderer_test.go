package chat

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// vocabOf reads the tokenizer of a ../shared GGUF, skipping without it.
func vocabOf(t *testing.T, path string) *tokenizer.Tokenizer {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("test model: %v", err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestChatMLRenderer: the built-in ChatML renders plain turns, tools,
// assistant tool calls (null or text content) and tool answers; its end
// of turn is <|im_end|> and its calls are Hermes'.
func TestChatMLRenderer(t *testing.T) {
	r, err := ChatML(vocabOf(t, "../../../shared/models/stories260K.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if r.EndOfTurn() != "<|im_end|>" || r.ToolFormat() != "hermes" {
		t.Errorf("end of turn %q, tool format %q", r.EndOfTurn(), r.ToolFormat())
	}
	call := func(args any) []ToolCall {
		return []ToolCall{{ID: "c1", Type: "function", Function: FunctionCall{Name: "get_weather", Arguments: args}}}
	}
	tool := json.RawMessage(`{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}`)
	for _, tc := range []struct {
		name  string
		msgs  []Message
		tools []json.RawMessage
		want  string
	}{
		{"plain", []Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}}, nil,
			"<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
		{"tools into the system turn", []Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}}, []json.RawMessage{tool},
			"<|im_start|>system\nBe brief.\n\nTools:\n<tools>\n" + `{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}` +
				"\n</tools>\nTo call one, reply <tool_call>\n{\"name\": <name>, \"arguments\": <arguments object>}\n</tool_call><|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"},
		{"a call with null content, then the answer", []Message{{Role: "user", Content: "Paris?"}, {Role: "assistant", ToolCalls: call(`{"city": "Paris"}`)}, {Role: "tool", ToolCallID: "c1", Content: "22 C"}}, nil,
			"<|im_start|>user\nParis?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n<|im_start|>tool\n22 C<|im_end|>\n<|im_start|>assistant\n"},
		{"a call after text", []Message{{Role: "user", Content: "Paris?"}, {Role: "assistant", Content: "Let me look.", ToolCalls: call(`{"city": "Paris"}`)}}, nil,
			"<|im_start|>user\nParis?<|im_end|>\n<|im_start|>assistant\nLet me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n<|im_start|>assistant\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Render(tc.msgs, tc.tools, true)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("rendered\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// TestRendererOfModels: the end of turn and the BOS of the testdata
// models' own templates.
func TestRendererOfModels(t *testing.T) {
	for _, tc := range []struct{ file, eot, bos string }{
		{"tiny-llama3-q8_0.gguf", "<|eot_id|>", "<|begin_of_text|>"},
		{"tiny-smollm2-q8_0.gguf", "<|im_end|>", "<|im_start|>"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := "../../../shared/testdata/" + tc.file
			tok := vocabOf(t, path)
			f, err := gguf.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tpl, err := FromGGUF(f)
			if err != nil {
				t.Fatal(err)
			}
			r := NewRenderer(tpl, tok)
			if r.EndOfTurn() != tc.eot || r.BOS() != tc.bos {
				t.Errorf("end of turn %q BOS %q, want %q %q", r.EndOfTurn(), r.BOS(), tc.eot, tc.bos)
			}
		})
	}
}
