package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/control"
)

// shortBackend forwards to a real engine with at most 2 tokens generated,
// so a fuzzed request is validated by control as it would be, but does
// not run for the whole context.
type shortBackend struct{ control.Backend }

func (b shortBackend) Submit(ctx context.Context, r control.Request) (<-chan control.Event, error) {
	if r.MaxTokens == 0 || r.MaxTokens > 2 {
		r.MaxTokens = 2
	}
	r.MinTokens = min(r.MinTokens, r.MaxTokens)
	return b.Backend.Submit(ctx, r)
}

// FuzzHandlers sends arbitrary bodies to every POST endpoint through the
// real handlers, over a real engine: the server never panics, never
// answers 5xx, and every non-2xx body is OpenAI's error shape.
func FuzzHandlers(f *testing.F) {
	msgs := `"messages":[{"role":"user","content":"Once"}]`
	for _, seed := range []struct {
		endpoint int
		body     string
	}{
		{0, `{"prompt":"Once upon","max_tokens":3}`},
		{0, `{"prompt":["a",[1,2,3]],"n":2,"best_of":3,"logprobs":2,"echo":true}`},
		{0, `{"prompt":"x","stream":true,"stream_options":{"include_usage":true},"stop":["a","b"],"seed":7}`},
		{0, `{"prompt":"x","use_beam_search":true,"n":2,"length_penalty":0.5,"early_stopping":"never"}`},
		{0, `{"prompt":"x","logit_bias":{"5":100,"7":-100},"temperature":1.5,"top_k":-1,"min_p":0.1}`},
		{0, `{"prompt":[null]}`},
		{0, `{"prompt":"x","guided_regex":"[a-z]+"}`},
		{1, `{` + msgs + `,"max_tokens":2,"logprobs":true,"top_logprobs":3}`},
		{1, `{` + msgs + `,"response_format":{"type":"json_object"}}`},
		{1, `{` + msgs + `,"guided_choice":["yes","no"]}`},
		{1, `{` + msgs + `,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"integer"}}}}}],"tool_choice":"required"}`},
		{1, `{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"1"}]}`},
		{1, `{"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"x"}}]}]}`},
		{1, `{"messages":"hi"}`},
		{1, `{"messages":[{"role":"tool","content":"x"}]}`},
		{1, `{` + msgs + `,"guided_choice":[null]}`},
		{2, `{"input":["a","b"],"encoding_format":"base64","dimensions":4}`},
		{2, `{"input":[null]}`},
		{3, `{"prompt":"Hi","session_id":1,"interactive_mode":true,"request_output_len":2}`},
		{3, `{"prompt":"","session_id":1,"interactive_mode":false}`},
		{3, `{"prompt":"Hi","session_id":2,"stream":true,"request_output_len":0}`},
		{3, `{"session_id":-1,"cancel":true}`},
		{4, `{"messages":[{"role":"user","content":"x"}],"add_generation_prompt":false}`},
		{4, `{"prompt":"x","add_special_tokens":false}`},
		{5, `{"tokens":[1,2,300]}`},
		{5, `{"tokens":[1,null]}`},
		{0, `{"prompt":"x"`},
		{1, `[]`},
		{2, ``},
		{3, `null`},
		{4, `{"prompt":"\ud800"}`},
		{5, `{"tokens":[1e400]}`},
	} {
		f.Add(uint8(seed.endpoint), []byte(seed.body))
	}
	endpoints := []string{"/v1/completions", "/v1/chat/completions", "/v1/embeddings", "/v1/chat/interactive", "/tokenize", "/detokenize"}
	env := newTestEnv(f, Options{}, 0)
	env.model.Backend = shortBackend{env.engine}
	f.Fuzz(func(t *testing.T, endpoint uint8, body []byte) {
		path := endpoints[int(endpoint)%len(endpoints)]
		resp, b := env.do(t, "POST", path, string(body))
		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("%s %q: status %d: %s", path, body, resp.StatusCode, b)
		case resp.StatusCode >= 300:
			if err := checkErrorShape(b); err != nil {
				t.Fatalf("%s %q: status %d: %v: %s", path, body, resp.StatusCode, err, b)
			}
		case strings.Contains(string(b), `"error":{`) && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") &&
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-ndjson"):
			t.Fatalf("%s %q: an error with status %d: %s", path, body, resp.StatusCode, b)
		}
	})
}

// checkErrorShape checks b is exactly OpenAI's error object: {"error":
// {"message": non-empty string, "type": non-empty string, "param": string
// or null, "code": string or null}}.
func checkErrorShape(b []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	if len(top) != 1 || top["error"] == nil {
		return fmt.Errorf("want exactly the key error")
	}
	var e map[string]any
	if err := json.Unmarshal(top["error"], &e); err != nil {
		return fmt.Errorf("error is not an object: %w", err)
	}
	for _, k := range []string{"message", "type"} {
		if s, ok := e[k].(string); !ok || s == "" {
			return fmt.Errorf("error.%s is %v, want a non-empty string", k, e[k])
		}
	}
	for _, k := range []string{"param", "code"} {
		v, ok := e[k]
		if !ok {
			return fmt.Errorf("error.%s is missing", k)
		}
		if _, isString := v.(string); v != nil && !isString {
			return fmt.Errorf("error.%s is %v, want a string or null", k, v)
		}
	}
	if len(e) != 4 {
		return fmt.Errorf("error has %d keys, want message, type, param and code", len(e))
	}
	return nil
}

// FuzzChatFields builds well-formed chat bodies around fuzzed field values
// (roles, contents, tool calls, stops, sampling values, structured-output
// settings), so the fuzzer reaches past JSON syntax into validation, chat
// templates, tool calling and constrained decoding. The same bodies go to
// /v1/chat/completions, /v1/chat/interactive (as its prompt) and
// /tokenize. Same oracle as FuzzHandlers.
func FuzzChatFields(f *testing.F) {
	for _, s := range []struct {
		role, content, name, callID, args, stop, guided string
		maxTokens, n                                    int
		temperature                                     float64
		stream                                          bool
		mode                                            uint8
	}{
		{"user", "Once upon a time", "", "", "", "", "", 2, 1, 0.7, false, 0},
		{"user", "Weather?", "get_weather", "call_1", `{"city": "Paris"}`, "", "", 2, 1, 0, true, 3},
		{"assistant", "", "f", "c", `not json`, "\n", "", 3, 2, 1, false, 0},
		{"tool", "22 C", "", "", "", "", "", 2, 1, 0, false, 0},
		{"user", "yes or no?", "", "", "", "", "yes", 2, 1, 0, false, 1},
		{"user", "digits", "", "", "", "", "[0-9]+", 2, 1, 0, false, 2},
		{"user", "json", "", "", "", "", `{"type":"object","properties":{"a":{"type":"integer"}}}`, 2, 1, 0, false, 4},
		{"developer", "x", "", "", "", "", "", 0, 17, 3, false, 5},
		{"robot", "", "", "", "", "", "", -1, 0, -1, false, 6},
		{"user", "hi", "", "", "", "", "", 1, 1, 0, true, 7},
	} {
		f.Add(s.role, s.content, s.name, s.callID, s.args, s.stop, s.guided, s.maxTokens, s.n, s.temperature, s.stream, s.mode)
	}
	env := newTestEnv(f, Options{}, 0)
	env.model.Backend = shortBackend{env.engine}
	f.Fuzz(func(t *testing.T, role, content, name, callID, args, stop, guided string, maxTokens, n int, temperature float64, stream bool, mode uint8) {
		msgs := []map[string]any{{"role": "system", "content": "Be brief."}, {"role": role, "content": content}}
		if callID != "" {
			msgs = append(msgs,
				map[string]any{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{"id": callID, "type": "function", "function": map[string]any{"name": name, "arguments": args}}}},
				map[string]any{"role": "tool", "tool_call_id": callID, "content": content})
		}
		body := map[string]any{"messages": msgs, "max_tokens": maxTokens, "n": n, "temperature": temperature, "stream": stream}
		if stop != "" {
			body["stop"] = []string{stop}
		}
		switch mode % 5 {
		case 1:
			body["guided_choice"] = []string{guided, content}
		case 2:
			body["guided_regex"] = guided
		case 3:
			body["tools"] = []any{map[string]any{"type": "function", "function": map[string]any{"name": name, "parameters": map[string]any{"type": "object"}}}}
			body["tool_choice"] = "required"
		case 4:
			if json.Valid([]byte(guided)) {
				body["response_format"] = map[string]any{"type": "json_schema", "json_schema": map[string]any{"name": "s", "schema": json.RawMessage(guided)}}
			}
		}
		path := "/v1/chat/completions"
		switch mode / 5 % 3 {
		case 1:
			path = "/v1/chat/interactive"
			body = map[string]any{"prompt": msgs, "session_id": int(mode % 3), "interactive_mode": stream, "request_output_len": maxTokens, "temperature": temperature}
		case 2:
			path = "/tokenize"
			body = map[string]any{"messages": msgs}
		}
		b, err := json.Marshal(body)
		if err != nil {
			t.Skip(err) // NaN or Inf: not JSON
		}
		resp, out := env.do(t, "POST", path, string(b))
		switch {
		case resp.StatusCode >= 500:
			t.Fatalf("%s %s: status %d: %s", path, b, resp.StatusCode, out)
		case resp.StatusCode >= 300:
			if err := checkErrorShape(out); err != nil {
				t.Fatalf("%s %s: status %d: %v: %s", path, b, resp.StatusCode, err, out)
			}
		}
	})
}
