package server

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestInteractiveCancel(t *testing.T) {
	env := newTestEnv(t, Options{}, 5*time.Millisecond)
	done := make(chan string, 1)
	go func() {
		_, b := env.do(t, "POST", "/v1/chat/interactive", `{"prompt":"Hi","session_id":3,"interactive_mode":true,"request_output_len":400}`)
		done <- string(b)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for env.engine.Metrics().Running == 0 {
		if time.Now().After(deadline) {
			t.Fatal("never started")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if resp, b := env.do(t, "POST", "/v1/chat/interactive", `{"prompt":"Again","session_id":3,"interactive_mode":true}`); resp.StatusCode != 409 {
		t.Errorf("busy session: %d %s", resp.StatusCode, b)
	}
	if resp, b := env.do(t, "POST", "/v1/chat/interactive", `{"session_id":3,"cancel":true}`); resp.StatusCode != 200 {
		t.Errorf("cancel: %d %s", resp.StatusCode, b)
	}
	if b := <-done; !strings.Contains(b, `"finish_reason":"abort"`) {
		t.Errorf("cancelled turn answered %s", b)
	}
	waitIdle(t, env.engine)
}

func TestInteractiveSession(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	type reply struct {
		Text          string
		Tokens        int
		InputTokens   int    `json:"input_tokens"`
		HistoryTokens int    `json:"history_tokens"`
		FinishReason  string `json:"finish_reason"`
	}
	turn := func(body string) reply {
		t.Helper()
		resp, b := env.do(t, "POST", "/v1/chat/interactive", body)
		var r reply
		if resp.StatusCode != 200 || json.Unmarshal(b, &r) != nil {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		return r
	}
	r1 := turn(`{"prompt":"Hi","session_id":7,"interactive_mode":true,"request_output_len":4}`)
	if r1.HistoryTokens != 0 || r1.Tokens != 4 || r1.FinishReason != "length" {
		t.Fatalf("turn 1: %+v", r1)
	}
	r2 := turn(`{"prompt":"More","session_id":7,"interactive_mode":true,"request_output_len":4}`)
	if r2.HistoryTokens != r1.InputTokens+r1.Tokens {
		t.Fatalf("turn 2 history %d, want %d", r2.HistoryTokens, r1.InputTokens+r1.Tokens)
	}
	m := waitIdle(t, env.engine)
	if m.Sessions != 1 || m.KV.PrefixHits == 0 && m.PromptTokens == 0 {
		t.Errorf("session not kept: %+v", m)
	}
	// Streamed turn: newline-delimited JSON.
	resp, b := env.do(t, "POST", "/v1/chat/interactive", `{"prompt":"End","session_id":7,"stream":true,"request_output_len":3}`)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if resp.StatusCode != 200 || !strings.Contains(lines[len(lines)-1], `"finish_reason":"length"`) {
		t.Fatalf("stream: %s", b)
	}
	// Without interactive_mode the session ended after that turn.
	r4 := turn(`{"prompt":"New","session_id":7,"interactive_mode":true,"request_output_len":2}`)
	if r4.HistoryTokens != 0 {
		t.Errorf("session not ended: %+v", r4)
	}
	turn(`{"prompt":"","session_id":7}`)
	if m := waitIdle(t, env.engine); m.Sessions != 0 {
		t.Errorf("sessions %d after end", m.Sessions)
	}
}

// TestInteractiveEndSession: LMDeploy's end of a session (an empty
// prompt with interactive_mode false, with or without request_output_len
// 0) generates nothing, ends the session and frees its K/V; the same
// request on a session without history answers at once too.
func TestInteractiveEndSession(t *testing.T) {
	for _, end := range []string{
		`{"prompt":"","session_id":5,"interactive_mode":false}`,
		`{"prompt":"","session_id":5,"interactive_mode":false,"request_output_len":0}`,
		`{"prompt":[],"session_id":5}`,
		`{"session_id":5}`,
	} {
		t.Run(end, func(t *testing.T) {
			env := newTestEnv(t, Options{}, 0)
			if resp, b := env.do(t, "POST", "/v1/chat/interactive", `{"prompt":"Hi","session_id":5,"interactive_mode":true,"request_output_len":3}`); resp.StatusCode != 200 {
				t.Fatalf("turn: %d %s", resp.StatusCode, b)
			}
			before := waitIdle(t, env.engine)
			if before.Sessions != 1 || before.KV.UsedBlocks == 0 {
				t.Fatalf("session not kept: %+v", before)
			}
			resp, b := env.do(t, "POST", "/v1/chat/interactive", end)
			var r struct {
				Text          string
				Tokens        int
				HistoryTokens int    `json:"history_tokens"`
				FinishReason  string `json:"finish_reason"`
			}
			if resp.StatusCode != 200 || json.Unmarshal(b, &r) != nil || r.Tokens != 0 || r.Text != "" || r.HistoryTokens != 0 || r.FinishReason != "stop" {
				t.Fatalf("end: %d %s", resp.StatusCode, b)
			}
			after := waitIdle(t, env.engine)
			if after.Sessions != 0 || after.KV.UsedBlocks != 0 || after.GeneratedTokens != before.GeneratedTokens {
				t.Errorf("after the end: sessions %d, used blocks %d, generated %d -> %d", after.Sessions, after.KV.UsedBlocks, before.GeneratedTokens, after.GeneratedTokens)
			}
			// The session starts afresh.
			resp, b = env.do(t, "POST", "/v1/chat/interactive", `{"prompt":"New","session_id":5,"interactive_mode":true,"request_output_len":2}`)
			if resp.StatusCode != 200 || !strings.Contains(string(b), `"history_tokens":0`) {
				t.Errorf("new turn: %d %s", resp.StatusCode, b)
			}
			waitIdle(t, env.engine)
		})
	}
}

// TestInteractiveErrorsNameSentFields: every 400 of the interactive
// endpoint names the field as the client sent it (LMDeploy's names),
// never an OpenAI name it did not send.
func TestInteractiveErrorsNameSentFields(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	for _, tc := range []struct{ body, param string }{
		{`{"prompt":"Hi","session_id":5,"interactive_mode":true,"request_output_len":0}`, "request_output_len"},
		{`{"prompt":"Hi","request_output_len":0}`, "request_output_len"},
		{`{"prompt":"Hi","request_output_len":-1}`, "request_output_len"},
		{`{"prompt":"Hi","request_output_len":"ten"}`, "request_output_len"},
		{`{"prompt":"Hi","request_output_len":100000}`, "request_output_len"},
		{`{"prompt":"Hi","min_new_tokens":-1}`, "min_new_tokens"},
		{`{"prompt":"Hi","min_new_tokens":5,"request_output_len":2}`, "min_new_tokens"},
		{`{"prompt":[{"role":"robot","content":"x"}]}`, "prompt[0].role"},
		{`{"prompt":[{"role":"user"}]}`, "prompt[0].content"},
		{`{"prompt":[{"role":"user","content":"x","tool_calls":[]}]}`, "prompt[0].tool_calls"},
		{`{"prompt":{"role":"user"}}`, "prompt"},
		{`{"prompt":"` + strings.Repeat("once upon a time ", 200) + `"}`, "prompt"},
		{`{"session_id":-1,"cancel":true}`, "session_id"},
		{`{"prompt":"Hi","top_p":0}`, "top_p"},
		{`{"prompt":"Hi","stop":[1]}`, "stop"},
	} {
		t.Run(tc.body[:min(len(tc.body), 80)], func(t *testing.T) {
			resp, b := env.do(t, "POST", "/v1/chat/interactive", tc.body)
			if resp.StatusCode != 400 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			msg, _, param, _ := apiError(t, b)
			if param == nil || *param != tc.param {
				t.Errorf("param %v, want %q: %s", param, tc.param, b)
			}
			for _, foreign := range []string{"max_tokens", "min_tokens", "messages[", "messages:"} {
				if strings.Contains(msg, foreign) {
					t.Errorf("message names %s, which the client did not send: %s", foreign, msg)
				}
			}
		})
	}
	waitIdle(t, env.engine)
}
