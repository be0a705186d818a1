package server

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/kiln-llm/kiln/control"
)

// ChatMessage is one message as a chat template sees it: its content
// flattened to text, and the tool-calling fields of the OpenAI shape.
type ChatMessage struct {
	Role, Content string
	// NullContent marks an assistant turn whose content was null (it only
	// calls tools); templates see None rather than "".
	NullContent bool
	Name        string
	ToolCalls   []ChatToolCall // assistant: the calls it made
	ToolCallID  string         // tool: the call this answers
}

// ChatToolCall is an assistant's call of a tool in the history; Arguments
// is the JSON object text.
type ChatToolCall struct {
	ID, Name, Arguments string
}

// ToolRenderer is a ChatTemplate that can show the model the tools it may
// call. tools are OpenAI tool definitions as JSON.
type ToolRenderer interface {
	RenderTools(msgs []ChatMessage, tools []json.RawMessage, role string, addGeneration bool) (string, error)
	// ToolFormat is the tool-call parser (toolcall.Names) whose dialect the
	// template writes calls in, or "" when that cannot be told.
	ToolFormat() string
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

var _ ToolRenderer = ChatML{}

// Render implements ChatTemplate.
func (c ChatML) Render(msgs []ChatMessage, role string, addGeneration bool) (string, error) {
	return c.RenderTools(msgs, nil, role, addGeneration)
}

// RenderTools implements ToolRenderer in the Hermes/Qwen2.5 way, kept
// short (small models have small contexts): the tools go into the system
// turn, an assistant's calls are <tool_call> blocks, a tool's answer is a
// "tool" turn.
func (ChatML) RenderTools(msgs []ChatMessage, tools []json.RawMessage, role string, addGeneration bool) (string, error) {
	var b strings.Builder
	if len(tools) > 0 {
		b.WriteString("<|im_start|>system\n")
		if len(msgs) > 0 && msgs[0].Role == "system" {
			b.WriteString(msgs[0].Content + "\n\n")
			msgs = msgs[1:]
		}
		b.WriteString("Tools:\n<tools>\n")
		for _, t := range tools {
			b.Write(t)
			b.WriteString("\n")
		}
		b.WriteString("</tools>\nTo call one, reply <tool_call>\n{\"name\": <name>, \"arguments\": <arguments object>}\n</tool_call><|im_end|>\n")
	}
	for _, m := range msgs {
		fmt.Fprintf(&b, "<|im_start|>%s\n%s", m.Role, m.Content)
		for i, tc := range m.ToolCalls {
			if i > 0 || m.Content != "" {
				b.WriteString("\n")
			}
			name, _ := json.Marshal(tc.Name)
			args := tc.Arguments
			if args == "" {
				args = "{}"
			}
			fmt.Fprintf(&b, "<tool_call>\n{\"name\": %s, \"arguments\": %s}\n</tool_call>", name, args)
		}
		b.WriteString("<|im_end|>\n")
	}
	if addGeneration {
		fmt.Fprintf(&b, "<|im_start|>%s\n", role)
	}
	return b.String(), nil
}

// ToolFormat implements ToolRenderer.
func (ChatML) ToolFormat() string { return "hermes" }

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
