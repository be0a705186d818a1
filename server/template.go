package server

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/chat"
)

// ChatTemplate renders conversations into prompts. *chat.Renderer (the
// model's own Jinja template, a --chat-template or the built-in ChatML)
// satisfies it; handler tests may bring their own.
type ChatTemplate interface {
	// Render returns the prompt text of msgs, showing the model tools
	// (OpenAI tool definitions as JSON); with addGeneration the header of
	// the assistant's reply follows. An error is the request's (e.g. a
	// template that requires alternating roles).
	Render(msgs []chat.Message, tools []json.RawMessage, addGeneration bool) (string, error)
	// EndOfTurn is the text that closes a reply: a stop token when the
	// vocabulary has it as one token, else a stop string; "" for none
	// beyond the vocabulary's end-of-generation tokens.
	EndOfTurn() string
	// ToolFormat is the tool-call parser (toolcall.Names) whose dialect the
	// template writes calls in, or "" when that cannot be told.
	ToolFormat() string
	// BOS is the BOS text a template that writes BOS itself starts with.
	BOS() string
}

var _ ChatTemplate = (*chat.Renderer)(nil)

// template is the model's chat template, or ChatML (built once) when it
// has none, as llama.cpp falls back to it.
func (m *Model) template() (ChatTemplate, error) {
	if m.ChatTemplate != nil {
		return m.ChatTemplate, nil
	}
	m.chatml.once.Do(func() { m.chatml.r, m.chatml.err = chat.ChatML(m.Tokenizer) })
	if m.chatml.err != nil {
		return nil, &APIError{Status: fiber.StatusInternalServerError, Type: "server_error", Message: fmt.Sprintf("the ChatML template: %v", m.chatml.err)}
	}
	return m.chatml.r, nil
}

// endOfTurn adds tmpl's end of turn to r: as a stop token when the
// vocabulary has it as one token, as a stop string otherwise.
func (m *Model) endOfTurn(r *control.Request, tmpl ChatTemplate) {
	eot := tmpl.EndOfTurn()
	if eot == "" {
		return
	}
	if id, ok := m.Tokenizer.TokenID(eot); ok {
		r.StopTokens = append(r.StopTokens, id)
	} else {
		r.StopStrings = append(r.StopStrings, eot)
	}
}

// encodeChat tokenizes a prompt tmpl rendered, parsing its control tokens.
// The vocabulary's BOS is added unless the template already wrote it (as
// Llama 3's does), so a prompt never starts with two.
func (m *Model) encodeChat(text string, tmpl ChatTemplate) []int32 {
	bos := tmpl.BOS()
	addBOS := bos == "" || !strings.HasPrefix(text, bos)
	return m.Tokenizer.Encode(text, addBOS, true)
}
