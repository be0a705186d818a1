package server

import (
	"strings"

	"github.com/kiln-llm/kiln/engine/chat"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// JinjaTemplate renders chat prompts with a Jinja chat template (the
// model's tokenizer.chat_template, a --chat-template file or a built-in)
// through engine/chat, the way HF transformers does.
type JinjaTemplate struct {
	t        *chat.Template
	bos, eos string
	eot      string
}

var _ ChatTemplate = (*JinjaTemplate)(nil)

// endMarkers are the end-of-turn texts of the common template families; the
// one a template writes after an assistant message is its end of turn.
var endMarkers = []string{"<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|END_OF_TURN_TOKEN|>", "<|eom_id|>"}

// NewJinjaTemplate binds t to the vocabulary's BOS and EOS texts and finds
// its end of turn by rendering a probe conversation.
func NewJinjaTemplate(t *chat.Template, tok *tokenizer.Tokenizer) *JinjaTemplate {
	j := &JinjaTemplate{t: t, bos: tok.TokenText(tok.BOS()), eos: tok.TokenText(tok.EOS())}
	j.eot = j.probeEndOfTurn()
	return j
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
	cm := make([]chat.Message, len(msgs))
	for i, m := range msgs {
		cm[i] = chat.Message{Role: m.Role, Content: m.Content}
	}
	return j.t.Render(chat.RenderOptions{Messages: cm, AddGenerationPrompt: addGeneration, BOSToken: j.bos, EOSToken: j.eos})
}

// EndOfTurn implements ChatTemplate.
func (j *JinjaTemplate) EndOfTurn() string { return j.eot }

// BOS is the text of the vocabulary's BOS token, which templates that write
// it themselves put at the start of the prompt.
func (j *JinjaTemplate) BOS() string { return j.bos }
