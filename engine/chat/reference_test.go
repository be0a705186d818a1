package chat

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/engine/gguf"
)

const sharedDir = "../../../shared"

// refCase is one line of ../shared/testdata/chat-*.jsonl.
type refCase struct {
	Name                string            `json:"name"`
	Messages            []json.RawMessage `json:"messages"`
	Tools               []json.RawMessage `json:"tools"`
	AddGenerationPrompt bool              `json:"add_generation_prompt"`
	ExtraVars           json.RawMessage   `json:"extra_vars"`
	StrftimeNowUTC      string            `json:"strftime_now_utc"`
	BOSToken            string            `json:"bos_token"`
	EOSToken            string            `json:"eos_token"`
	Prompt              string            `json:"prompt"`
	// golden.jsonl only: the template file and, when Python's jinja2
	// failed, its error instead of a prompt.
	Template string `json:"template"`
	Error    string `json:"error"`
}

// wireMessage is the OpenAI JSON shape of a message, as the server receives it.
type wireMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	Name       string          `json:"name"`
	ToolCallID string          `json:"tool_call_id"`
	ToolCalls  []struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

// toMessage maps a wire message onto Message the way the server will.
func toMessage(t *testing.T, raw json.RawMessage) Message {
	t.Helper()
	var w wireMessage
	if err := json.Unmarshal(raw, &w); err != nil {
		t.Fatal(err)
	}
	m := Message{Role: w.Role, Name: w.Name, ToolCallID: w.ToolCallID}
	var s string
	var parts []struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		ImageURL struct {
			URL string `json:"url"`
		} `json:"image_url"`
	}
	switch {
	case len(w.Content) == 0 || string(w.Content) == "null":
	case json.Unmarshal(w.Content, &s) == nil:
		m.Content = s
	case json.Unmarshal(w.Content, &parts) == nil:
		cp := make([]ContentPart, len(parts))
		for i, p := range parts {
			cp[i] = ContentPart{Type: p.Type, Text: p.Text, ImageURL: p.ImageURL.URL}
		}
		m.Content = cp
	default:
		t.Fatalf("content %s", w.Content)
	}
	for _, tc := range w.ToolCalls {
		var args any = tc.Function.Arguments
		var str string
		if json.Unmarshal(tc.Function.Arguments, &str) == nil {
			args = str
		}
		m.ToolCalls = append(m.ToolCalls, ToolCall{ID: tc.ID, Type: tc.Type,
			Function: FunctionCall{Name: tc.Function.Name, Arguments: args}})
	}
	return m
}

// renderOptions builds the options of a reference case.
func (c *refCase) renderOptions(t *testing.T) RenderOptions {
	t.Helper()
	opts := RenderOptions{AddGenerationPrompt: c.AddGenerationPrompt, BOSToken: c.BOSToken, EOSToken: c.EOSToken}
	for _, m := range c.Messages {
		opts.Messages = append(opts.Messages, toMessage(t, m))
	}
	if c.Tools != nil {
		for _, tool := range c.Tools {
			opts.Tools = append(opts.Tools, tool)
		}
	}
	if len(c.ExtraVars) > 0 && string(c.ExtraVars) != "null" {
		if err := json.Unmarshal(c.ExtraVars, &opts.ExtraVars); err != nil {
			t.Fatal(err)
		}
	}
	if c.StrftimeNowUTC != "" {
		now, err := time.Parse(time.RFC3339, c.StrftimeNowUTC)
		if err != nil {
			t.Fatal(err)
		}
		opts.Now = func() time.Time { return now }
	}
	return opts
}

func readRefCases(t *testing.T, path string) []refCase {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("reference data not available: %v", err)
	}
	defer f.Close()
	var cases []refCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var c refCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, c)
	}
	return cases
}

// TestReferenceRenderings is the acceptance test: every conversation of
// ../shared/testdata/chat-*.jsonl, rendered with the template from the
// matching model's GGUF metadata, equals the reference byte for byte.
func TestReferenceRenderings(t *testing.T) {
	for _, ref := range []struct{ jsonl, model string }{
		{"chat-llama32.jsonl", "tiny-llama3-q8_0.gguf"},
		{"chat-smollm2.jsonl", "tiny-smollm2-q8_0.gguf"},
		{"chat-chatml.jsonl", "tiny-qwen2-q8_0.gguf"},
	} {
		t.Run(ref.jsonl, func(t *testing.T) {
			cases := readRefCases(t, filepath.Join(sharedDir, "testdata", ref.jsonl))
			f, err := gguf.Open(filepath.Join(sharedDir, "testdata", ref.model))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tpl, err := FromGGUF(f)
			if err != nil {
				t.Fatal(err)
			}
			pass := 0
			for _, c := range cases {
				t.Run(c.Name, func(t *testing.T) {
					got, err := tpl.Render(c.renderOptions(t))
					if err != nil {
						t.Fatal(err)
					}
					if got != c.Prompt {
						t.Fatalf("rendering differs\n got: %q\nwant: %q", got, c.Prompt)
					}
					pass++
				})
			}
			t.Logf("%s: %d/%d renderings match byte for byte", ref.jsonl, pass, len(cases))
		})
	}
}
