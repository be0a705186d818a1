package main

import (
	"strings"
	"testing"
)

// FastChat's cURL examples (docs/openai_api.md, "cURL"), verbatim.
var fastchatCurls = []struct{ name, cmd, want string }{
	{"models", `curl http://localhost:8000/v1/models`, `"object":"list"`},
	{"chat", `curl http://localhost:8000/v1/chat/completions \
  -H "Content-Type: application/json" \
  -d '{
    "model": "vicuna-7b-v1.3",
    "messages": [{"role": "user", "content": "Hello! What is your name?"}]
  }'`, `"object":"chat.completion"`},
	{"completions", `curl http://localhost:8000/v1/completions \
  -H "Content-Type: application/json" \
  -d '{
    "model": "vicuna-7b-v1.3",
    "prompt": "Once upon a time",
    "max_tokens": 41,
    "temperature": 0.5
  }'`, `"completion_tokens":41`},
	{"embeddings", `curl http://localhost:8000/v1/embeddings \
  -H "Content-Type: application/json" \
  -d '{
    "model": "vicuna-7b-v1.3",
    "input": "Hello world!"
  }'`, `"object":"embedding"`},
}

// TestSeedFastChat: FastChat's documented curls against kiln serve, sent
// as written (only the port differs); the model is named vicuna.
func TestSeedFastChat(t *testing.T) {
	url := startServe(t, nil)
	for _, tc := range fastchatCurls {
		t.Run(tc.name, func(t *testing.T) {
			status, body := runCurl(t, url, tc.cmd)
			if status != 200 || !strings.Contains(body, tc.want) {
				t.Errorf("%d %s", status, body)
			}
		})
	}
}
