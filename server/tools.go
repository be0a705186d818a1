package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kiln-llm/kiln/engine/chat/toolcall"
	"github.com/kiln-llm/kiln/engine/grammar"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/server/openai"
)

// toolCallFormats is how each parser's dialect writes one call, for the
// grammar of tool_choice required or a named function: the grammar writes
// exactly the text the parser reads back. Hermes and Qwen2.5 put the JSON
// on its own line between the tags, as their chat templates render calls;
// Llama 3 writes a bare object with "parameters"; Mistral (tokenizer v3) a
// one-element array after [TOOL_CALLS]. Pythonic calls are Python, not
// JSON, so no JSON-schema grammar writes them (see planTools).
var toolCallFormats = map[string]grammar.ToolCallFormat{
	"hermes":      {Prefix: "<tool_call>\n", Suffix: "\n</tool_call>", Sep: "\n", ArgsKey: "arguments"},
	"qwen2.5":     {Prefix: "<tool_call>\n", Suffix: "\n</tool_call>", Sep: "\n", ArgsKey: "arguments"},
	"llama3_json": {Sep: ";", ArgsKey: "parameters"},
	"mistral":     {Open: "[TOOL_CALLS][", Close: "]", Sep: ",", ArgsKey: "arguments"},
}

// maxForcedCalls bounds the calls a forced tool_choice may make when
// parallel_tool_calls allows several (OpenAI's default), so that a weak
// model cannot chain calls until max_tokens.
const maxForcedCalls = 8

// toolPlan is how a chat request uses tools.
type toolPlan struct {
	tools  []json.RawMessage // for the chat template
	choice string            // none, auto, required or function
	// parser reads tool calls out of the output; nil when none are parsed
	// (no tools, or tool_choice none).
	parser toolcall.Parser
	// grammar forces one call (required or named); nil otherwise.
	grammar *grammar.Grammar
	// single keeps only the first call (parallel_tool_calls false).
	single bool
}

// parseToolChoice reads tool_choice: "none", "auto", "required" or
// {"type":"function","function":{"name":...}}; absent gives "".
func parseToolChoice(raw json.RawMessage) (choice, name string, err error) {
	if isNull(raw) {
		return "", "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s != "none" && s != "auto" && s != "required" {
			return "", "", badParam("tool_choice", `tool_choice: %q; want "none", "auto", "required" or a function`, s)
		}
		return s, "", nil
	}
	var obj struct {
		Type     string `json:"type"`
		Function *struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Type == "function" && obj.Function != nil && obj.Function.Name != "" {
		return "function", obj.Function.Name, nil
	}
	return "", "", badParam("tool_choice", `tool_choice: want "none", "auto", "required" or {"type":"function","function":{"name":...}}`)
}

// planTools validates a chat request's tools against the server's tool
// settings, as vLLM does: tool_choice defaults to "auto" when tools are
// given; "auto" needs --enable-auto-tool-choice and --tool-call-parser;
// "required" and a named function force one call with a grammar in the
// parser's format (from --tool-call-parser, else from the chat template);
// "none" parses no calls but, as vLLM's default, still shows the tools to
// the template.
func (s *Server) planTools(req *openai.ChatRequest, m *Model) (*toolPlan, error) {
	choice, name, err := parseToolChoice(req.ToolChoice)
	if err != nil {
		return nil, err
	}
	p := &toolPlan{single: req.ParallelToolCalls != nil && !*req.ParallelToolCalls}
	if len(req.Tools) == 0 {
		if choice == "required" || choice == "function" {
			return nil, badParam("tool_choice", "tool_choice: %s needs tools; the request has none", choiceText(choice, name))
		}
		return p, nil
	}
	if choice == "" {
		choice = "auto"
	}
	p.choice = choice
	for _, t := range req.Tools {
		p.tools = append(p.tools, toolJSON(t))
	}
	switch choice {
	case "none":
		return p, nil
	case "auto":
		var missing []string
		if !s.opts.EnableAutoToolChoice {
			missing = append(missing, "--enable-auto-tool-choice")
		}
		if s.opts.ToolCallParser == "" {
			missing = append(missing, "--tool-call-parser")
		}
		if len(missing) > 0 {
			return nil, badParam("tool_choice", `tool_choice: "auto" (the default when tools are given) requires the server to run with --enable-auto-tool-choice and --tool-call-parser; missing: %s. Use tool_choice "required", a named function or "none" instead`, strings.Join(missing, " and "))
		}
		p.parser, err = toolcall.New(s.opts.ToolCallParser)
		return p, err
	}
	format := s.opts.ToolCallParser
	if format == "" {
		tmpl, err := m.template()
		if err != nil {
			return nil, err
		}
		format = tmpl.ToolFormat()
	}
	if format == "" {
		return nil, badParam("tool_choice", "tool_choice: %s needs to know the model's tool-call format, and the chat template does not show it; start the server with --tool-call-parser (one of %s)", choiceText(choice, name), strings.Join(toolcall.Names(), ", "))
	}
	f, ok := toolCallFormats[format]
	if !ok {
		return nil, badParam("tool_choice", "tool_choice: %s is not supported with the %s tool-call format (its calls are Python, not JSON a schema grammar can enforce); use tool_choice auto", choiceText(choice, name), format)
	}
	// "required" may call several tools unless parallel_tool_calls is false;
	// a named function is called once.
	f.MaxCalls = 1
	if choice == "required" && !p.single {
		f.MaxCalls = maxForcedCalls
	}
	var tools []grammar.Tool
	for _, t := range req.Tools {
		if choice == "function" && t.Function.Name != name {
			continue
		}
		tools = append(tools, grammar.Tool{Name: t.Function.Name, Parameters: t.Function.Parameters})
	}
	if len(tools) == 0 {
		return nil, badParam("tool_choice", "tool_choice: function %q is not one of the request's tools", name)
	}
	key, _ := json.Marshal(struct {
		F grammar.ToolCallFormat
		T []grammar.Tool
	}{f, tools})
	p.grammar, err = s.compileGrammar("tool", key, "tools", "tools: function parameters", func(ctx context.Context, l grammar.Limits) (*grammar.Grammar, error) {
		return l.ToolCall(ctx, tools, f)
	})
	if err != nil {
		return nil, err
	}
	p.parser, err = toolcall.New(format)
	return p, err
}

// toolMarkers are tool-call markers that vocabularies hold as control
// tokens, which the engine leaves out of the text unless asked.
var toolMarkers = []string{"<|python_tag|>", "[TOOL_CALLS]", "[ARGS]"}

// markerTokens lists the control tokens of tok the plan's parser must see
// in the text (none when nothing is parsed).
func (p *toolPlan) markerTokens(tok *tokenizer.Tokenizer) []int32 {
	if p.parser == nil {
		return nil
	}
	var ids []int32
	for _, m := range toolMarkers {
		if id, ok := tok.TokenID(m); ok && tok.TokenType(id) == tokenizer.TokenControl {
			ids = append(ids, id)
		}
	}
	return ids
}

// choiceText names a tool_choice in messages.
func choiceText(choice, name string) string {
	if choice == "function" {
		return fmt.Sprintf("function %q", name)
	}
	return fmt.Sprintf("%q", choice)
}

// toolJSON is a tool definition as templates see it: type, then function
// with name, description (when given) and parameters (when given, its key
// order kept).
func toolJSON(t openai.Tool) json.RawMessage {
	var b strings.Builder
	name, _ := json.Marshal(t.Function.Name)
	b.WriteString(`{"type":"function","function":{"name":` + string(name))
	if t.Function.Description != "" {
		d, _ := json.Marshal(t.Function.Description)
		b.WriteString(`,"description":` + string(d))
	}
	if !isNull(t.Function.Parameters) {
		b.WriteString(`,"parameters":` + string(t.Function.Parameters))
	}
	b.WriteString("}}")
	return json.RawMessage(b.String())
}

// toolResult is one choice's output split into content and calls.
type toolResult struct {
	content *string // nil: null (only calls)
	calls   []openai.ToolCall
}

// parse splits a complete output; without a parser it is all content.
func (p *toolPlan) parse(text string) toolResult {
	if p == nil || p.parser == nil {
		return toolResult{content: &text}
	}
	r := p.parser.Parse(text)
	var out toolResult
	for _, c := range r.Calls {
		out.calls = append(out.calls, openai.ToolCall{ID: c.ID, Type: "function", Function: openai.FunctionCall{Name: c.Name, Arguments: c.Arguments}})
		if p.single {
			break
		}
	}
	if r.Content != "" || len(out.calls) == 0 {
		out.content = &r.Content
	}
	return out
}

// toolStream turns one choice's streamed text into chunk deltas: through
// the parser's stream when calls are parsed, else as content.
type toolStream struct {
	st     toolcall.Stream // nil: plain content
	single bool
	calls  int // calls emitted
}

// newStream starts a choice's stream.
func (p *toolPlan) newStream() *toolStream {
	if p == nil || p.parser == nil {
		return &toolStream{}
	}
	return &toolStream{st: p.parser.NewStream(), single: p.single}
}

// push returns the deltas for newly generated text.
func (t *toolStream) push(text string) []openai.ChatMessage {
	if t.st == nil {
		if text == "" {
			return nil
		}
		return []openai.ChatMessage{{Content: &text}}
	}
	return t.deltas(t.st.Push(text))
}

// finish returns the deltas of the text the parser still held.
func (t *toolStream) finish() []openai.ChatMessage {
	if t.st == nil {
		return nil
	}
	return t.deltas(t.st.Finish())
}

func (t *toolStream) deltas(ds []toolcall.Delta) []openai.ChatMessage {
	var out []openai.ChatMessage
	for _, d := range ds {
		if !d.IsTool {
			if d.Content != "" {
				c := d.Content
				out = append(out, openai.ChatMessage{Content: &c})
			}
			continue
		}
		if t.single && d.ToolIndex > 0 {
			continue
		}
		td := openai.ToolCallDelta{Index: d.ToolIndex, Function: openai.FunctionCallDelta{Name: d.Name, Arguments: d.ArgumentsFragment}}
		if d.ID != "" {
			td.ID, td.Type = d.ID, "function"
			t.calls = max(t.calls, d.ToolIndex+1)
		}
		out = append(out, openai.ChatMessage{ToolCalls: []openai.ToolCallDelta{td}})
	}
	return out
}
