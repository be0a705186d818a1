package server

import (
	"testing"
)

// TestModelNameMatching: one served model answers any name unless
// StrictName is set; then only its ID and aliases are served, others 404.
func TestModelNameMatching(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	body := func(model string) string {
		return `{"model": "` + model + `", "prompt": "Once", "max_tokens": 2}`
	}
	cases := []struct {
		strict bool
		model  string
		status int
	}{
		{false, "EMPTY", 200},
		{false, "gpt-4", 200},
		{false, "stories", 200},
		{true, "stories", 200},
		{true, "tinystories", 200}, // an alias
		{true, "EMPTY", 404},
		{true, "gpt-4", 404},
	}
	for _, tc := range cases {
		t.Run(tc.model, func(t *testing.T) {
			env.model.StrictName, env.model.Aliases = tc.strict, []string{"tinystories"}
			resp, b := env.do(t, "POST", "/v1/completions", body(tc.model))
			if resp.StatusCode != tc.status {
				t.Fatalf("strict=%v model %q: status %d, want %d: %s", tc.strict, tc.model, resp.StatusCode, tc.status, b)
			}
			if tc.status == 404 {
				if _, _, param, code := apiError(t, b); param == nil || *param != "model" || code == nil || *code != "model_not_found" {
					t.Errorf("want param model, code model_not_found: %s", b)
				}
			}
		})
	}
}

// TestHFCompatParams: the message alias of content and num_beams /
// do_sample are accepted where they agree with the rest of the request
// and refused, naming the parameter, where they do not.
func TestHFCompatParams(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	const cmpl, chat = "/v1/completions", "/v1/chat/completions"
	cases := []struct {
		name, path, body string
		status           int
		param            string
	}{
		{"message alias", chat, `{"messages": [{"role": "user", "message": "hi"}], "max_tokens": 2}`, 200, ""},
		{"message and content", chat, `{"messages": [{"role": "user", "message": "hi", "content": "ho"}]}`, 400, "messages[0].message"},
		{"message wrong type", chat, `{"messages": [{"role": "user", "message": 3}]}`, 400, "messages[0].content"},
		{"num_beams 4", cmpl, `{"prompt": "x", "max_tokens": 3, "num_beams": 4}`, 200, ""},
		{"num_beams 1", cmpl, `{"prompt": "x", "max_tokens": 3, "num_beams": 1}`, 200, ""},
		{"num_beams 0", cmpl, `{"prompt": "x", "num_beams": 0}`, 400, "num_beams"},
		{"num_beams 99", cmpl, `{"prompt": "x", "num_beams": 99}`, 400, "num_beams"},
		{"num_beams type", cmpl, `{"prompt": "x", "num_beams": "4"}`, 400, "num_beams"},
		{"num_beams vs best_of", cmpl, `{"prompt": "x", "num_beams": 4, "best_of": 2}`, 400, "num_beams"},
		{"num_beams vs use_beam_search", cmpl, `{"prompt": "x", "num_beams": 4, "use_beam_search": false}`, 400, "num_beams"},
		{"num_beams streamed", cmpl, `{"prompt": "x", "num_beams": 4, "stream": true}`, 400, "num_beams"},
		{"do_sample false", cmpl, `{"prompt": "x", "max_tokens": 3, "do_sample": false, "temperature": 0.7}`, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := env.do(t, "POST", tc.path, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if tc.param != "" {
				if _, _, param, _ := apiError(t, b); param == nil || *param != tc.param {
					t.Errorf("param %v, want %s: %s", param, tc.param, b)
				}
			}
		})
	}
}
