package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/configs"
)

// The Chinese-LLaMA-Alpaca-2 OpenAI API demo's requests
// (scripts/openai_server_demo/README.md), verbatim; its server listens on
// 19327. Its first chat example writes "message" where OpenAI writes
// "content"; num_beams is HF transformers' beam width.
const (
	alpaca2Completion = `curl http://localhost:19327/v1/completions \
  -H "Content-Type: application/json" \
  -d '{
    "prompt": "告诉我中国的首都在哪里"
  }'`

	alpaca2CompletionAdvanced = `curl http://localhost:19327/v1/completions \
  -H "Content-Type: application/json" \
  -d '{
    "prompt": "告诉我中国和美国分别各有哪些优点缺点",
    "max_tokens": 90,
    "temperature": 0.7,
    "num_beams": 4,
    "top_k": 40
  }'`

	alpaca2Chat = `curl http://localhost:19327/v1/chat/completions \
  -H "Content-Type: application/json" \
  -d '{   
    "messages": [
      {"role": "user","message": "给我讲一些有关杭州的故事吧"}
    ],
    "repetition_penalty": 1.0
  }'`

	alpaca2MultiTurn = `curl http://localhost:19327/v1/chat/completions \
  -H "Content-Type: application/json" \
  -d '{
    "messages": [
      {"role": "user","content": "给我讲一些有关杭州的故事吧"},
      {"role": "assistant","content": "好的，请问您对杭州有什么特别的偏好吗？"},
      {"role": "user","content": "我比较喜欢和西湖，可以给我讲一下西湖吗"}
    ],
    "repetition_penalty": 1.0
  }'`

	alpaca2Embeddings = `curl http://localhost:19327/v1/embeddings \
  -H "Content-Type: application/json" \
  -d '{
    "input": "今天天气真不错"
  }'`
)

// TestSeedAlpaca2: the demo's requests work as written; num_beams runs a
// beam search of that width (deterministic, so the same answer twice,
// whatever the temperature says) and is not silently dropped.
func TestSeedAlpaca2(t *testing.T) {
	// The demo starts its vLLM server with --tokenizer-mode slow and
	// --served-model-name chinese-llama-alpaca-2.
	url := startServe(t, func(c *configs.Config) { c.TokenizerMode, c.ServedModelName = "slow", "chinese-llama-alpaca-2" })
	for _, tc := range []struct{ name, cmd, want string }{
		{"completion", alpaca2Completion, `"object":"text_completion"`},
		{"chat with message", alpaca2Chat, `"role":"assistant"`},
		{"multi-turn chat", alpaca2MultiTurn, `"role":"assistant"`},
		{"embeddings", alpaca2Embeddings, `"object":"embedding"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := runCurl(t, url, tc.cmd)
			if status != 200 || !strings.Contains(body, tc.want) || !strings.Contains(body, `"chinese-llama-alpaca-2"`) {
				t.Errorf("%d %s", status, body)
			}
		})
	}
	t.Run("num_beams", func(t *testing.T) {
		var texts []string
		for range 2 {
			var r struct {
				Choices []struct{ Text string }
			}
			status, body := runCurl(t, url, alpaca2CompletionAdvanced)
			mustJSON(t, status, body, &r)
			if len(r.Choices) != 1 {
				t.Fatalf("choices: %s", body)
			}
			texts = append(texts, r.Choices[0].Text)
		}
		if texts[0] != texts[1] {
			t.Errorf("num_beams 4 is a beam search, deterministic; got %q and %q", texts[0], texts[1])
		}
		// The same search asked for in vLLM's words answers the same.
		var r struct {
			Choices []struct{ Text string }
		}
		status, body := post(t, url+"/v1/completions", `{"prompt": "告诉我中国和美国分别各有哪些优点缺点", "max_tokens": 90, "use_beam_search": true, "best_of": 4}`)
		mustJSON(t, status, body, &r)
		if len(r.Choices) != 1 || r.Choices[0].Text != texts[0] {
			t.Errorf("use_beam_search best_of 4 answered %s; num_beams 4 answered %q", body, texts[0])
		}
	})
	t.Run("message and content both", func(t *testing.T) {
		status, body := post(t, url+"/v1/chat/completions", `{"messages": [{"role": "user", "message": "a", "content": "b"}]}`)
		var e struct {
			Error struct{ Param string }
		}
		if status != 400 || json.Unmarshal([]byte(body), &e) != nil || e.Error.Param != "messages[0].message" {
			t.Errorf("%d %s", status, body)
		}
	})
}
