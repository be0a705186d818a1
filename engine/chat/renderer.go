package chat

import (
	"encoding/json"
	"strings"

	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// Renderer is a Template bound to a vocabulary: it renders conversations
// with the vocabulary's BOS and EOS texts, and knows, by rendering probe
// conversations once, the marker that ends the template's turns and the
// dialect it writes tool calls in. A server renders every chat prompt
// through one.
type Renderer struct {
	t          *Template
	bos, eos   string
	eot        string
	toolFormat string
}

// NewRenderer binds t to tok's BOS and EOS texts and probes its end of
// turn and tool-call format.
func NewRenderer(t *Template, tok *tokenizer.Tokenizer) *Renderer {
	r := &Renderer{t: t, bos: tok.TokenText(tok.BOS()), eos: tok.TokenText(tok.EOS())}
	r.eot = r.probeEndOfTurn(tokenizer.EndOfTurnTexts())
	r.toolFormat = r.probeToolFormat()
	return r
}

// ChatML is the built-in "chatml" template bound to tok: the prompt format
// for models without a template of their own, as llama.cpp falls back to.
func ChatML(tok *tokenizer.Tokenizer) (*Renderer, error) {
	t, err := Builtin("chatml")
	if err != nil {
		return nil, err
	}
	return NewRenderer(t, tok), nil
}

// Render renders msgs with tools (OpenAI tool definitions as JSON; raw, so
// tojson keeps the client's key order); with addGeneration the header of
// the assistant's reply follows.
func (r *Renderer) Render(msgs []Message, tools []json.RawMessage, addGeneration bool) (string, error) {
	return r.RenderVars(msgs, tools, addGeneration, nil)
}

// RenderVars is Render with further template variables (a request's
// chat_template_kwargs, such as Qwen3's enable_thinking).
func (r *Renderer) RenderVars(msgs []Message, tools []json.RawMessage, addGeneration bool, vars map[string]any) (string, error) {
	var ts []any
	for _, t := range tools {
		ts = append(ts, t)
	}
	return r.t.Render(RenderOptions{Messages: msgs, Tools: ts, AddGenerationPrompt: addGeneration, BOSToken: r.bos, EOSToken: r.eos, ExtraVars: vars})
}

// EndOfTurn is the marker the template writes right after an assistant's
// text (one of tokenizer.EndOfTurnTexts), or "" when there is none (the
// EOS then ends the turn, and it ends generation already).
func (r *Renderer) EndOfTurn() string { return r.eot }

// ToolFormat is the tool-call parser (toolcall.Names) whose dialect the
// template writes calls in: the format the model was trained to call tools
// in; "" when the template writes no recognisable call.
func (r *Renderer) ToolFormat() string { return r.toolFormat }

// BOS is the text of the vocabulary's BOS token, which templates that write
// it themselves put at the start of the prompt.
func (r *Renderer) BOS() string { return r.bos }

// Name is the template's name.
func (r *Renderer) Name() string { return r.t.Name() }

// probeEndOfTurn renders user/assistant turns with marker contents and
// returns the marker (one of markers) the template puts right after the
// assistant's text, or "".
func (r *Renderer) probeEndOfTurn(markers []string) string {
	const reply = "kiln-probe-reply"
	text, err := r.t.Render(RenderOptions{
		Messages: []Message{{Role: "user", Content: "kiln-probe-user"}, {Role: "assistant", Content: reply}},
		BOSToken: r.bos, EOSToken: r.eos,
	})
	if err != nil {
		return ""
	}
	i := strings.LastIndex(text, reply)
	if i < 0 {
		return ""
	}
	after := strings.TrimLeft(text[i+len(reply):], " \n")
	for _, m := range markers {
		if strings.HasPrefix(after, m) {
			return m
		}
	}
	return ""
}

// probeToolFormat renders an assistant turn that calls a tool and names
// the parser of the dialect the template wrote it in, or "" when the
// template writes no recognisable call (or cannot render one).
func (r *Renderer) probeToolFormat() string {
	const fn = "kiln_probe_fn"
	text, err := r.t.Render(RenderOptions{
		Messages: []Message{
			{Role: "user", Content: "kiln-probe-user"},
			// A 9-alphanumeric id: Mistral's templates refuse any other.
			{Role: "assistant", ToolCalls: []ToolCall{{ID: "kilnprobe", Type: "function", Function: FunctionCall{Name: fn, Arguments: `{"kiln_probe_arg": 1}`}}}},
		},
		BOSToken: r.bos, EOSToken: r.eos,
	})
	if err != nil {
		return ""
	}
	i := strings.Index(text, "kiln-probe-user")
	if i < 0 {
		return ""
	}
	reply := text[i:]
	switch {
	case !strings.Contains(reply, fn):
		return ""
	case strings.Contains(reply, "[TOOL_CALLS]"):
		return "mistral"
	case strings.Contains(reply, "<tool_call>"):
		return "hermes"
	case strings.Contains(reply, fn+"("):
		return "pythonic"
	case strings.Contains(reply, `"parameters"`):
		return "llama3_json"
	}
	return ""
}
