package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/control"
)

// fuzzEndpoints are the POST endpoints FuzzHandlers sends bodies to.
var fuzzEndpoints = [...]string{"/v1/completions", "/v1/chat/completions", "/v1/embeddings", "/v1/chat/interactive", "/tokenize", "/detokenize"}

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
	env := newTestEnv(f, Options{}, 0)
	env.model.Backend = shortBackend{env.engine}
	f.Fuzz(func(t *testing.T, endpoint uint8, body []byte) {
		path := fuzzEndpoints[int(endpoint)%len(fuzzEndpoints)]
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := env.srv.App().Test(req, 10000)
		if err != nil {
			t.Fatalf("%s %q: %v", path, body, err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
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
