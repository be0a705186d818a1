package chat

import (
	"encoding/json"
	"testing"
)

// TestMessageShape pins the dicts templates see for OpenAI messages: optional
// fields only when set, tool calls in OpenAI's shape, string arguments
// decoded only for templates that take objects.
func TestMessageShape(t *testing.T) {
	msgs := []Message{
		{Role: "user", Content: []ContentPart{{Type: "text", Text: "hi"}, {Type: "image_url", ImageURL: "http://x/y.png"}}, Name: "bob"},
		{Role: "assistant", Content: nil, ToolCalls: []ToolCall{{ID: "c1", Function: FunctionCall{Name: "f", Arguments: `{"b":1,"a":"é"}`}}}},
		{Role: "tool", Content: "22 C", ToolCallID: "c1"},
		{Role: "assistant", ToolCalls: []ToolCall{{Function: FunctionCall{Name: "g", Arguments: json.RawMessage(`[1]`)}}}},
	}
	tests := []struct {
		objectArgs bool
		want       string
	}{
		{true, `[{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "http://x/y.png"}}], "name": "bob"}, ` +
			`{"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": {"b": 1, "a": "é"}}}]}, ` +
			`{"role": "tool", "content": "22 C", "tool_call_id": "c1"}, ` +
			`{"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function": {"name": "g", "arguments": [1]}}]}]`},
		{false, `[{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "http://x/y.png"}}], "name": "bob"}, ` +
			`{"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"b\":1,\"a\":\"é\"}"}}]}, ` +
			`{"role": "tool", "content": "22 C", "tool_call_id": "c1"}, ` +
			`{"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function": {"name": "g", "arguments": [1]}}]}]`},
	}
	tpl, err := Parse("shape", "{{ messages|tojson }}")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		got, err := tpl.render(RenderOptions{Messages: msgs}, tt.objectArgs)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("objectArgs=%v\n got: %s\nwant: %s", tt.objectArgs, got, tt.want)
		}
	}
}
