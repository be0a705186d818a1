package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/configs"
)

// r1Template is DeepSeek-R1's own chat template: its generation prompt
// ends in "<think>\n", so the model's output starts inside the thinking.
const r1Template = "../shared/templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"

// qwen3Template is Qwen3's switch in a minimal ChatML template: with
// enable_thinking false the generation prompt holds an empty thinking.
const qwen3Template = `{%- for m in messages %}<|im_start|>{{ m.role }}
{{ m.content }}<|im_end|>
{% endfor %}{%- if add_generation_prompt %}<|im_start|>assistant
{% if enable_thinking is defined and enable_thinking is false %}<think>

</think>

{% endif %}{%- endif %}`

// streamedChat joins a chat stream's content and reasoning_content.
func streamedChat(t *testing.T, body string) (content, thinking string) {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var ch struct {
			Choices []struct {
				Delta struct {
					Content          string `json:"content"`
					ReasoningContent string `json:"reasoning_content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			t.Fatalf("%v: %s", err, data)
		}
		for _, c := range ch.Choices {
			content += c.Delta.Content
			thinking += c.Delta.ReasoningContent
		}
	}
	return content, thinking
}

// TestServeReasoning serves the tiny model with DeepSeek-R1's template and
// --reasoning-parser deepseek_r1: the model's text (which never writes
// </think> itself) is all thinking; with max_thinking_tokens the server
// forces </think> and the rest is the answer, the same streamed and not,
// and on /v1/messages and /v1/responses as well.
func TestServeReasoning(t *testing.T) {
	if _, err := os.Stat(r1Template); err != nil {
		t.Skipf("template: %v", err)
	}
	url := startServe(t, func(c *configs.Config) { c.ChatTemplate, c.ReasoningParser = r1Template, "deepseek_r1" })
	msgs := `"messages": [{"role": "user", "content": "Once upon a time"}], "temperature": 0, "max_tokens": 24`
	type reply struct {
		Choices []struct {
			Message struct {
				Content          string  `json:"content"`
				ReasoningContent *string `json:"reasoning_content"`
			} `json:"message"`
		} `json:"choices"`
	}
	chat := func(body string) (content, thinking string) {
		code, out := post(t, url+"/v1/chat/completions", body)
		if code != 200 {
			t.Fatalf("status %d: %s", code, out)
		}
		var r reply
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.Choices[0].Message.ReasoningContent != nil {
			thinking = *r.Choices[0].Message.ReasoningContent
		}
		return r.Choices[0].Message.Content, thinking
	}
	content, thinking := chat(`{` + msgs + `}`)
	if content != "" || thinking == "" {
		t.Fatalf("no budget: content %q thinking %q; want all thinking", content, thinking)
	}
	content, thinking = chat(`{` + msgs + `, "max_thinking_tokens": 6}`)
	if content == "" || thinking == "" {
		t.Fatalf("budget 6: content %q thinking %q; want both", content, thinking)
	}
	code, out := post(t, url+"/v1/chat/completions", `{`+msgs+`, "max_thinking_tokens": 6, "stream": true}`)
	if sc, sth := streamedChat(t, out); code != 200 || sc != content || sth != thinking {
		t.Fatalf("streamed %q / %q, not %q / %q", sth, sc, thinking, content)
	}

	code, out = post(t, url+"/v1/messages", `{"model": "stories260K", "max_tokens": 24, "temperature": 0, "thinking": {"type": "enabled", "budget_tokens": 6}, "messages": [{"role": "user", "content": "Once upon a time"}]}`)
	var m struct {
		Content []struct{ Type, Text, Thinking string }
	}
	if err := json.Unmarshal([]byte(out), &m); code != 200 || err != nil || len(m.Content) != 2 ||
		m.Content[0].Type != "thinking" || m.Content[0].Thinking != thinking || m.Content[1].Text != content {
		t.Fatalf("messages %d: %s", code, out)
	}
	code, out = post(t, url+"/v1/responses", `{"input": "Once upon a time", "max_output_tokens": 24, "temperature": 0, "max_thinking_tokens": 6}`)
	var r struct {
		Output []struct {
			Type    string
			Content []struct{ Type, Text string }
		}
		Usage struct {
			OutputTokensDetails struct {
				ReasoningTokens int `json:"reasoning_tokens"`
			} `json:"output_tokens_details"`
		}
	}
	if err := json.Unmarshal([]byte(out), &r); code != 200 || err != nil || len(r.Output) != 2 || r.Output[0].Type != "reasoning" ||
		r.Output[0].Content[0].Text != thinking || r.Output[1].Content[0].Text != content || r.Usage.OutputTokensDetails.ReasoningTokens == 0 {
		t.Fatalf("responses %d: %s", code, out)
	}
}

// TestServeChatTemplateKwargs: chat_template_kwargs reach the template
// (Qwen3's enable_thinking), and with --reasoning-parser qwen3 an answer
// without <think> is all content.
func TestServeChatTemplateKwargs(t *testing.T) {
	tmpl := filepath.Join(t.TempDir(), "qwen3.jinja")
	if err := os.WriteFile(tmpl, []byte(qwen3Template), 0o644); err != nil {
		t.Fatal(err)
	}
	url := startServe(t, func(c *configs.Config) { c.ChatTemplate, c.ReasoningParser = tmpl, "qwen3" })
	usage := func(extra string) (prompt int, content string, thinking *string) {
		code, out := post(t, url+"/v1/chat/completions", `{"messages": [{"role": "user", "content": "Once"}], "max_tokens": 6`+extra+`}`)
		var r struct {
			Choices []struct {
				Message struct {
					Content          string  `json:"content"`
					ReasoningContent *string `json:"reasoning_content"`
				} `json:"message"`
			} `json:"choices"`
			Usage struct {
				PromptTokens int `json:"prompt_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(out), &r); code != 200 || err != nil {
			t.Fatalf("status %d: %s", code, out)
		}
		return r.Usage.PromptTokens, r.Choices[0].Message.Content, r.Choices[0].Message.ReasoningContent
	}
	on, content, thinking := usage("")
	off, _, _ := usage(`, "chat_template_kwargs": {"enable_thinking": false}`)
	if off <= on {
		t.Errorf("enable_thinking false: %d prompt tokens, default %d; want the empty thinking in the prompt", off, on)
	}
	if content == "" || thinking != nil {
		t.Errorf("qwen3 without <think>: content %q thinking %v; want all content", content, thinking)
	}
}
