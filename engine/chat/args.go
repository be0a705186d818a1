package chat

import "strings"

// Tool call arguments reach a server as a JSON string (OpenAI's wire format),
// but templates disagree on what they expect: Llama 3.x, Hermes, Qwen2.5 and
// Mistral print `arguments | tojson` and need a dict (a string would come out
// double-encoded), while DeepSeek-R1 and Functionary concatenate it as a
// string. Like llama.cpp's minja, Parse finds out by rendering a probe call
// with dict arguments: if the arguments come out as JSON, the template takes
// objects and Render decodes string arguments; otherwise strings pass
// through unchanged.

const probeKey = "kiln_probe_argument"

// probeObjectArguments reports whether t renders dict arguments as JSON,
// with the assistant's content null (OpenAI's shape) or empty. The probe
// tool's schema does not name the argument, so only the call can print it.
func (t *Template) probeObjectArguments() bool {
	tool := map[string]any{"type": "function", "function": map[string]any{
		"name": "kiln_probe_tool", "description": "probe",
		"parameters": map[string]any{"type": "object", "properties": map[string]any{}}}}
	for _, content := range []any{nil, ""} {
		opts := RenderOptions{
			Messages: []Message{
				{Role: "user", Content: "probe"},
				{Role: "assistant", Content: content, ToolCalls: []ToolCall{{ID: "call00001", Type: "function",
					Function: FunctionCall{Name: "kiln_probe_tool", Arguments: map[string]any{probeKey: "v"}}}}},
			},
			Tools: []any{tool},
		}
		out, err := t.render(opts, true)
		if err == nil && strings.Contains(out, `"`+probeKey+`"`) {
			return true
		}
	}
	return false
}

// ObjectArguments reports whether Render hands tool call arguments given as
// a JSON string to the template as a decoded object (see above).
func (t *Template) ObjectArguments() bool { return t.objectArgs }
