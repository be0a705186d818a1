package main

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/configs"
	"github.com/kiln-llm/kiln/engine/chat"
)

// TestBuiltinChatTemplateNames keeps the names configs accepts equal to
// engine/chat's built-ins.
func TestBuiltinChatTemplateNames(t *testing.T) {
	if got, want := configs.BuiltinChatTemplates, chat.BuiltinNames(); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Errorf("configs accepts %v, engine/chat has %v", got, want)
	}
}

// TestServeModelChatTemplate serves a model with its own (SmolLM2) chat
// template and with a built-in one: chat completions render, generate and
// report the template's prompt.
func TestServeModelChatTemplate(t *testing.T) {
	const smol = "../shared/testdata/tiny-smollm2-q8_0.gguf"
	if _, err := os.Stat(smol); err != nil {
		t.Skipf("test model: %v", err)
	}
	for _, tmpl := range []string{"", "llama2"} {
		t.Run("template="+tmpl, func(t *testing.T) {
			url := startServe(t, func(c *configs.Config) { c.Model, c.ChatTemplate = smol, tmpl })
			code, body := post(t, url+"/v1/chat/completions", `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello!"}],"max_tokens":4,"temperature":0}`)
			if code != 200 {
				t.Fatalf("status %d: %s", code, body)
			}
			var r struct {
				Usage struct {
					PromptTokens int `json:"prompt_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal([]byte(body), &r); err != nil || r.Usage.PromptTokens == 0 {
				t.Fatalf("response %s: %v", body, err)
			}
		})
	}
	if err := func() error {
		cfg := configs.Defaults()
		cfg.Model, cfg.ChatTemplate = smol, "no-such-template"
		return cfg.Validate()
	}(); err == nil || !strings.Contains(err.Error(), "chat_template") {
		t.Errorf("unknown template name: %v, want an error naming chat_template", err)
	}
}
