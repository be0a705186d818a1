package server

import (
	"encoding/json"
	"strings"

	"github.com/kiln-llm/kiln/engine/chat"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// JinjaTemplate renders chat prompts with a Jinja chat template (the
// model's tokenizer.chat_template, a --chat-template file or a built-in)
// through engine/chat, the way HF transformers does.
type JinjaTemplate struct {
	t          *chat.Template
	bos, eos   string
	eot        string
	toolFormat string
}

var (
	_ ChatTemplate = (*JinjaTemplate)(nil)
	_ ToolRenderer = (*JinjaTemplate)(nil)
)

// endMarkers are the end-of-turn texts of the common template families; the
// one a template writes after an assistant message is its end of turn.
var endMarkers = []string{"<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|END_OF_TURN_TOKEN|>", "<|eom_id|>"}

// NewJinjaTemplate binds t to the vocabulary's BOS and EOS texts and finds
// its end of turn by rendering a probe conversation.
func NewJinjaTemplate(t *chat.Template, tok *tokenizer.Tokenizer) *JinjaTemplate {
	j := &JinjaTemplate{t: t, bos: tok.TokenText(tok.BOS()), eos: tok.TokenText(tok.EOS())}
	j.eot = j.probeEndOfTurn()
	j.toolFormat = j.probeToolFormat()
	return j
}

// probeToolFormat renders an assistant turn that calls a tool and names
// the parser of the dialect the template wrote it in: that is the format
// the model was trained to call tools in. "" when the template writes no
// recognisable call (or cannot render one).
func (j *JinjaTemplate) probeToolFormat() string {
	const fn = "kiln_probe_fn"
	text, err := j.t.Render(chat.RenderOptions{
		Messages: []chat.Message{
			{Role: "user", Content: "kiln-probe-user"},
			// A 9-alphanumeric id: Mistral's templates refuse any other.
			{Role: "assistant", ToolCalls: []chat.ToolCall{{ID: "kilnprobe", Type: "function", Function: chat.FunctionCall{Name: fn, Arguments: `{"kiln_probe_arg": 1}`}}}},
		},
		BOSToken: j.bos, EOSToken: j.eos,
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

// probeEndOfTurn renders user/assistant turns with marker contents and
// returns the end marker the template puts right after the assistant's
// text, or "" (the EOS then ends the turn, and it is an EOG token already).
func (j *JinjaTemplate) probeEndOfTurn() string {
	const reply = "kiln-probe-reply"
	text, err := j.t.Render(chat.RenderOptions{
		Messages: []chat.Message{{Role: "user", Content: "kiln-probe-user"}, {Role: "assistant", Content: reply}},
		BOSToken: j.bos, EOSToken: j.eos,
	})
	if err != nil {
		return ""
	}
	i := strings.LastIndex(text, reply)
	if i < 0 {
		return ""
	}
	after := strings.TrimLeft(text[i+len(reply):], " \n")
	for _, m := range endMarkers {
		if strings.HasPrefix(after, m) {
			return m
		}
	}
	return ""
}

// Render implements ChatTemplate. The response role is the template's own
// business (templates open an assistant turn), so role is not used.
func (j *JinjaTemplate) Render(msgs []ChatMessage, role string, addGeneration bool) (string, error) {
	return j.RenderTools(msgs, nil, role, addGeneration)
}

// RenderTools implements ToolRenderer: tools become the template's tools
// variable (raw JSON, so tojson keeps the client's key order), tool calls
// and tool answers the message fields HF templates read.
func (j *JinjaTemplate) RenderTools(msgs []ChatMessage, tools []json.RawMessage, role string, addGeneration bool) (string, error) {
	cm := make([]chat.Message, len(msgs))
	for i, m := range msgs {
		c := chat.Message{Role: m.Role, Content: m.Content, Name: m.Name, ToolCallID: m.ToolCallID}
		if m.NullContent {
			c.Content = nil
		}
		for _, tc := range m.ToolCalls {
			c.ToolCalls = append(c.ToolCalls, chat.ToolCall{ID: tc.ID, Type: "function", Function: chat.FunctionCall{Name: tc.Name, Arguments: tc.Arguments}})
		}
		cm[i] = c
	}
	var ts []any
	for _, t := range tools {
		ts = append(ts, t)
	}
	return j.t.Render(chat.RenderOptions{Messages: cm, Tools: ts, AddGenerationPrompt: addGeneration, BOSToken: j.bos, EOSToken: j.eos})
}

// ToolFormat implements ToolRenderer.
func (j *JinjaTemplate) ToolFormat() string { return j.toolFormat }

// EndOfTurn implements ChatTemplate.
func (j *JinjaTemplate) EndOfTurn() string { return j.eot }

// BOS is the text of the vocabulary's BOS token, which templates that write
// it themselves put at the start of the prompt.
func (j *JinjaTemplate) BOS() string { return j.bos }
