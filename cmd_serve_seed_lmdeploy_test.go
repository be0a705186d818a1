package main

import (
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/configs"
)

// LMDeploy's api_server examples (docs/en/llm/api_server.md, "cURL"),
// verbatim: {server_ip}:{server_port} is the test server.
const (
	lmdeployModels = `curl http://{server_ip}:{server_port}/v1/models`

	lmdeployInteractive = `curl http://{server_ip}:{server_port}/v1/chat/interactive \
  -H "Content-Type: application/json" \
  -d '{
    "prompt": "Hello! How are you?",
    "session_id": 1,
    "interactive_mode": true
  }'`

	lmdeployChat = `curl http://{server_ip}:{server_port}/v1/chat/completions \
  -H "Content-Type: application/json" \
  -d '{
    "model": "internlm-chat-7b",
    "messages": [{"role": "user", "content": "Hello! How are you?"}]
  }'`

	lmdeployCompletions = `curl http://{server_ip}:{server_port}/v1/completions \
  -H 'Content-Type: application/json' \
  -d '{
  "model": "llama",
  "prompt": "two steps to build a house:"
}'`
)

// interactiveReply is /v1/chat/interactive's answer.
type interactiveReply struct {
	Text          string  `json:"text"`
	Tokens        int     `json:"tokens"`
	InputTokens   int     `json:"input_tokens"`
	HistoryTokens int     `json:"history_tokens"`
	FinishReason  *string `json:"finish_reason"`
}

// TestSeedLMDeploy: LMDeploy's documented curls, verbatim.
func TestSeedLMDeploy(t *testing.T) {
	url := startServe(t, nil)
	for _, tc := range []struct{ name, cmd, want string }{
		{"models", lmdeployModels, `"id":"stories260K"`},
		{"interactive", lmdeployInteractive, `"finish_reason":`},
		{"interactive again", lmdeployInteractive, `"finish_reason":`},
		{"chat", lmdeployChat, `"role":"assistant"`},
		{"completions", lmdeployCompletions, `"object":"text_completion"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := runCurl(t, url, tc.cmd)
			if status != 200 || !strings.Contains(body, tc.want) {
				t.Errorf("%d %s", status, body)
			}
		})
	}
}

// TestSeedLMDeployFAQ: the behaviours LMDeploy's api_server FAQ promises.
//  1. "When user got "finish_reason":"length", it means the session is
//     too long to be continued."
//  3. "... please consider setting interactive_mode=false to restart the
//     session."
//  4. "The /v1/chat/interactive api disables engaging in multiple rounds
//     of conversation by default."
func TestSeedLMDeployFAQ(t *testing.T) {
	url := startServe(t, func(c *configs.Config) { c.SessionLen = 160 })
	turn := func(body string) interactiveReply {
		t.Helper()
		var r interactiveReply
		status, b := post(t, url+"/v1/chat/interactive", body)
		mustJSON(t, status, b, &r)
		return r
	}
	// 4: without interactive_mode no history is kept.
	for range 2 {
		if r := turn(`{"prompt": "Hello! How are you?", "session_id": 7, "request_output_len": 8}`); r.HistoryTokens != 0 {
			t.Errorf("history %d without interactive_mode", r.HistoryTokens)
		}
	}
	// 1: turns fill the 160-token session until one is answered with
	// finish_reason "length"; the history never exceeds the session.
	full := false
	hist := 0
	for i := 0; i < 10 && !full; i++ {
		r := turn(`{"prompt": "Hello! How are you?", "session_id": 8, "interactive_mode": true, "request_output_len": 16, "temperature": 0}`)
		if r.FinishReason == nil {
			t.Fatalf("turn %d: no finish_reason", i)
		}
		if r.HistoryTokens+r.InputTokens+r.Tokens > 160 {
			t.Errorf("turn %d: %d+%d+%d tokens exceed the session", i, r.HistoryTokens, r.InputTokens, r.Tokens)
		}
		if i > 0 && r.HistoryTokens != hist {
			t.Errorf("turn %d: history %d, want %d", i, r.HistoryTokens, hist)
		}
		hist = r.HistoryTokens + r.InputTokens + r.Tokens
		full = *r.FinishReason == "length" && r.HistoryTokens > 0
	}
	if !full {
		t.Fatal("the session never reported finish_reason length")
	}
	// Still full: the same answer, the history kept.
	if r := turn(`{"prompt": "Hello! How are you?", "session_id": 8, "interactive_mode": true, "request_output_len": 16}`); r.FinishReason == nil || *r.FinishReason != "length" {
		t.Errorf("full session answered %+v", r)
	}
	// 3: interactive_mode false (an empty prompt) ends it; it starts over.
	turn(`{"prompt": "", "session_id": 8, "interactive_mode": false}`)
	if r := turn(`{"prompt": "Hello! How are you?", "session_id": 8, "interactive_mode": true, "request_output_len": 16}`); r.HistoryTokens != 0 || r.Tokens == 0 {
		t.Errorf("restarted session: %+v", r)
	}
	// A streamed turn on a full session ends with the same line.
	for range 10 {
		status, b := post(t, url+"/v1/chat/interactive", `{"prompt": "Hello! How are you?", "session_id": 8, "interactive_mode": true, "request_output_len": 16, "stream": true}`)
		if status != 200 {
			t.Fatalf("%d %s", status, b)
		}
		lines := strings.Split(strings.TrimSpace(b), "\n")
		if strings.Contains(lines[len(lines)-1], `"text":"","tokens":0`) && strings.Contains(lines[len(lines)-1], `"finish_reason":"length"`) {
			return
		}
	}
	t.Error("a streamed turn on a full session never answered finish_reason length")
}
