package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// responseObj is the part of a response object the tests read.
type responseObj struct {
	ID, Object, Status string
	Model              string
	OutputText         string                   `json:"output_text"`
	PreviousResponseID *string                  `json:"previous_response_id"`
	IncompleteDetails  *struct{ Reason string } `json:"incomplete_details"`
	Output             []struct {
		ID, Type, Status, Role string
		Content                []struct{ Type, Text string }
		CallID                 string `json:"call_id"`
		Name, Arguments        string
	}
	Usage struct {
		InputTokens        int `json:"input_tokens"`
		OutputTokens       int `json:"output_tokens"`
		InputTokensDetails struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"input_tokens_details"`
		OutputTokensDetails struct {
			ReasoningTokens int `json:"reasoning_tokens"`
		} `json:"output_tokens_details"`
	}
}

func postResponse(t *testing.T, env *testEnv, body string) responseObj {
	t.Helper()
	resp, out := env.do(t, "POST", "/v1/responses", body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	var r responseObj
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestResponses(t *testing.T) {
	env, b := newScriptServer(t, Options{}, "Hello", " there")
	r := postResponse(t, env, `{"model": "stories", "instructions": "Be brief.", "input": [{"role": "developer", "content": "No rhymes."}, {"role": "user", "content": [{"type": "input_text", "text": "Hi"}]}], "max_output_tokens": 9}`)
	if !strings.HasPrefix(r.ID, "resp_") || r.Object != "response" || r.Status != "completed" || r.OutputText != "Hello there" ||
		len(r.Output) != 1 || r.Output[0].Type != "message" || r.Output[0].Content[0].Type != "output_text" || r.Usage.OutputTokens != 2 {
		t.Fatalf("%+v", r)
	}
	prompt := env.model.Tokenizer.Decode(b.reqs[0].Prompt)
	for _, want := range []string{"Be brief.", "No rhymes.", "Hi"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("prompt lacks %q: %s", want, prompt)
		}
	}
	if b.reqs[0].MaxTokens != 9 {
		t.Errorf("max_tokens %d", b.reqs[0].MaxTokens)
	}
	resp, out := env.do(t, "GET", "/v1/responses/"+r.ID, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), `"output_text":"Hello there"`) {
		t.Fatalf("GET %d: %s", resp.StatusCode, out)
	}
	resp, out = env.do(t, "DELETE", "/v1/responses/"+r.ID, "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), `"deleted":true`) {
		t.Fatalf("DELETE %d: %s", resp.StatusCode, out)
	}
	for _, method := range []string{"GET", "DELETE"} {
		if resp, out = env.do(t, method, "/v1/responses/"+r.ID, ""); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%s after delete: %d %s", method, resp.StatusCode, out)
		}
		apiError(t, out)
	}
	r = postResponse(t, env, `{"input": "Hi", "store": false}`)
	if resp, _ = env.do(t, "GET", "/v1/responses/"+r.ID, ""); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("store false was stored: %d", resp.StatusCode)
	}
	postResponse(t, env, `{"input": "Hi", "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}}}`)
	if b.reqs[len(b.reqs)-1].Constraint == nil {
		t.Error("text.format json_schema did not constrain the output")
	}
}

func TestResponsesStream(t *testing.T) {
	env, _ := newScriptServer(t, Options{ReasoningParser: "deepseek_r1"}, "hm", "</think>", "Hello", " there")
	resp, out := env.do(t, "POST", "/v1/responses", `{"input": "Hi", "stream": true}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	var names []string
	text := ""
	for i, e := range namedEvents(t, string(out)) {
		names = append(names, e.name)
		if n := e.data["sequence_number"].(float64); int(n) != i {
			t.Fatalf("event %d has sequence_number %v", i, n)
		}
		if e.name == "response.output_text.delta" {
			text += e.data["delta"].(string)
		}
		if e.name == "response.completed" {
			r := e.data["response"].(map[string]any)
			if r["status"] != "completed" || r["output_text"] != "Hello there" || len(r["output"].([]any)) != 2 {
				t.Fatalf("completed %v", r)
			}
		}
	}
	want := "response.created response.in_progress " +
		"response.output_item.added response.content_part.added response.reasoning_text.delta response.reasoning_text.done response.content_part.done response.output_item.done " +
		"response.output_item.added response.content_part.added response.output_text.delta response.output_text.delta response.output_text.done response.content_part.done response.output_item.done " +
		"response.completed"
	if strings.Join(names, " ") != want || text != "Hello there" {
		t.Fatalf("events:\n%s\nwant:\n%s\ntext %q", strings.Join(names, " "), want, text)
	}
}

// TestResponsesFunctionCall: a call comes back as a function_call item
// (streamed: function_call_arguments deltas); the follow-up sends its
// output with previous_response_id, and the prompt holds the whole
// conversation.
func TestResponsesFunctionCall(t *testing.T) {
	env, b := newScriptServer(t, Options{ToolCallParser: "hermes", EnableAutoToolChoice: true},
		"<tool_call>\n{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>")
	tools := `"tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]`
	r := postResponse(t, env, `{"input": "Weather in Paris?", `+tools+`}`)
	if len(r.Output) != 1 || r.Output[0].Type != "function_call" || r.Output[0].Name != "get_weather" || !strings.HasPrefix(r.Output[0].ID, "fc_") {
		t.Fatalf("%+v", r)
	}
	var args map[string]string
	if err := json.Unmarshal([]byte(r.Output[0].Arguments), &args); err != nil || args["city"] != "Paris" {
		t.Fatalf("arguments %q", r.Output[0].Arguments)
	}
	follow := fmt.Sprintf(`{"input": [{"type": "function_call_output", "call_id": %q, "output": "22 degrees"}], "previous_response_id": %q, %s}`, r.Output[0].CallID, r.ID, tools)
	r2 := postResponse(t, env, follow)
	if r2.PreviousResponseID == nil || *r2.PreviousResponseID != r.ID {
		t.Fatalf("previous_response_id %v", r2.PreviousResponseID)
	}
	prompt := env.model.Tokenizer.Decode(b.reqs[1].Prompt)
	for _, want := range []string{"Weather in Paris?", `"city": "Paris"`, "22 degrees"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("follow-up prompt lacks %q:\n%s", want, prompt)
		}
	}
	resp, out := env.do(t, "POST", "/v1/responses", `{"input": "Weather?", "stream": true, `+tools+`}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream status %d", resp.StatusCode)
	}
	streamed, done := "", ""
	for _, e := range namedEvents(t, string(out)) {
		switch e.name {
		case "response.function_call_arguments.delta":
			streamed += e.data["delta"].(string)
		case "response.function_call_arguments.done":
			done = e.data["arguments"].(string)
		}
	}
	if streamed == "" || streamed != done || strings.ReplaceAll(done, " ", "") != `{"city":"Paris"}` {
		t.Fatalf("streamed %q, done %q", streamed, done)
	}
}

// TestResponsesFollowUpCached runs the real engine: a follow-up with
// previous_response_id extends the stored conversation, so the prefix
// cache serves the earlier turn's tokens.
func TestResponsesFollowUpCached(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	r := postResponse(t, env, `{"input": "Once upon a time there was a little girl who liked to play outside in the sun.", "max_output_tokens": 20, "temperature": 0}`)
	if r.Status != "incomplete" || r.IncompleteDetails == nil || r.IncompleteDetails.Reason != "max_output_tokens" {
		t.Fatalf("%+v", r)
	}
	resp, out := env.do(t, "POST", "/v1/responses", `{"input": "Once", "max_output_tokens": 3, "stream": true}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream status %d", resp.StatusCode)
	}
	for _, e := range namedEvents(t, string(out)) {
		if e.name == "response.output_item.done" {
			if s := e.data["item"].(map[string]any)["status"]; s != "incomplete" {
				t.Errorf("a cut item closes %v", s)
			}
		}
	}
	r2 := postResponse(t, env, `{"input": "And then?", "previous_response_id": "`+r.ID+`", "max_output_tokens": 4}`)
	if r2.Usage.InputTokens <= r.Usage.InputTokens || r2.Usage.InputTokensDetails.CachedTokens < r.Usage.InputTokens-16 {
		t.Fatalf("follow-up: %d prompt tokens, %d cached; the first turn had %d", r2.Usage.InputTokens, r2.Usage.InputTokensDetails.CachedTokens, r.Usage.InputTokens)
	}
	waitIdle(t, env.engine)
}

// TestResponseStoreBound: the store keeps the most recently used entries.
func TestResponseStoreBound(t *testing.T) {
	env, _ := newScriptServer(t, Options{ResponseStoreEntries: 2}, "x")
	a := postResponse(t, env, `{"input": "a"}`)
	bb := postResponse(t, env, `{"input": "b"}`)
	if resp, _ := env.do(t, "GET", "/v1/responses/"+a.ID, ""); resp.StatusCode != 200 { // a is now the most recent
		t.Fatal("a evicted early")
	}
	c := postResponse(t, env, `{"input": "c"}`)
	for id, want := range map[string]int{a.ID: 200, bb.ID: 404, c.ID: 200} {
		if resp, _ := env.do(t, "GET", "/v1/responses/"+id, ""); resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", id, resp.StatusCode, want)
		}
	}
	if n := env.srv.responses.len(); n != 2 {
		t.Errorf("%d stored", n)
	}
	resp, out := env.do(t, "POST", "/v1/responses", `{"input": "d", "previous_response_id": "`+bb.ID+`"}`)
	if _, _, param, _ := apiError(t, out); resp.StatusCode != 404 || param == nil || *param != "previous_response_id" {
		t.Fatalf("follow-up of an evicted response: %d %s", resp.StatusCode, out)
	}
}

func TestResponsesErrors(t *testing.T) {
	tests := []struct {
		name, body string
		status     int
		param      string
	}{
		{"empty body", ``, 400, ""},
		{"not an object", `[1]`, 400, ""},
		{"no input", `{"model": "stories"}`, 400, "input"},
		{"empty input", `{"input": []}`, 400, "input"},
		{"input wrong type", `{"input": 5}`, 400, "input"},
		{"unknown model", `{"model": "gpt-5", "input": "x"}`, 404, "model"},
		{"bad role", `{"input": [{"role": "tool", "content": "x"}]}`, 400, "input[0].role"},
		{"bad item type", `{"input": [{"type": "web_search_call"}]}`, 400, "input[0].type"},
		{"image", `{"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "http://x"}]}]}`, 400, "input[0].content[0].type"},
		{"function_call without call_id", `{"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}`, 400, "input[0]"},
		{"function_call_output without output", `{"input": [{"type": "function_call_output", "call_id": "c"}]}`, 400, "input[0].output"},
		{"max_output_tokens 0", `{"input": "x", "max_output_tokens": 0}`, 400, "max_output_tokens"},
		{"max_output_tokens wrong type", `{"input": "x", "max_output_tokens": "5"}`, 400, "max_output_tokens"},
		{"temperature too high", `{"input": "x", "temperature": 5}`, 400, "temperature"},
		{"bad text.format", `{"input": "x", "text": {"format": {"type": "xml"}}}`, 400, "text.format.type"},
		{"json_schema without schema", `{"input": "x", "text": {"format": {"type": "json_schema", "name": "a"}}}`, 400, "text.format.schema"},
		{"hosted tool", `{"input": "x", "tools": [{"type": "web_search"}]}`, 400, "tools[0].type"},
		{"tool without name", `{"input": "x", "tools": [{"type": "function"}]}`, 400, "tools[0].name"},
		{"bad tool_choice", `{"input": "x", "tool_choice": {"type": "file_search"}}`, 400, "tool_choice"},
		{"required without tools", `{"input": "x", "tool_choice": "required"}`, 400, "tool_choice"},
		{"auto tools without a parser", `{"input": "x", "tools": [{"type": "function", "name": "f"}]}`, 400, "tool_choice"},
		{"unknown previous_response_id", `{"input": "x", "previous_response_id": "resp_nope"}`, 404, "previous_response_id"},
		{"background", `{"input": "x", "background": true}`, 400, "background"},
		{"conversation", `{"input": "x", "conversation": "conv_1"}`, 400, "conversation"},
		{"bad truncation", `{"input": "x", "truncation": "some"}`, 400, "truncation"},
		{"bad reasoning effort", `{"input": "x", "reasoning": {"effort": "max"}}`, 400, "reasoning.effort"},
		{"prompt too long", `{"input": "` + strings.Repeat("once upon a time ", 2000) + `"}`, 400, "input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, b := newScriptServer(t, Options{}, "x")
			resp, out := env.do(t, "POST", "/v1/responses", tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, out)
			}
			_, _, param, _ := apiError(t, out)
			if got := ""; param != nil {
				got = *param
				if got != tt.param {
					t.Errorf("param %q, want %q: %s", got, tt.param, out)
				}
			} else if tt.param != "" {
				t.Errorf("param null, want %q: %s", tt.param, out)
			}
			if len(b.reqs) != 0 {
				t.Error("a rejected request reached the engine")
			}
		})
	}
	env, _ := newScriptServer(t, Options{}, "x")
	if resp, out := env.do(t, "PUT", "/v1/responses/resp_x", "{}"); resp.StatusCode != 405 || !strings.Contains(resp.Header.Get("Allow"), "DELETE") {
		t.Fatalf("PUT: %d %s", resp.StatusCode, out)
	}
}
