package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// chatReply is the part of a chat answer the reasoning tests read.
type chatReply struct {
	Choices []struct {
		Message struct {
			Content          *string `json:"content"`
			ReasoningContent *string `json:"reasoning_content"`
			Reasoning        *string `json:"reasoning"`
			ToolCalls        []struct {
				Function struct{ Name, Arguments string } `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
}

// streamedReply joins a chat stream's content and reasoning deltas.
func streamedReply(t *testing.T, body string) (content, thinking string, calls int) {
	t.Helper()
	for _, data := range sseEvents(t, strings.NewReader(body)) {
		if data == "[DONE]" {
			continue
		}
		var ch struct {
			Choices []struct {
				Delta struct {
					Content          *string           `json:"content"`
					ReasoningContent *string           `json:"reasoning_content"`
					Reasoning        *string           `json:"reasoning"`
					ToolCalls        []json.RawMessage `json:"tool_calls"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			t.Fatalf("%v: %s", err, data)
		}
		for _, c := range ch.Choices {
			if c.Delta.Content != nil {
				content += *c.Delta.Content
			}
			if c.Delta.ReasoningContent != nil {
				thinking += *c.Delta.ReasoningContent
				if c.Delta.Reasoning == nil || *c.Delta.Reasoning != *c.Delta.ReasoningContent {
					t.Fatalf("reasoning and reasoning_content differ: %s", data)
				}
			}
			if len(c.Delta.ToolCalls) > 0 && strings.Contains(string(c.Delta.ToolCalls[0]), `"id"`) {
				calls++
			}
		}
	}
	return content, thinking, calls
}

func TestReasoningSplit(t *testing.T) {
	tests := []struct {
		name, parser      string
		pieces            []string
		thinking, content string // thinking "" means null
	}{
		{"deepseek_r1 without <think>", "deepseek_r1", []string{"Let me", " think.</th", "ink>\n\nThe answer", " is 4."}, "Let me think.", "\n\nThe answer is 4."},
		{"deepseek_r1 with <think> split", "deepseek_r1", []string{"<", "thi", "nk>hm", "</think>", "ok"}, "hm", "ok"},
		{"qwen3 both markers", "qwen3", []string{"<think>", "a<b", "</think>", "\n\nyes"}, "a<b", "\n\nyes"},
		{"qwen3 no thinking", "qwen3", []string{"just ", "an answer"}, "", "just an answer"},
		{"no parser", "", []string{"<think>x</think>y"}, "", "<think>x</think>y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := newScriptServer(t, Options{ReasoningParser: tt.parser}, tt.pieces...)
			resp, body := env.do(t, "POST", "/v1/chat/completions", `{"messages": [{"role": "user", "content": "2+2?"}]}`)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var r chatReply
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			msg := r.Choices[0].Message
			if msg.Content == nil || *msg.Content != tt.content {
				t.Errorf("content %v, want %q", msg.Content, tt.content)
			}
			switch {
			case tt.thinking == "" && msg.ReasoningContent != nil:
				t.Errorf("reasoning_content %q, want none", *msg.ReasoningContent)
			case tt.thinking != "" && (msg.ReasoningContent == nil || *msg.ReasoningContent != tt.thinking || msg.Reasoning == nil || *msg.Reasoning != tt.thinking):
				t.Errorf("reasoning_content %v reasoning %v, want %q: %s", msg.ReasoningContent, msg.Reasoning, tt.thinking, body)
			}
			resp, body = env.do(t, "POST", "/v1/chat/completions", `{"messages": [{"role": "user", "content": "2+2?"}], "stream": true}`)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("stream status %d: %s", resp.StatusCode, body)
			}
			content, thinking, _ := streamedReply(t, string(body))
			if content != tt.content || thinking != tt.thinking {
				t.Errorf("streamed content %q thinking %q, want %q and %q", content, thinking, tt.content, tt.thinking)
			}
		})
	}
}

// TestReasoningToolCallsInAnswerOnly checks a tool call written inside the
// thinking is not parsed as a call; the one in the answer is.
func TestReasoningToolCallsInAnswerOnly(t *testing.T) {
	pieces := []string{"I could write <tool_call>\n{\"name\": \"nope\", \"arguments\": {}}\n</tool_call> but", "</think>",
		"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"}
	env, _ := newScriptServer(t, Options{ReasoningParser: "deepseek_r1", ToolCallParser: "hermes", EnableAutoToolChoice: true}, pieces...)
	req := `{"messages": [{"role": "user", "content": "weather?"}], "tools": [` + weatherTool + `]`
	resp, body := env.do(t, "POST", "/v1/chat/completions", req+`}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var r chatReply
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	msg := r.Choices[0].Message
	if len(msg.ToolCalls) != 1 || msg.ToolCalls[0].Function.Name != "get_weather" || r.Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("calls %+v finish %q: %s", msg.ToolCalls, r.Choices[0].FinishReason, body)
	}
	if msg.ReasoningContent == nil || !strings.Contains(*msg.ReasoningContent, "nope") {
		t.Fatalf("reasoning_content %v", msg.ReasoningContent)
	}
	resp, body = env.do(t, "POST", "/v1/chat/completions", req+`, "stream": true}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream status %d", resp.StatusCode)
	}
	_, thinking, calls := streamedReply(t, string(body))
	if calls != 1 || !strings.Contains(thinking, "nope") {
		t.Fatalf("streamed %d calls, thinking %q", calls, thinking)
	}
}

func TestReasoningParamErrors(t *testing.T) {
	msgs := `"messages": [{"role": "user", "content": "x"}]`
	tests := []struct {
		name, parser, extra, param string
	}{
		{"kwargs not an object", "qwen3", `"chat_template_kwargs": [1]`, "chat_template_kwargs"},
		{"kwargs sets messages", "qwen3", `"chat_template_kwargs": {"messages": []}`, "chat_template_kwargs"},
		{"unknown effort", "qwen3", `"reasoning_effort": "max"`, "reasoning_effort"},
		{"effort wrong type", "qwen3", `"reasoning_effort": 3`, "reasoning_effort"},
		{"negative budget", "qwen3", `"max_thinking_tokens": -1`, "max_thinking_tokens"},
		{"budget without parser", "", `"max_thinking_tokens": 10`, "max_thinking_tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, b := newScriptServer(t, Options{ReasoningParser: tt.parser}, "x")
			resp, body := env.do(t, "POST", "/v1/chat/completions", `{`+msgs+`, `+tt.extra+`}`)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if _, _, param, _ := apiError(t, body); param == nil || *param != tt.param {
				t.Errorf("param %v, want %q: %s", param, tt.param, body)
			}
			if len(b.reqs) != 0 {
				t.Error("a rejected request reached the engine")
			}
		})
	}
}

// TestThinkingBudget runs the real engine (on the fake executor, whose
// tokens never include a marker): max_thinking_tokens ends the thinking
// by forcing </think> after that many tokens, and what follows is the
// answer; streamed and not, the split is the same.
func TestThinkingBudget(t *testing.T) {
	env := newTestEnv(t, Options{ReasoningParser: "deepseek_r1"}, 0)
	req := `{"messages": [{"role": "user", "content": "Once"}], "max_tokens": 30, "max_thinking_tokens": 5, "temperature": 0`
	resp, body := env.do(t, "POST", "/v1/chat/completions", req+`}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var r chatReply
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	msg := r.Choices[0].Message
	if msg.ReasoningContent == nil || *msg.ReasoningContent == "" || msg.Content == nil || *msg.Content == "" {
		t.Fatalf("want both thinking and answer: %s", body)
	}
	if n := len(env.model.Tokenizer.Encode(*msg.ReasoningContent, false, false)); n > 5+2 {
		t.Errorf("thinking is %d tokens; the budget is 5", n)
	}
	resp, body = env.do(t, "POST", "/v1/chat/completions", req+`, "stream": true}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream status %d", resp.StatusCode)
	}
	content, thinking, _ := streamedReply(t, string(body))
	if content != *msg.Content || thinking != *msg.ReasoningContent {
		t.Errorf("streamed %q / %q, not %q / %q", thinking, content, *msg.ReasoningContent, *msg.Content)
	}
	waitIdle(t, env.engine)
}
