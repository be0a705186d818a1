package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// interactiveParam is the interactive API's name for a /set parameter:
// LMDeploy spells two of OpenAI's names its own way and takes only these
// sampling parameters (ok false: the API has no such parameter).
func interactiveParam(name string) (string, bool) {
	switch name {
	case "max_tokens", "request_output_len":
		return "request_output_len", true
	case "min_tokens", "min_new_tokens":
		return "min_new_tokens", true
	case "temperature", "top_p", "top_k", "min_p", "repetition_penalty", "ignore_eos", "seed", "stop":
		return name, true
	}
	return "", false
}

// stream sends the turn whose user message (text) ends c.history and
// prints the answer as it arrives.
func (c *chatClient) stream(ctx context.Context, text string) (chatMessage, answerStats, error) {
	if c.session {
		return c.streamInteractive(ctx, text)
	}
	return c.streamChat(ctx)
}

// streamChat is one /v1/chat/completions stream over the whole history.
func (c *chatClient) streamChat(ctx context.Context) (ans chatMessage, st answerStats, err error) {
	ans = chatMessage{Role: "assistant"}
	msgs := make([]map[string]any, 0, len(c.history)+1)
	if c.system != "" {
		msgs = append(msgs, map[string]any{"role": "system", "content": c.system})
	}
	for _, m := range c.history {
		msgs = append(msgs, map[string]any{"role": m.Role, "content": m.Content})
	}
	body := map[string]any{}
	for k, v := range c.params {
		body[k] = v
	}
	body["messages"], body["stream"] = msgs, true
	body["stream_options"] = map[string]any{"include_usage": true}
	if c.model != "" {
		body["model"] = c.model
	}
	resp, err := c.post(ctx, "/v1/chat/completions", body)
	if err != nil {
		return ans, st, err
	}
	defer resp.Body.Close()
	start, first, last := time.Now(), time.Time{}, time.Time{}
	deltas, usage := 0, -1 // usage: completion_tokens once the server tells
	defer func() {
		st.tokens = deltas
		if usage >= 0 {
			st.tokens = usage
		}
	}()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		data = strings.TrimSpace(data)
		if data == "[DONE]" {
			break
		}
		var chunk struct {
			Choices []struct {
				Delta struct {
					Content   string `json:"content"`
					ToolCalls []struct {
						Index    int `json:"index"`
						Function struct {
							Name      string `json:"name"`
							Arguments string `json:"arguments"`
						} `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Usage *struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
			Error *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			return ans, st, fmt.Errorf("bad event %q: %w", data, err)
		}
		if chunk.Error != nil {
			return ans, st, fmt.Errorf("server: %s", chunk.Error.Message)
		}
		if chunk.Usage != nil {
			usage = chunk.Usage.CompletionTokens
		}
		for _, ch := range chunk.Choices {
			d := ch.Delta
			if d.Content != "" || len(d.ToolCalls) > 0 {
				last = time.Now()
				if first.IsZero() {
					first = last
				}
				deltas++
			}
			fmt.Fprint(c.out, d.Content)
			ans.Content += d.Content
			for _, tc := range d.ToolCalls {
				if tc.Index < 0 || tc.Index > 64 {
					return ans, st, fmt.Errorf("bad tool call index %d", tc.Index)
				}
				for len(ans.ToolCalls) <= tc.Index {
					ans.ToolCalls = append(ans.ToolCalls, toolCall{})
				}
				call := &ans.ToolCalls[tc.Index]
				if tc.Function.Name != "" {
					call.Name = tc.Function.Name
					fmt.Fprintf(c.out, "\n[tool call] %s ", call.Name)
				}
				call.Arguments += tc.Function.Arguments
				fmt.Fprint(c.out, tc.Function.Arguments)
			}
			if ch.FinishReason != nil {
				st.finish = *ch.FinishReason
			}
		}
	}
	if !first.IsZero() {
		st.ttft, st.decode = first.Sub(start), last.Sub(first)
	}
	if err := sc.Err(); err != nil {
		return ans, st, err
	}
	return ans, st, ctx.Err()
}

// streamInteractive is one turn of an LMDeploy interactive session: only
// the new message is sent (with the system prompt on the first turn); the
// server keeps the history and its K/V.
func (c *chatClient) streamInteractive(ctx context.Context, text string) (chatMessage, answerStats, error) {
	ans := chatMessage{Role: "assistant"}
	var st answerStats
	body := map[string]any{}
	for k, v := range c.params {
		if n, ok := interactiveParam(k); ok {
			body[n] = v
		}
	}
	var prompt any = text
	if c.system != "" && !c.sentSys {
		prompt = []map[string]string{{"role": "system", "content": c.system}, {"role": "user", "content": text}}
	}
	body["prompt"], body["session_id"], body["interactive_mode"], body["stream"] = prompt, c.sessionID, true, true
	resp, err := c.post(ctx, "/v1/chat/interactive", body)
	if err != nil {
		return ans, st, err
	}
	defer resp.Body.Close()
	c.sentSys = true
	start, first, last := time.Now(), time.Time{}, time.Time{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var line struct {
			Text          string  `json:"text"`
			Tokens        int     `json:"tokens"`
			InputTokens   int     `json:"input_tokens"`
			HistoryTokens int     `json:"history_tokens"`
			FinishReason  *string `json:"finish_reason"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return ans, st, fmt.Errorf("bad line %q: %w", sc.Text(), err)
		}
		if line.Text != "" {
			last = time.Now()
			if first.IsZero() {
				first = last
			}
		}
		fmt.Fprint(c.out, line.Text)
		ans.Content += line.Text
		st.tokens, st.input, st.history = line.Tokens, line.InputTokens, line.HistoryTokens
		if line.FinishReason != nil {
			st.finish = *line.FinishReason
		}
	}
	if !first.IsZero() {
		st.ttft, st.decode = first.Sub(start), last.Sub(first)
	}
	if err := sc.Err(); err != nil {
		return ans, st, err
	}
	return ans, st, ctx.Err()
}

// endSession ends the server's session (LMDeploy: an empty prompt with
// interactive_mode false), freeing its K/V; nothing without --session.
func (c *chatClient) endSession(ctx context.Context) {
	if !c.session {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	resp, err := c.post(ctx, "/v1/chat/interactive", map[string]any{"session_id": c.sessionID, "prompt": "", "interactive_mode": false})
	if err != nil {
		fmt.Fprintln(c.out, "warning: ending the session:", err)
		return
	}
	resp.Body.Close()
}

// post sends body as JSON; a status other than 200 is an error carrying
// the server's message.
func (c *chatClient) post(ctx context.Context, path string, body any) (*http.Response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return c.do(req)
}

func (c *chatClient) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func (c *chatClient) do(req *http.Request) (*http.Response, error) {
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			return nil, fmt.Errorf("%s: %s", resp.Status, e.Error.Message)
		}
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}
