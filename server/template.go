package server

import (
	"fmt"
	"strings"

	"github.com/kiln-llm/kiln/control"
)

// ChatMessage is one message as a chat template sees it: its content
// flattened to text.
type ChatMessage struct {
	Role, Content string
}

// ChatTemplate renders a conversation into a prompt. The Jinja engine of
// engine/chat is to provide one from the model's own template; until then
// the server renders ChatML (as llama.cpp falls back to it).
type ChatTemplate interface {
	// Render returns the prompt text; with addGeneration the header of a
	// reply by role follows. An error is the request's (e.g. a template
	// that requires alternating roles).
	Render(msgs []ChatMessage, role string, addGeneration bool) (string, error)
	// EndOfTurn is the text that closes a reply: a stop token when the
	// vocabulary has it as one token, else a stop string; "" for none
	// beyond the vocabulary's end-of-generation tokens.
	EndOfTurn() string
}

// ChatML is the built-in template:
// <|im_start|>{role}\n{content}<|im_end|>\n per message.
type ChatML struct{}

var _ ChatTemplate = ChatML{}

// Render implements ChatTemplate.
func (ChatML) Render(msgs []ChatMessage, role string, addGeneration bool) (string, error) {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "<|im_start|>%s\n%s<|im_end|>\n", m.Role, m.Content)
	}
	if addGeneration {
		fmt.Fprintf(&b, "<|im_start|>%s\n", role)
	}
	return b.String(), nil
}

// EndOfTurn implements ChatTemplate.
func (ChatML) EndOfTurn() string { return "<|im_end|>" }

// chatTemplate is the model's template, ChatML by default.
func (m *Model) chatTemplate() ChatTemplate {
	if m.ChatTemplate != nil {
		return m.ChatTemplate
	}
	return ChatML{}
}

// endOfTurn adds the template's end of turn to r: as a stop token when the
// vocabulary has it as one token, as a stop string otherwise.
func (m *Model) endOfTurn(r *control.Request) {
	eot := m.chatTemplate().EndOfTurn()
	if eot == "" {
		return
	}
	if id, ok := m.Tokenizer.TokenID(eot); ok {
		r.StopTokens = append(r.StopTokens, id)
	} else {
		r.StopStrings = append(r.StopStrings, eot)
	}
}

// encodeChat tokenizes a rendered chat prompt, parsing its control tokens.
// The vocabulary's BOS is added unless the template already wrote it (as
// Llama 3's does), so a prompt never starts with two.
func (m *Model) encodeChat(text string) []int32 {
	addBOS := true
	if j, ok := m.chatTemplate().(*JinjaTemplate); ok && j.BOS() != "" && strings.HasPrefix(text, j.BOS()) {
		addBOS = false
	}
	return m.Tokenizer.Encode(text, addBOS, true)
}
