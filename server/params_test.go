package server

import (
	"strings"
	"testing"
)

// TestParamValidation sends one malformed or out-of-range parameter per
// request and checks the status, the OpenAI error shape and the param it
// names; after each, a valid request must still be answered.
func TestParamValidation(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	const cmpl, chat = "/v1/completions", "/v1/chat/completions"
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	cases := []struct {
		path, body string
		status     int
		param      string // "" -> null
		code       string // "" -> not checked
	}{
		// JSON shape
		{cmpl, `{"prompt": "x"`, 400, "", ""},
		{cmpl, `[1,2]`, 400, "", ""},
		{cmpl, ``, 400, "", ""},
		{cmpl, `"just a string"`, 400, "", ""},
		{cmpl, `null`, 400, "", ""},
		{"/v1/chat/interactive", `null`, 400, "", ""},
		// model
		{cmpl, `{"model": 3, "prompt": "x"}`, 400, "model", ""},
		{cmpl, `{"model": "gpt-4", "prompt": "x"}`, 404, "model", "model_not_found"},
		// prompt
		{cmpl, `{}`, 400, "prompt", ""},
		{cmpl, `{"prompt": 5}`, 400, "prompt", ""},
		{cmpl, `{"prompt": []}`, 400, "prompt", ""},
		{cmpl, `{"prompt": [[1,2],"a",{}]}`, 400, "prompt", ""},
		{cmpl, `{"prompt": [1, 99999]}`, 400, "prompt", ""},
		{cmpl, `{"prompt": [[]]}`, 400, "prompt", ""},
		{cmpl, `{"prompt": "` + strings.Repeat("once upon a time ", 200) + `"}`, 400, "prompt", ""},
		// max_tokens, min_tokens
		{cmpl, `{"prompt": "x", "max_tokens": 0}`, 400, "max_tokens", ""},
		{cmpl, `{"prompt": "x", "max_tokens": "10"}`, 400, "max_tokens", ""},
		{cmpl, `{"prompt": "x", "max_tokens": 1.5}`, 400, "max_tokens", ""},
		{cmpl, `{"prompt": "x", "max_tokens": 100000}`, 400, "max_tokens", ""},
		{chat, `{` + msgs + `, "max_completion_tokens": -1}`, 400, "max_completion_tokens", ""},
		{chat, `{` + msgs + `, "max_completion_tokens": 100000}`, 400, "max_completion_tokens", ""},
		{cmpl, `{"prompt": "x", "min_tokens": -1}`, 400, "min_tokens", ""},
		{cmpl, `{"prompt": "x", "max_tokens": 2, "min_tokens": 3}`, 400, "min_tokens", ""},
		// priority
		{cmpl, `{"prompt": "x", "priority": "high"}`, 400, "priority", ""},
		{cmpl, `{"prompt": "x", "priority": 1.5}`, 400, "priority", ""},
		{cmpl, `{"prompt": "x", "priority": 1073741825}`, 400, "priority", ""},
		// sampling ranges and types
		{cmpl, `{"prompt": "x", "temperature": 2.5}`, 400, "temperature", ""},
		{cmpl, `{"prompt": "x", "temperature": -1}`, 400, "temperature", ""},
		{cmpl, `{"prompt": "x", "temperature": "hot"}`, 400, "temperature", ""},
		{cmpl, `{"prompt": "x", "top_p": 0}`, 400, "top_p", ""},
		{cmpl, `{"prompt": "x", "top_p": 1.1}`, 400, "top_p", ""},
		{cmpl, `{"prompt": "x", "top_k": -2}`, 400, "top_k", ""},
		{cmpl, `{"prompt": "x", "top_k": 0.5}`, 400, "top_k", ""},
		{cmpl, `{"prompt": "x", "min_p": 1.5}`, 400, "min_p", ""},
		{cmpl, `{"prompt": "x", "typical_p": 0}`, 400, "typical_p", ""},
		{cmpl, `{"prompt": "x", "presence_penalty": 3}`, 400, "presence_penalty", ""},
		{cmpl, `{"prompt": "x", "frequency_penalty": -2.5}`, 400, "frequency_penalty", ""},
		{cmpl, `{"prompt": "x", "repetition_penalty": 0}`, 400, "repetition_penalty", ""},
		{cmpl, `{"prompt": "x", "seed": "abc"}`, 400, "seed", ""},
		{cmpl, `{"prompt": "x", "seed": 1.5}`, 400, "seed", ""},
		// n, best_of
		{cmpl, `{"prompt": "x", "n": 0}`, 400, "n", ""},
		{cmpl, `{"prompt": "x", "n": 17}`, 400, "n", ""},
		{cmpl, `{"prompt": ["a","b","c","d","e"], "n": 16}`, 400, "n", ""},
		{cmpl, `{"prompt": "x", "n": 2, "best_of": 1}`, 400, "best_of", ""},
		{cmpl, `{"prompt": "x", "n": "2"}`, 400, "n", ""},
		{cmpl, `{"prompt": "x", "best_of": 3, "stream": true}`, 400, "best_of", ""},
		{cmpl, `{"prompt": "x", "best_of": 17}`, 400, "best_of", ""},
		// stop
		{cmpl, `{"prompt": "x", "stop": 5}`, 400, "stop", ""},
		{cmpl, `{"prompt": "x", "stop": ["a", 1]}`, 400, "stop", ""},
		{cmpl, `{"prompt": "x", "stop": ""}`, 400, "stop", ""},
		{cmpl, `{"prompt": "x", "stop": ["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]}`, 400, "stop", ""},
		{cmpl, `{"prompt": "x", "stop_token_ids": [100000]}`, 400, "stop_token_ids", ""},
		// logit_bias
		{cmpl, `{"prompt": "x", "logit_bias": {"abc": 1}}`, 400, "logit_bias", ""},
		{cmpl, `{"prompt": "x", "logit_bias": {"99999": 1}}`, 400, "logit_bias", ""},
		{cmpl, `{"prompt": "x", "logit_bias": {"5": 101}}`, 400, "logit_bias", ""},
		{cmpl, `{"prompt": "x", "logit_bias": {"5": "up"}}`, 400, "logit_bias", ""},
		{cmpl, `{"prompt": "x", "logit_bias": [1]}`, 400, "logit_bias", ""},
		// logprobs
		{cmpl, `{"prompt": "x", "logprobs": 21}`, 400, "logprobs", ""},
		{cmpl, `{"prompt": "x", "logprobs": true}`, 400, "logprobs", ""},
		{cmpl, `{"prompt": "x", "logprobs": 2, "echo": true}`, 400, "echo", "not_implemented"},
		{chat, `{` + msgs + `, "logprobs": 3}`, 400, "logprobs", ""},
		{chat, `{` + msgs + `, "top_logprobs": 2}`, 400, "top_logprobs", ""},
		{chat, `{` + msgs + `, "logprobs": true, "top_logprobs": 21}`, 400, "top_logprobs", ""},
		// echo, suffix, stream, user, ignore_eos
		{cmpl, `{"prompt": "x", "echo": "yes"}`, 400, "echo", ""},
		{cmpl, `{"prompt": "x", "suffix": "end"}`, 400, "suffix", "not_implemented"},
		{cmpl, `{"prompt": "x", "stream": 1}`, 400, "stream", ""},
		{cmpl, `{"prompt": "x", "stream_options": {"include_usage": true}}`, 400, "stream_options", ""},
		{cmpl, `{"prompt": "x", "stream": true, "stream_options": {"include_usage": "yes"}}`, 400, "stream_options.include_usage", ""},
		{cmpl, `{"prompt": "x", "user": 5}`, 400, "user", ""},
		{cmpl, `{"prompt": "x", "ignore_eos": "no"}`, 400, "ignore_eos", ""},
		// not implemented yet
		{cmpl, `{"prompt": "x", "use_beam_search": true, "stream": true}`, 400, "use_beam_search", ""},
		{chat, `{"messages": [{"role": "user", "content": "x"}], "use_beam_search": true, "n": 2, "stream": true}`, 400, "use_beam_search", ""},
		{cmpl, `{"prompt": "x", "use_beam_search": "y"}`, 400, "use_beam_search", ""},
		{cmpl, `{"prompt": "x", "length_penalty": 2}`, 400, "length_penalty", ""},
		{cmpl, `{"prompt": "x", "length_penalty": 11, "use_beam_search": true}`, 400, "length_penalty", ""},
		{cmpl, `{"prompt": "x", "early_stopping": true}`, 400, "early_stopping", ""},
		{cmpl, `{"prompt": "x", "early_stopping": "never"}`, 400, "early_stopping", ""},
		{cmpl, `{"prompt": "x", "use_beam_search": true, "best_of": 17}`, 400, "best_of", ""},
		{cmpl, `{"prompt": "x", "early_stopping": "sometimes"}`, 400, "early_stopping", ""},
		{chat, `{` + msgs + `, "response_format": {"type": "yaml"}}`, 400, "response_format.type", ""},
		{chat, `{` + msgs + `, "response_format": {"type": "json_schema"}}`, 400, "response_format.json_schema", ""},
		{chat, `{` + msgs + `, "response_format": "json"}`, 400, "response_format", ""},
		{chat, `{` + msgs + `, "tools": [{"type": "function", "function": {"name": "f"}}]}`, 400, "tool_choice", ""}, // auto without the server flags
		{chat, `{` + msgs + `, "tools": [{"type": "retrieval"}]}`, 400, "tools", ""},
		{chat, `{` + msgs + `, "tools": {"type": "function"}}`, 400, "tools", ""},
		{chat, `{` + msgs + `, "tool_choice": "sometimes"}`, 400, "tool_choice", ""},
		{chat, `{` + msgs + `, "tool_choice": "required"}`, 400, "tool_choice", ""}, // no tools
		{chat, `{` + msgs + `, "tool_choice": {"type": "function", "function": {"name": "f"}}}`, 400, "tool_choice", ""},
		// messages
		{chat, `{}`, 400, "messages", ""},
		{chat, `{"messages": []}`, 400, "messages", ""},
		{chat, `{"messages": 5}`, 400, "messages", ""},
		{chat, `{"messages": [5]}`, 400, "messages[0]", ""},
		{chat, `{"messages": [{"role": "robot", "content": "x"}]}`, 400, "messages[0].role", ""},
		{chat, `{"messages": [{"role": "user"}]}`, 400, "messages[0].content", ""},
		{chat, `{"messages": [{"role": "user", "content": 5}]}`, 400, "messages[0].content", ""},
		{chat, `{"messages": [{"role": "user", "content": [{"type": "video"}]}]}`, 400, "messages[0].content[0].type", ""},
		{chat, `{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}`, 400, "messages[0].content[0]", "not_implemented"},
		{chat, `{"messages": "hi"}`, 400, "messages", ""},
		{chat, `{"messages": [{"role": "user", "content": [{"type": "text"}]}]}`, 400, "messages[0].content[0].text", ""},
		{chat, `{"messages": [{"role": "user", "content": [{"type": "text", "text": null}]}]}`, 400, "messages[0].content[0].text", ""},
		{chat, `{"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "22 C"}]}`, 400, "messages[1].tool_call_id", ""},
		// null array elements (Go would read them as "" or 0)
		{chat, `{` + msgs + `, "guided_choice": [null]}`, 400, "guided_choice", ""},
		{chat, `{` + msgs + `, "guided_choice": ["yes", null]}`, 400, "guided_choice", ""},
		{cmpl, `{"prompt": [null]}`, 400, "prompt", ""},
		{cmpl, `{"prompt": ["a", null]}`, 400, "prompt", ""},
		{cmpl, `{"prompt": [[1, null]]}`, 400, "prompt", ""},
		{cmpl, `{"prompt": "x", "stop": [null]}`, 400, "stop", ""},
		{cmpl, `{"prompt": "x", "stop_token_ids": [null]}`, 400, "stop_token_ids", ""},
		{"/v1/embeddings", `{"input": [null]}`, 400, "input", ""},
		{"/v1/embeddings", `{"input": [[5, null]]}`, 400, "input", ""},
		{"/detokenize", `{"tokens": [1, null]}`, 400, "tokens", ""},
		{"/tokenize", `{"messages": "hi"}`, 400, "messages", ""},
		// other endpoints
		{"/v1/embeddings", `{"input": "x"}`, 400, "input", "not_implemented"}, // the test model has no Embedder
		{"/v1/embeddings", `{"input": [[1, 99999]]}`, 400, "input", ""},
		{"/v1/embeddings", `{"input": "x", "dimensions": 0}`, 400, "dimensions", ""},
		{"/v1/embeddings", `{"input": "x", "encoding_format": "hex"}`, 400, "encoding_format", ""},
		{"/v1/embeddings", `{}`, 400, "input", ""},
		{"/tokenize", `{}`, 400, "prompt", ""},
		{"/tokenize", `{"prompt": 5}`, 400, "prompt", ""},
		{"/tokenize", `{"prompt": "x", "model": "other"}`, 404, "model", ""},
		{"/detokenize", `{"tokens": [1, -5]}`, 400, "tokens", ""},
		{"/detokenize", `{"tokens": "abc"}`, 400, "tokens", ""},
		{"/detokenize", `{}`, 400, "tokens", ""},
		{"/v1/chat/interactive", `{"prompt": "x", "session_id": -7}`, 400, "session_id", ""},
		{"/v1/chat/interactive", `{"prompt": 7}`, 400, "prompt", ""},
		{"/v1/chat/interactive", `{"prompt": "x", "temperature": 9}`, 400, "temperature", ""},
	}
	for _, tc := range cases {
		name := tc.path + " " + tc.body
		if len(name) > 90 {
			name = name[:90]
		}
		t.Run(name, func(t *testing.T) {
			resp, b := env.do(t, "POST", tc.path, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			_, typ, param, code := apiError(t, b)
			if typ != "invalid_request_error" {
				t.Errorf("type %q", typ)
			}
			got := ""
			if param != nil {
				got = *param
			}
			if got != tc.param {
				t.Errorf("param %q, want %q: %s", got, tc.param, b)
			}
			if tc.code != "" && (code == nil || *code != tc.code) {
				t.Errorf("code %v, want %q", code, tc.code)
			}
			resp, b = env.do(t, "POST", cmpl, `{"prompt": "Once", "max_tokens": 2}`)
			if resp.StatusCode != 200 {
				t.Fatalf("a valid request after it: %d %s", resp.StatusCode, b)
			}
		})
	}
	waitIdle(t, env.engine)
}
