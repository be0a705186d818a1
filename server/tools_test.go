package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/chat"
	"github.com/kiln-llm/kiln/engine/chat/toolcall"
	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/grammar"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// scriptBackend answers every request with the same output, in pieces (one
// event each), and records the requests, so that the parsing and the shape
// of the answer are tested on a known model output.
type scriptBackend struct {
	pieces []string
	mu     sync.Mutex
	reqs   []control.Request
}

func (b *scriptBackend) Submit(_ context.Context, r control.Request) (<-chan control.Event, error) {
	b.mu.Lock()
	b.reqs = append(b.reqs, r)
	b.mu.Unlock()
	ch := make(chan control.Event, len(b.pieces)+1)
	for _, p := range b.pieces {
		ch <- control.Event{Text: p, Tokens: []int32{300}}
	}
	ch <- control.Event{Finish: control.FinishStop, Usage: &control.Usage{PromptTokens: len(r.Prompt), CompletionTokens: len(b.pieces)}}
	close(ch)
	return ch, nil
}
func (b *scriptBackend) EndSession(string) bool   { return false }
func (b *scriptBackend) Metrics() control.Metrics { return control.Metrics{} }

// newScriptServer serves a scripted output with the given tool settings.
func newScriptServer(t *testing.T, opts Options, pieces ...string) (*testEnv, *scriptBackend) {
	t.Helper()
	tk := testTokenizer(t)
	opts.Logger = slog.New(slog.DiscardHandler)
	s := New(opts)
	b := &scriptBackend{pieces: pieces}
	m := &Model{ID: "stories", StrictName: true, Created: 1, ContextLen: 4096, Tokenizer: tk, Backend: b}
	s.SetModel(m)
	return &testEnv{srv: s, model: m}, b
}

const weatherTool = `{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
	"parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}}, "required": ["city"]}}}`

func TestToolParamErrors(t *testing.T) {
	msgs := `"messages": [{"role": "user", "content": "x"}]`
	tools := `"tools": [` + weatherTool + `]`
	tests := []struct {
		name     string
		opts     Options
		body     string
		param    string
		contains string
	}{
		{"auto without flags", Options{}, `{` + msgs + `, ` + tools + `}`, "tool_choice", "--enable-auto-tool-choice and --tool-call-parser"},
		{"auto without enable flag", Options{ToolCallParser: "hermes"}, `{` + msgs + `, ` + tools + `, "tool_choice": "auto"}`, "tool_choice", "missing: --enable-auto-tool-choice"},
		{"auto without parser", Options{EnableAutoToolChoice: true}, `{` + msgs + `, ` + tools + `}`, "tool_choice", "missing: --tool-call-parser"},
		{"unknown named tool", Options{}, `{` + msgs + `, ` + tools + `, "tool_choice": {"type": "function", "function": {"name": "get_time"}}}`, "tool_choice", `"get_time" is not one of`},
		{"required without tools", Options{}, `{` + msgs + `, "tool_choice": "required"}`, "tool_choice", "needs tools"},
		{"bad tool_choice", Options{}, `{` + msgs + `, ` + tools + `, "tool_choice": {"type": "function"}}`, "tool_choice", "want"},
		{"tool_choice wrong type", Options{}, `{` + msgs + `, ` + tools + `, "tool_choice": 3}`, "tool_choice", "want"},
		{"pythonic required", Options{ToolCallParser: "pythonic"}, `{` + msgs + `, ` + tools + `, "tool_choice": "required"}`, "tool_choice", "pythonic"},
		{"unsupported keyword in parameters", Options{}, `{` + msgs + `, "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "string", "pattern": "(?<=x)"}}}}}], "tool_choice": "required"}`, "tools", `"pattern"`},
		{"parameters not an object", Options{}, `{` + msgs + `, "tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}], "tool_choice": "required"}`, "tools", "parameters"},
		{"tools wrong type", Options{}, `{` + msgs + `, "tools": {"type": "function"}}`, "tools", "tools"},
		{"tool without name", Options{}, `{` + msgs + `, "tools": [{"type": "function", "function": {}}]}`, "tools", "name"},
		{"required with response_format", Options{}, `{` + msgs + `, ` + tools + `, "tool_choice": "required", "response_format": {"type": "json_object"}}`, "response_format", "cannot be combined"},
		{"parallel_tool_calls wrong type", Options{}, `{` + msgs + `, "parallel_tool_calls": "yes"}`, "parallel_tool_calls", "boolean"},
		{"tool_calls wrong type", Options{}, `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": null, "tool_calls": {"id": "a"}}]}`, "messages[1].tool_calls", "array"},
		{"tool_calls on a user message", Options{}, `{"messages": [{"role": "user", "content": "x", "tool_calls": []}]}`, "messages[0].tool_calls", "assistant"},
		{"tool call without name", Options{}, `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "a", "type": "function", "function": {"arguments": "{}"}}]}]}`, "messages[1].tool_calls[0].function.name", "required"},
		{"tool call arguments wrong type", Options{}, `{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": 5}}]}]}`, "messages[1].tool_calls[0].function.arguments", "string"},
		{"tool message without content", Options{}, `{"messages": [{"role": "user", "content": "x"}, {"role": "tool", "tool_call_id": "a"}]}`, "messages[1].content", "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, b := newScriptServer(t, tt.opts, "x")
			resp, body := env.do(t, "POST", "/v1/chat/completions", tt.body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			msg, typ, param, _ := apiError(t, body)
			if typ != "invalid_request_error" || param == nil || *param != tt.param {
				t.Errorf("type %q param %v, want %q: %s", typ, param, tt.param, body)
			}
			if !strings.Contains(msg, tt.contains) {
				t.Errorf("message %q does not mention %q", msg, tt.contains)
			}
			if len(b.reqs) != 0 {
				t.Errorf("a rejected request reached the engine")
			}
		})
	}
}

// chatAnswer is the part of a chat answer the tool tests read.
type chatAnswer struct {
	Choices []struct {
		Message struct {
			Role      string  `json:"role"`
			Content   *string `json:"content"`
			ToolCalls []struct {
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
}

// TestToolCallsParsed runs scripted model outputs through tool_choice auto:
// calls become tool_calls, other text content, malformed calls content.
func TestToolCallsParsed(t *testing.T) {
	call := `<tool_call>
{"name": "get_weather", "arguments": {"city": "Paris"}}
</tool_call>`
	tests := []struct {
		name     string
		pieces   []string
		extra    string
		content  *string
		calls    []string // name + " " + arguments
		finish   string
		rawCheck func(t *testing.T, body string)
	}{
		{name: "one call", pieces: splitEvery(call, 5), calls: []string{`get_weather {"city":"Paris"}`}, finish: "tool_calls"},
		{name: "text then call", pieces: splitEvery("Let me check.\n"+call, 3), content: ptr("Let me check.\n"), calls: []string{`get_weather {"city":"Paris"}`}, finish: "tool_calls"},
		{name: "two calls", pieces: []string{call, "\n", strings.Replace(call, "Paris", "Rome", 1)}, calls: []string{`get_weather {"city":"Paris"}`, `get_weather {"city":"Rome"}`}, finish: "tool_calls"},
		{name: "two calls, parallel off", pieces: []string{call, "\n", strings.Replace(call, "Paris", "Rome", 1)}, extra: `, "parallel_tool_calls": false`, calls: []string{`get_weather {"city":"Paris"}`}, finish: "tool_calls"},
		{name: "plain text", pieces: []string{"It is ", "sunny."}, content: ptr("It is sunny."), finish: "stop"},
		{name: "malformed call", pieces: []string{"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": ", "</tool_call>"}, content: ptr("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": </tool_call>"), finish: "stop"},
		{name: "truncated call", pieces: []string{"<tool_call>\n{\"name\": \"get_wea"}, content: ptr("<tool_call>\n{\"name\": \"get_wea"), finish: "stop"},
		{name: "tool_choice none", pieces: []string{call}, extra: `, "tool_choice": "none"`, content: ptr(call), finish: "stop"},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(tt.name+map[bool]string{false: "", true: " stream"}[stream], func(t *testing.T) {
				env, _ := newScriptServer(t, Options{ToolCallParser: "hermes", EnableAutoToolChoice: true}, tt.pieces...)
				body := `{"messages": [{"role": "user", "content": "Weather in Paris?"}], "tools": [` + weatherTool + `]` + tt.extra
				if stream {
					body += `, "stream": true`
				}
				resp, b := env.do(t, "POST", "/v1/chat/completions", body+"}")
				if resp.StatusCode != 200 {
					t.Fatalf("status %d: %s", resp.StatusCode, b)
				}
				var content *string
				var calls []string
				var finish string
				if stream {
					content, calls, finish = assembleStream(t, string(b))
				} else {
					var a chatAnswer
					if err := json.Unmarshal(b, &a); err != nil {
						t.Fatal(err)
					}
					m := a.Choices[0].Message
					content, finish = m.Content, a.Choices[0].FinishReason
					for _, c := range m.ToolCalls {
						if c.Type != "function" || !strings.HasPrefix(c.ID, "call_") {
							t.Errorf("call %+v", c)
						}
						calls = append(calls, c.Function.Name+" "+c.Function.Arguments)
					}
					if m.Role != "assistant" {
						t.Errorf("role %q", m.Role)
					}
					if content == nil && !strings.Contains(string(b), `"content":null`) {
						t.Errorf("content absent rather than null: %s", b)
					}
				}
				if (content == nil) != (tt.content == nil) || (content != nil && *content != *tt.content) {
					t.Errorf("content %s, want %s", show(content), show(tt.content))
				}
				if strings.Join(calls, "|") != strings.Join(tt.calls, "|") {
					t.Errorf("calls %q, want %q", calls, tt.calls)
				}
				if finish != tt.finish {
					t.Errorf("finish %q, want %q", finish, tt.finish)
				}
			})
		}
	}
}

// assembleStream checks a streamed chat answer has OpenAI's shape (role
// first; per call a delta with index, id, type and name and empty
// arguments, then argument fragments with the index only) and returns the
// assembled content, calls and finish reason. Content is nil when no
// content delta carried text.
func assembleStream(t *testing.T, body string) (*string, []string, string) {
	t.Helper()
	events := sseEvents(t, strings.NewReader(body))
	if len(events) < 3 || events[len(events)-1] != "[DONE]" {
		t.Fatalf("stream: %q", events)
	}
	var content strings.Builder
	hasContent := false
	type callAcc struct{ name, args string }
	var calls []*callAcc
	finish := ""
	for i, e := range events[:len(events)-1] {
		var ch struct {
			Choices []struct {
				Delta struct {
					Role      string  `json:"role"`
					Content   *string `json:"content"`
					ToolCalls []struct {
						Index    *int   `json:"index"`
						ID       string `json:"id"`
						Type     string `json:"type"`
						Function *struct {
							Name      *string `json:"name"`
							Arguments *string `json:"arguments"`
						} `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Object string `json:"object"`
		}
		if err := json.Unmarshal([]byte(e), &ch); err != nil {
			t.Fatalf("%v: %s", err, e)
		}
		if ch.Object != "chat.completion.chunk" || len(ch.Choices) != 1 {
			t.Fatalf("chunk %s", e)
		}
		d := ch.Choices[0].Delta
		if (i == 0) != (d.Role == "assistant") {
			t.Errorf("chunk %d role %q: the role comes first, once", i, d.Role)
		}
		if finish != "" {
			t.Errorf("chunk after the finish: %s", e)
		}
		if ch.Choices[0].FinishReason != nil {
			finish = *ch.Choices[0].FinishReason
		}
		if d.Content != nil && *d.Content != "" {
			content.WriteString(*d.Content)
			hasContent = true
		}
		for _, tc := range d.ToolCalls {
			if tc.Index == nil || tc.Function == nil || tc.Function.Arguments == nil {
				t.Fatalf("tool call delta without index or function.arguments: %s", e)
			}
			switch {
			case *tc.Index == len(calls): // a new call
				if tc.ID == "" || tc.Type != "function" || tc.Function.Name == nil || *tc.Function.Name == "" || *tc.Function.Arguments != "" {
					t.Errorf("a call's first delta needs id, type, name and empty arguments: %s", e)
				}
				calls = append(calls, &callAcc{name: *tc.Function.Name})
			case *tc.Index == len(calls)-1:
				if tc.ID != "" || tc.Type != "" || tc.Function.Name != nil {
					t.Errorf("an argument fragment carries only index and arguments: %s", e)
				}
				calls[*tc.Index].args += *tc.Function.Arguments
			default:
				t.Fatalf("tool call index %d out of order: %s", *tc.Index, e)
			}
		}
	}
	var out []string
	for _, c := range calls {
		out = append(out, c.name+" "+c.args)
	}
	if !hasContent {
		return nil, out, finish
	}
	s := content.String()
	return &s, out, finish
}

// TestToolHistoryRendered: assistant tool_calls and tool messages reach the
// template, with the tools, for ChatML and a model's own Jinja template.
func TestToolHistoryRendered(t *testing.T) {
	body := `{"messages": [
		{"role": "user", "content": "Weather in Paris?"},
		{"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
		{"role": "tool", "tool_call_id": "call_1", "content": "22 C and sunny"}
	], "tools": [` + weatherTool + `], "tool_choice": "none"}`
	qwen, err := os.ReadFile("../../shared/templates/Qwen-Qwen2.5-7B-Instruct.jinja")
	if err != nil {
		t.Skipf("templates: %v", err)
	}
	qt, err := chat.Parse("qwen2.5", string(qwen))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tmpl func(*Model) ChatTemplate
		want []string
	}{
		{"chatml", func(*Model) ChatTemplate { return nil }, []string{`"name": "get_weather"`, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", "<|im_start|>tool\n22 C and sunny<|im_end|>"}},
		{"qwen2.5", func(m *Model) ChatTemplate { return chat.NewRenderer(qt, m.Tokenizer) }, []string{`"name": "get_weather"`, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>", "<tool_response>\n22 C and sunny\n</tool_response>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, b := newScriptServer(t, Options{}, "It is sunny.")
			env.model.ChatTemplate = tc.tmpl(env.model)
			resp, out := env.do(t, "POST", "/v1/chat/completions", body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, out)
			}
			prompt := env.model.Tokenizer.Decode(b.reqs[0].Prompt)
			for _, w := range tc.want {
				if !strings.Contains(prompt, w) {
					t.Errorf("prompt lacks %q:\n%s", w, prompt)
				}
			}
		})
	}
}

// TestToolFormatsRoundTrip: for every parser with a call grammar, the text
// the grammar allows is what the parser reads back as the same call, and
// the template probe finds each real template's format.
func TestToolFormatsRoundTrip(t *testing.T) {
	tools := []grammar.Tool{{Name: "get_weather", Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`)}}
	for name, f := range toolCallFormats {
		g, err := grammar.ToolCall(tools, f)
		if err != nil {
			t.Fatal(err)
		}
		text := f.Open + f.Prefix + `{"name":"get_weather","` + f.ArgsKey + `":{"city":"Paris"}}` + f.Suffix + f.Close
		if !g.Match([]byte(text)) {
			t.Errorf("%s: the grammar refuses %q", name, text)
		}
		p, err := toolcall.New(name)
		if err != nil {
			t.Fatal(err)
		}
		r := p.Parse(text)
		if r.Content != "" || len(r.Calls) != 1 || r.Calls[0].Name != "get_weather" || r.Calls[0].Arguments != `{"city":"Paris"}` {
			t.Errorf("%s: %q parses as %+v", name, text, r)
		}
		// Parallel calls: what the grammar allows for three calls parses
		// back as three calls.
		f.MaxCalls = 3
		g3, err := grammar.ToolCall(tools, f)
		if err != nil {
			t.Fatal(err)
		}
		call := f.Prefix + `{"name":"get_weather","` + f.ArgsKey + `":{"city":"Paris"}}` + f.Suffix
		three := f.Open + call + f.Sep + call + f.Sep + call + f.Close
		if !g3.Match([]byte(three)) {
			t.Errorf("%s: the grammar refuses three calls %q", name, three)
		}
		if r := p.Parse(three); r.Content != "" || len(r.Calls) != 3 {
			t.Errorf("%s: %q parses as %+v, want 3 calls", name, three, r)
		}
	}
	tk := testTokenizer(t)
	for file, want := range map[string]string{
		"Qwen-Qwen2.5-7B-Instruct.jinja":                    "hermes",
		"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja": "hermes",
		"meta-llama-Llama-3.1-8B-Instruct.jinja":            "llama3_json",
		"mistralai-Mistral-Nemo-Instruct-2407.jinja":        "mistral",
		"google-gemma-2-2b-it.jinja":                        "",
	} {
		src, err := os.ReadFile("../../shared/templates/" + file)
		if err != nil {
			t.Skipf("templates: %v", err)
		}
		tpl, err := chat.Parse(file, string(src))
		if err != nil {
			t.Fatal(err)
		}
		if got := chat.NewRenderer(tpl, tk).ToolFormat(); got != want {
			t.Errorf("%s: tool format %q, want %q", file, got, want)
		}
	}
}

// TestToolChoiceRequiredFake forces calls on the fake model (a random walk
// through the call grammar): every complete answer is parseable calls (one
// for a named function, one or more for "required") whose arguments satisfy
// the tool's schema, streamed or not; an answer cut by max_tokens says
// "length", not "tool_calls".
func TestToolChoiceRequiredFake(t *testing.T) {
	env := newTestEnv(t, Options{ToolCallParser: "hermes"}, 0)
	valid := schemaValidator(t, `{"type": "object", "properties": {"city": {"type": "string", "maxLength": 10}, "unit": {"enum": ["C", "F"]}}, "required": ["city"]}`)
	tool := strings.Replace(weatherTool, `"city": {"type": "string"}`, `"city": {"type": "string", "maxLength": 10}`, 1)
	for _, choice := range []string{`"required"`, `"required", "parallel_tool_calls": false`, `{"type": "function", "function": {"name": "get_weather"}}`} {
		for _, stream := range []bool{false, true} {
			body := `{"messages": [{"role": "user", "content": "Weather?"}], "max_tokens": 100, "seed": 3, "tools": [` + tool + `, {"type": "function", "function": {"name": "get_time"}}], "tool_choice": ` + choice
			if stream {
				body += `, "stream": true`
			}
			resp, b := env.do(t, "POST", "/v1/chat/completions", body+"}")
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			var calls []string
			var finish string
			var content *string
			if stream {
				content, calls, finish = assembleStream(t, string(b))
			} else {
				var a chatAnswer
				if err := json.Unmarshal(b, &a); err != nil {
					t.Fatal(err)
				}
				content, finish = a.Choices[0].Message.Content, a.Choices[0].FinishReason
				for _, c := range a.Choices[0].Message.ToolCalls {
					calls = append(calls, c.Function.Name+" "+c.Function.Arguments)
				}
			}
			if finish == "length" {
				t.Logf("%s: cut by max_tokens", choice)
				continue
			}
			named := strings.HasPrefix(choice, "{")
			single := named || strings.Contains(choice, "parallel_tool_calls")
			if len(calls) == 0 || (single && len(calls) != 1) || finish != "tool_calls" || content != nil {
				t.Fatalf("%s stream=%v: calls %q finish %q content %s", choice, stream, calls, finish, show(content))
			}
			for _, c := range calls {
				name, args, _ := strings.Cut(c, " ")
				if name == "get_weather" {
					if err := valid(args); err != nil {
						t.Errorf("arguments %s: %v", args, err)
					}
				} else if name != "get_time" || named {
					t.Errorf("call of %q", name)
				}
			}
		}
	}
	waitIdle(t, env.engine)
}

func ptr(s string) *string { return &s }

func show(s *string) string {
	if s == nil {
		return "null"
	}
	return `"` + *s + `"`
}

// splitEvery cuts s into pieces of n bytes.
func splitEvery(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

// TestToolMarkersRendered: with a tool-call parser, the control tokens
// that mark calls (Llama 3's <|python_tag|>) are rendered into the text the
// parser reads; other control tokens and requests without a parser are not.
func TestToolMarkersRendered(t *testing.T) {
	f, err := gguf.Open(filepath.Join(filepath.Dir(storiesModel), "../testdata/tiny-llama3-q8_0.gguf"))
	if err != nil {
		t.Skipf("tiny-llama3: %v", err)
	}
	defer f.Close()
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	tag, ok := tok.TokenID("<|python_tag|>")
	if !ok || tok.TokenType(tag) != tokenizer.TokenControl {
		t.Skip("the vocabulary has no <|python_tag|> control token")
	}
	parser, err := toolcall.New("llama3_json")
	if err != nil {
		t.Fatal(err)
	}
	ids := (&toolPlan{parser: parser}).markerTokens(tok)
	if !slices.Equal(ids, []int32{tag}) {
		t.Fatalf("marker tokens %v, want [%d]", ids, tag)
	}
	if got := (&toolPlan{}).markerTokens(tok); got != nil {
		t.Errorf("no parser: marker tokens %v", got)
	}
	call := tok.Encode(`{"name": "f", "parameters": {}}`, false, false)
	d := tok.NewStreamDecoder().RenderTokens(ids)
	text := d.Add(tag) + d.Add(tok.BOS())
	for _, id := range call {
		text += d.Add(id)
	}
	if !strings.HasPrefix(text, "<|python_tag|>") {
		t.Errorf("text %q does not start with the rendered marker", text)
	}
	res := parser.Parse(text)
	if len(res.Calls) != 1 || res.Calls[0].Name != "f" || strings.Contains(res.Content, "begin_of_text") {
		t.Errorf("parsed %q into %+v", text, res)
	}
}
