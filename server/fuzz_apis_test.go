package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// checkAnthropicErrorShape checks b is exactly Anthropic's error object:
// {"type": "error", "error": {"type": non-empty, "message": non-empty}}.
func checkAnthropicErrorShape(b []byte) error {
	var e struct {
		Type  string                     `json:"type"`
		Error map[string]json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Type != "error" || len(e.Error) != 2 {
		return fmt.Errorf("not an Anthropic error: %v", err)
	}
	for _, k := range []string{"type", "message"} {
		var s string
		if json.Unmarshal(e.Error[k], &s) != nil || s == "" {
			return fmt.Errorf("error.%s is %s, want a non-empty string", k, e.Error[k])
		}
	}
	return nil
}

// FuzzAPISurfaces sends arbitrary bodies to /v1/responses, /v1/messages
// and /v1/messages/count_tokens through the real handlers over a real
// engine (reasoning parser and tool calling on): never a panic or a 5xx,
// every refusal in its API's error shape.
func FuzzAPISurfaces(f *testing.F) {
	for _, seed := range []struct {
		endpoint int
		body     string
	}{
		{0, `{"input":"Once","max_output_tokens":3}`},
		{0, `{"input":[{"role":"developer","content":"x"},{"role":"user","content":[{"type":"input_text","text":"a"}]}],"instructions":"b","stream":true}`},
		{0, `{"input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"1"}],"tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],"tool_choice":"required"}`},
		{0, `{"input":"x","text":{"format":{"type":"json_schema","name":"a","schema":{"type":"object","properties":{"a":{"type":"integer"}}}}},"max_thinking_tokens":1}`},
		{0, `{"input":"x","previous_response_id":"resp_x","reasoning":{"effort":"low"},"store":false}`},
		{0, `{"input":[null]}`},
		{1, `{"model":"stories","max_tokens":3,"messages":[{"role":"user","content":"Once"}]}`},
		{1, `{"model":"stories","max_tokens":3,"system":[{"type":"text","text":"s"}],"stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"a"}]}],"stop_sequences":["x"]}`},
		{1, `{"model":"stories","max_tokens":9,"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"any"},"messages":[{"role":"user","content":"x"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"1"}]}]}]}`},
		{1, `{"model":"stories","max_tokens":3,"thinking":{"type":"enabled","budget_tokens":1},"messages":[{"role":"user","content":"x"}]}`},
		{1, `{"max_tokens":null,"messages":{}}`},
		{2, `{"model":"stories","messages":[{"role":"user","content":"x"}],"tools":[{"name":"f","input_schema":{}}]}`},
		{2, `[]`},
		{0, `{"input":"x"`},
	} {
		f.Add(uint8(seed.endpoint), []byte(seed.body))
	}
	endpoints := []string{"/v1/responses", "/v1/messages", "/v1/messages/count_tokens"}
	env := newTestEnv(f, Options{ReasoningParser: "deepseek_r1", ToolCallParser: "hermes", EnableAutoToolChoice: true, ResponseStoreEntries: 8}, 0)
	env.model.Backend = shortBackend{env.engine}
	f.Fuzz(func(t *testing.T, endpoint uint8, body []byte) {
		path := endpoints[int(endpoint)%len(endpoints)]
		resp, b := env.do(t, "POST", path, string(body))
		check := checkErrorShape
		if anthropicPath(path) {
			check = checkAnthropicErrorShape
		}
		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("%s %q: status %d: %s", path, body, resp.StatusCode, b)
		case resp.StatusCode >= 300:
			if err := check(b); err != nil {
				t.Fatalf("%s %q: status %d: %v: %s", path, body, resp.StatusCode, err, b)
			}
		case strings.Contains(string(b), `"error":{`) && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream"):
			t.Fatalf("%s %q: an error with status %d: %s", path, body, resp.StatusCode, b)
		}
	})
}
