package server

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// anthropicErrorOf parses an Anthropic error body, failing the test if it
// is not one.
func anthropicErrorOf(t *testing.T, b []byte) (typ, msg string) {
	t.Helper()
	var e struct {
		Type  string `json:"type"`
		Error *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Type != "error" || e.Error == nil || e.Error.Type == "" || e.Error.Message == "" {
		t.Fatalf("not an Anthropic error body: %s", b)
	}
	return e.Error.Type, e.Error.Message
}

// namedEvent is one event of an Anthropic or Responses stream.
type namedEvent struct {
	name string
	data map[string]any
}

// namedEvents splits a stream of `event:`/`data:` pairs, checking that
// each event's name is its data's type.
func namedEvents(t *testing.T, body string) []namedEvent {
	t.Helper()
	var out []namedEvent
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	name := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			var d map[string]any
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &d); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if d["type"] != name {
				t.Fatalf("event %q carries type %v", name, d["type"])
			}
			out = append(out, namedEvent{name, d})
			name = ""
		default:
			t.Fatalf("not an SSE line: %q", line)
		}
	}
	return out
}

func TestMessages(t *testing.T) {
	env, b := newScriptServer(t, Options{}, "Hello", " there", "!")
	body := `{"model": "stories", "max_tokens": 20, "system": [{"type": "text", "text": "Be brief."}],
		"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": [{"type": "text", "text": "Yes?"}]}, {"role": "user", "content": [{"type": "text", "text": "Greet me"}]}],
		"temperature": 0.5, "top_k": 5}`
	resp, out := env.do(t, "POST", "/v1/messages", body, "anthropic-version", "2023-06-01")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	var msg struct {
		ID, Type, Role, Model string
		Content               []struct{ Type, Text string }
		StopReason            string  `json:"stop_reason"`
		StopSequence          *string `json:"stop_sequence"`
		Usage                 struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		}
	}
	if err := json.Unmarshal(out, &msg); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(msg.ID, "msg_") || msg.Type != "message" || msg.Role != "assistant" || len(msg.Content) != 1 ||
		msg.Content[0].Text != "Hello there!" || msg.StopReason != "end_turn" || msg.Usage.OutputTokens != 3 || msg.Usage.InputTokens == 0 {
		t.Fatalf("%s", out)
	}
	prompt := env.model.Tokenizer.Decode(b.reqs[0].Prompt)
	for _, want := range []string{"Be brief.", "Hi", "Yes?", "Greet me"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("prompt %q lacks %q", prompt, want)
		}
	}
	if b.reqs[0].MaxTokens != 20 || b.reqs[0].Sample.TopK != 5 {
		t.Errorf("max_tokens %d top_k %d", b.reqs[0].MaxTokens, b.reqs[0].Sample.TopK)
	}

	resp, out = env.do(t, "POST", "/v1/messages", strings.Replace(body, `"max_tokens": 20`, `"max_tokens": 20, "stream": true`, 1))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream status %d: %s", resp.StatusCode, out)
	}
	evs := namedEvents(t, string(out))
	var names []string
	text := ""
	for _, e := range evs {
		names = append(names, e.name)
		if e.name == "content_block_delta" {
			text += e.data["delta"].(map[string]any)["text"].(string)
		}
	}
	want := "message_start ping content_block_start content_block_delta content_block_delta content_block_delta content_block_stop message_delta message_stop"
	if strings.Join(names, " ") != want {
		t.Fatalf("events %v, want %s", names, want)
	}
	if text != "Hello there!" {
		t.Fatalf("streamed %q", text)
	}
	if d := evs[len(evs)-2].data["delta"].(map[string]any); d["stop_reason"] != "end_turn" {
		t.Fatalf("message_delta %v", d)
	}
}

// TestMessagesToolRoundTrip: a call comes back as a tool_use block (and,
// streamed, as input_json_delta), and the next turn's tool_result reaches
// the template as a tool message.
func TestMessagesToolRoundTrip(t *testing.T) {
	env, b := newScriptServer(t, Options{ToolCallParser: "hermes", EnableAutoToolChoice: true},
		"Let me check.", "<tool_call>\n{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>")
	tools := `"tools": [{"name": "get_weather", "description": "Weather of a city", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]`
	body := `{"model": "stories", "max_tokens": 64, ` + tools + `, "messages": [{"role": "user", "content": "Weather in Paris?"}]`
	resp, out := env.do(t, "POST", "/v1/messages", body+`}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	var msg struct {
		Content []struct {
			Type, Text, ID, Name string
			Input                map[string]any
		}
		StopReason string `json:"stop_reason"`
	}
	if err := json.Unmarshal(out, &msg); err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 2 || msg.Content[0].Text != "Let me check." || msg.Content[1].Type != "tool_use" ||
		msg.Content[1].Name != "get_weather" || msg.Content[1].Input["city"] != "Paris" || msg.StopReason != "tool_use" {
		t.Fatalf("%s", out)
	}
	resp, out = env.do(t, "POST", "/v1/messages", body+`, "stream": true}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream status %d", resp.StatusCode)
	}
	args := ""
	var starts []string
	for _, e := range namedEvents(t, string(out)) {
		switch e.name {
		case "content_block_start":
			starts = append(starts, e.data["content_block"].(map[string]any)["type"].(string))
		case "content_block_delta":
			if d := e.data["delta"].(map[string]any); d["type"] == "input_json_delta" {
				args += d["partial_json"].(string)
			}
		case "message_delta":
			if r := e.data["delta"].(map[string]any)["stop_reason"]; r != "tool_use" {
				t.Errorf("stop_reason %v", r)
			}
		}
	}
	if strings.Join(starts, ",") != "text,tool_use" || strings.ReplaceAll(args, " ", "") != `{"city":"Paris"}` {
		t.Fatalf("blocks %v, arguments %q", starts, args)
	}
	id := msg.Content[1].ID
	follow := `{"model": "stories", "max_tokens": 8, ` + tools + `, "messages": [{"role": "user", "content": "Weather in Paris?"},
		{"role": "assistant", "content": [{"type": "text", "text": "Let me check."}, {"type": "tool_use", "id": "` + id + `", "name": "get_weather", "input": {"city": "Paris"}}]},
		{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "` + id + `", "content": "22 degrees"}]}]}`
	resp, out = env.do(t, "POST", "/v1/messages", follow)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("follow-up status %d: %s", resp.StatusCode, out)
	}
	prompt := env.model.Tokenizer.Decode(b.reqs[len(b.reqs)-1].Prompt)
	for _, want := range []string{"22 degrees", `"city": "Paris"`, "get_weather"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("follow-up prompt lacks %q:\n%s", want, prompt)
		}
	}
}

// TestMessagesStopSequence runs the real engine: a stop sequence ends the
// answer with stop_reason stop_sequence and names it.
func TestMessagesStopSequence(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	body := `{"model": "stories", "max_tokens": 16, "temperature": 0, "messages": [{"role": "user", "content": "Once"}]}`
	resp, out := env.do(t, "POST", "/v1/messages", body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	var msg struct {
		Content      []struct{ Text string }
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	}
	if err := json.Unmarshal(out, &msg); err != nil || msg.StopReason != "max_tokens" || len(msg.Content[0].Text) < 4 {
		t.Fatalf("%v: %s", err, out)
	}
	stop := msg.Content[0].Text[2:4]
	stopJSON, _ := json.Marshal([]string{"zzz", stop})
	resp, out = env.do(t, "POST", "/v1/messages", strings.Replace(body, `"temperature": 0`, `"temperature": 0, "stop_sequences": `+string(stopJSON), 1))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	if err := json.Unmarshal(out, &msg); err != nil || msg.StopReason != "stop_sequence" || msg.StopSequence == nil || *msg.StopSequence != stop {
		t.Fatalf("stop %q: %s", stop, out)
	}
	waitIdle(t, env.engine)
}

func TestMessagesCountTokens(t *testing.T) {
	env, b := newScriptServer(t, Options{}, "x")
	body := `{"model": "stories", "system": "Be brief.", "messages": [{"role": "user", "content": "Hello there"}]}`
	resp, out := env.do(t, "POST", "/v1/messages/count_tokens", body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	var n struct {
		InputTokens int `json:"input_tokens"`
	}
	if err := json.Unmarshal(out, &n); err != nil || n.InputTokens == 0 {
		t.Fatalf("%s", out)
	}
	resp, _ = env.do(t, "POST", "/v1/messages", strings.Replace(body, `"model"`, `"max_tokens": 1, "model"`, 1))
	if resp.StatusCode != http.StatusOK || len(b.reqs[0].Prompt) != n.InputTokens {
		t.Fatalf("count_tokens %d, the prompt has %d", n.InputTokens, len(b.reqs[0].Prompt))
	}
}

func TestMessagesErrors(t *testing.T) {
	msgs := `"messages": [{"role": "user", "content": "x"}]`
	tests := []struct {
		name, path, body string
		status           int
		typ, contains    string
	}{
		{"empty body", "/v1/messages", ``, 400, "invalid_request_error", "empty"},
		{"not JSON", "/v1/messages", `{"model":`, 400, "invalid_request_error", "JSON"},
		{"no max_tokens", "/v1/messages", `{"model": "stories", ` + msgs + `}`, 400, "invalid_request_error", "max_tokens"},
		{"max_tokens 0", "/v1/messages", `{"model": "stories", "max_tokens": 0, ` + msgs + `}`, 400, "invalid_request_error", "max_tokens"},
		{"max_tokens wrong type", "/v1/messages", `{"model": "stories", "max_tokens": "9", ` + msgs + `}`, 400, "invalid_request_error", "max_tokens"},
		{"no model", "/v1/messages", `{"max_tokens": 5, ` + msgs + `}`, 400, "invalid_request_error", "model"},
		{"unknown model", "/v1/messages", `{"model": "claude-opus", "max_tokens": 5, ` + msgs + `}`, 404, "not_found_error", "claude-opus"},
		{"no messages", "/v1/messages", `{"model": "stories", "max_tokens": 5}`, 400, "invalid_request_error", "messages"},
		{"empty messages", "/v1/messages", `{"model": "stories", "max_tokens": 5, "messages": []}`, 400, "invalid_request_error", "messages"},
		{"bad role", "/v1/messages", `{"model": "stories", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]}`, 400, "invalid_request_error", "role"},
		{"content wrong type", "/v1/messages", `{"model": "stories", "max_tokens": 5, "messages": [{"role": "user", "content": 5}]}`, 400, "invalid_request_error", "content"},
		{"image", "/v1/messages", `{"model": "stories", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]}`, 400, "invalid_request_error", "image"},
		{"tool_use in a user turn", "/v1/messages", `{"model": "stories", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "f", "input": {}}]}]}`, 400, "invalid_request_error", "tool_use"},
		{"tool_result without id", "/v1/messages", `{"model": "stories", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]}`, 400, "invalid_request_error", "tool_use_id"},
		{"system wrong type", "/v1/messages", `{"model": "stories", "max_tokens": 5, "system": 3, ` + msgs + `}`, 400, "invalid_request_error", "system"},
		{"temperature too high", "/v1/messages", `{"model": "stories", "max_tokens": 5, "temperature": 9, ` + msgs + `}`, 400, "invalid_request_error", "temperature"},
		{"stop_sequences wrong type", "/v1/messages", `{"model": "stories", "max_tokens": 5, "stop_sequences": "x", ` + msgs + `}`, 400, "invalid_request_error", "stop_sequences"},
		{"empty stop sequence", "/v1/messages", `{"model": "stories", "max_tokens": 5, "stop_sequences": [""], ` + msgs + `}`, 400, "invalid_request_error", "stop_sequences"},
		{"tool without schema", "/v1/messages", `{"model": "stories", "max_tokens": 5, "tools": [{"name": "f"}], ` + msgs + `}`, 400, "invalid_request_error", "input_schema"},
		{"server tool", "/v1/messages", `{"model": "stories", "max_tokens": 5, "tools": [{"type": "web_search_20250305", "name": "web_search"}], ` + msgs + `}`, 400, "invalid_request_error", "web_search"},
		{"bad tool_choice", "/v1/messages", `{"model": "stories", "max_tokens": 5, "tool_choice": {"type": "sometimes"}, ` + msgs + `}`, 400, "invalid_request_error", "tool_choice"},
		{"tool_choice any without tools", "/v1/messages", `{"model": "stories", "max_tokens": 5, "tool_choice": {"type": "any"}, ` + msgs + `}`, 400, "invalid_request_error", "tools"},
		{"auto tools without a parser", "/v1/messages", `{"model": "stories", "max_tokens": 5, "tools": [{"name": "f", "input_schema": {"type": "object"}}], ` + msgs + `}`, 400, "invalid_request_error", "--tool-call-parser"},
		{"thinking budget without a parser", "/v1/messages", `{"model": "stories", "max_tokens": 5, "thinking": {"type": "enabled", "budget_tokens": 100}, ` + msgs + `}`, 400, "invalid_request_error", "budget_tokens"},
		{"bad thinking", "/v1/messages", `{"model": "stories", "max_tokens": 5, "thinking": {"type": "deep"}, ` + msgs + `}`, 400, "invalid_request_error", "thinking"},
		{"prompt too long", "/v1/messages", `{"model": "stories", "max_tokens": 5, "messages": [{"role": "user", "content": "` + strings.Repeat("once upon a time ", 2000) + `"}]}`, 400, "invalid_request_error", "context length"},
		{"count_tokens without messages", "/v1/messages/count_tokens", `{"model": "stories"}`, 400, "invalid_request_error", "messages"},
		{"GET", "/v1/messages", ``, 405, "invalid_request_error", "not allowed"},
		{"unknown path", "/v1/messages/batches", `{}`, 404, "not_found_error", "no route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, b := newScriptServer(t, Options{}, "x")
			method := "POST"
			if tt.name == "GET" {
				method = "GET"
			}
			resp, out := env.do(t, method, tt.path, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, out)
			}
			typ, msg := anthropicErrorOf(t, out)
			if typ != tt.typ || !strings.Contains(msg, tt.contains) {
				t.Errorf("error %s %q; want %s mentioning %q", typ, msg, tt.typ, tt.contains)
			}
			if len(b.reqs) != 0 {
				t.Error("a rejected request reached the engine")
			}
		})
	}
}

// TestMessagesAuth: x-api-key authenticates beside Bearer, and a refusal is
// in Anthropic's shape.
func TestMessagesAuth(t *testing.T) {
	env, _ := newScriptServer(t, Options{APIKeys: []string{"sk-a"}}, "x")
	body := `{"model": "stories", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}`
	tests := []struct {
		name    string
		headers []string
		status  int
	}{
		{"x-api-key", []string{"x-api-key", "sk-a"}, 200},
		{"bearer", []string{"Authorization", "Bearer sk-a"}, 200},
		{"wrong x-api-key", []string{"x-api-key", "sk-b"}, 401},
		{"none", nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, out := env.do(t, "POST", "/v1/messages", body, tt.headers...)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d: %s", resp.StatusCode, out)
			}
			if tt.status == 401 {
				if typ, _ := anthropicErrorOf(t, out); typ != "authentication_error" {
					t.Errorf("type %s", typ)
				}
			}
		})
	}
}

// TestMessagesThinking: with a reasoning parser the thinking is a thinking
// block before the text, streamed as thinking_delta.
func TestMessagesThinking(t *testing.T) {
	env, _ := newScriptServer(t, Options{ReasoningParser: "deepseek_r1"}, "Let me", " see.</th", "ink>Four.")
	body := `{"model": "stories", "max_tokens": 20, "messages": [{"role": "user", "content": "2+2?"}]`
	resp, out := env.do(t, "POST", "/v1/messages", body+`}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	var msg struct {
		Content []struct{ Type, Text, Thinking string }
	}
	if err := json.Unmarshal(out, &msg); err != nil || len(msg.Content) != 2 || msg.Content[0].Type != "thinking" ||
		msg.Content[0].Thinking != "Let me see." || msg.Content[1].Text != "Four." {
		t.Fatalf("%v: %s", err, out)
	}
	resp, out = env.do(t, "POST", "/v1/messages", body+`, "stream": true}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream status %d", resp.StatusCode)
	}
	var blocks []string
	thinking, text := "", ""
	for _, e := range namedEvents(t, string(out)) {
		switch e.name {
		case "content_block_start":
			blocks = append(blocks, e.data["content_block"].(map[string]any)["type"].(string))
		case "content_block_delta":
			d := e.data["delta"].(map[string]any)
			switch d["type"] {
			case "thinking_delta":
				thinking += d["thinking"].(string)
			case "text_delta":
				text += d["text"].(string)
			}
		}
	}
	if strings.Join(blocks, ",") != "thinking,text" || thinking != "Let me see." || text != "Four." {
		t.Fatalf("blocks %v, thinking %q, text %q", blocks, thinking, text)
	}
}
