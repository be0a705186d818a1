package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/kiln-llm/kiln/engine/chat"
	"github.com/kiln-llm/kiln/server/openai"
)

// responseTurn is a Responses request mapped onto the chat endpoint's
// request: the conversation as chat messages, the parameters as chat's.
type responseTurn struct {
	in    openai.ResponseRequest
	req   openai.ChatRequest
	input []chat.Message // this request's input items
	tools []json.RawMessage
	store bool
}

// responseNames are the chat parsers' parameter names as the Responses
// API spells them.
var responseNames = []struct{ chat, responses string }{
	{"max_tokens", "max_output_tokens"},
	{"response_format", "text.format"},
	{"reasoning_effort", "reasoning.effort"},
	{"messages", "input"},
}

// responseParams renames the parameters in err the way a Responses client
// sent them.
func responseParams(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	out := *ae
	for _, n := range responseNames {
		if out.Param == n.chat || strings.HasPrefix(out.Param, n.chat+".") || strings.HasPrefix(out.Param, n.chat+"[") {
			out.Param = n.responses + strings.TrimPrefix(out.Param, n.chat)
		}
		if rest, ok := strings.CutPrefix(out.Message, n.chat); ok && (strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, ".") || strings.HasPrefix(rest, "[")) {
			out.Message = n.responses + rest
		}
	}
	return &out
}

// parseResponseRequest reads and validates a Responses request.
func parseResponseRequest(c *fiber.Ctx) (*responseTurn, error) {
	t := &responseTurn{store: true}
	in := &t.in
	if err := decodeBody(c, in); err != nil {
		return nil, err
	}
	switch {
	case in.Background != nil && *in.Background:
		return nil, notImplemented("background", "background responses")
	case !isNull(in.Conversation):
		return nil, notImplemented("conversation", "conversations (use previous_response_id)")
	case !isNull(in.Prompt):
		return nil, notImplemented("prompt", "prompt templates")
	case in.Truncation != nil && *in.Truncation != "auto" && *in.Truncation != "disabled":
		return nil, badParam("truncation", "truncation: %q; want auto or disabled", *in.Truncation)
	}
	if in.Store != nil {
		t.store = *in.Store
	}
	sp := &t.req.Sampling
	sp.Model, sp.MaxTokens, sp.Temperature, sp.TopP, sp.Seed, sp.Stream = in.Model, in.MaxOutputTokens, in.Temperature, in.TopP, in.Seed, in.Stream
	if in.MaxOutputTokens != nil && *in.MaxOutputTokens < 1 {
		return nil, badParam("max_output_tokens", "max_output_tokens: %d; want >= 1", *in.MaxOutputTokens)
	}
	if err := responseFormat(in.Text, sp); err != nil {
		return nil, err
	}
	tools, raw, err := responseTools(in.Tools)
	if err != nil {
		return nil, err
	}
	sp.Tools, t.tools = tools, raw
	if sp.ToolChoice, err = responseToolChoice(in.ToolChoice); err != nil {
		return nil, err
	}
	t.req.ParallelToolCalls = in.ParallelToolCalls
	t.req.Thinking = in.Thinking
	if in.Reasoning != nil && in.Reasoning.Effort != nil {
		t.req.ReasoningEffort = in.Reasoning.Effort
	}
	if t.input, err = responseInput(in.Input); err != nil {
		return nil, err
	}
	return t, nil
}

// responseFormat maps text.format onto response_format.
func responseFormat(text *openai.ResponseText, sp *openai.Sampling) error {
	if text == nil || text.Format == nil {
		return nil
	}
	f := text.Format
	switch f.Type {
	case "text":
	case "json_object":
		sp.ResponseFormat = &openai.ResponseFormat{Type: "json_object"}
	case "json_schema":
		if isNull(f.Schema) {
			return badParam("text.format.schema", "text.format.schema: required when type is json_schema")
		}
		js, _ := json.Marshal(map[string]any{"name": f.Name, "schema": f.Schema, "strict": f.Strict})
		sp.ResponseFormat = &openai.ResponseFormat{Type: "json_schema", JSONSchema: js}
	default:
		return badParam("text.format.type", "text.format.type: %q; want text, json_object or json_schema", f.Type)
	}
	return nil
}

// responseTools maps function tools (flat: name and parameters at the top)
// onto chat's; it also returns them as the response echoes them.
func responseTools(raw json.RawMessage) ([]openai.Tool, []json.RawMessage, error) {
	if isNull(raw) {
		return nil, []json.RawMessage{}, nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil, nil, badParam("tools", "tools: wrong type: want an array of function tools")
	}
	var out []openai.Tool
	for i, it := range items {
		p := fmt.Sprintf("tools[%d]", i)
		var t openai.ResponseTool
		if json.Unmarshal(it, &t) != nil {
			return nil, nil, badParam(p, "%s: wrong type: want {type: function, name, parameters}", p)
		}
		switch {
		case t.Type != "function":
			return nil, nil, notImplemented(p+".type", fmt.Sprintf("the %q tool", t.Type))
		case t.Name == "":
			return nil, nil, badParam(p+".name", "%s.name: required", p)
		}
		out = append(out, openai.Tool{Type: "function", Function: &openai.ToolFunction{Name: t.Name, Description: t.Description, Parameters: t.Parameters}})
	}
	return out, items, nil
}

// responseToolChoice maps tool_choice ("none", "auto", "required" or
// {type: function, name}) onto chat's.
func responseToolChoice(raw json.RawMessage) (json.RawMessage, error) {
	if isNull(raw) {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return raw, nil // chat's parser checks the value
	}
	var tc struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	if json.Unmarshal(raw, &tc) != nil || tc.Type != "function" || tc.Name == "" {
		return nil, badParam("tool_choice", `tool_choice: want "none", "auto", "required" or {"type": "function", "name": ...}`)
	}
	return json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": tc.Name}})
}

// responseRoles map an input message's role onto a chat role: developer
// instructions are system messages to a chat template.
var responseRoles = map[string]string{"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}

// responseInput reads input: a string (one user message) or an array of
// items. Consecutive function_call items join the assistant message
// before them (or a new one), as chat templates expect one assistant turn
// with its tool calls.
func responseInput(raw json.RawMessage) ([]chat.Message, error) {
	if isNull(raw) {
		return nil, badParam("input", "input: required")
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []chat.Message{{Role: "user", Content: s}}, nil
	}
	var items []openai.ResponseInputItem
	if json.Unmarshal(raw, &items) != nil {
		return nil, badParam("input", "input: wrong type: want a string or an array of items")
	}
	if len(items) == 0 {
		return nil, badParam("input", "input: empty; want at least one item")
	}
	var out []chat.Message
	for i, it := range items {
		p := fmt.Sprintf("input[%d]", i)
		switch it.Type {
		case "", "message":
			role, ok := responseRoles[it.Role]
			if !ok {
				return nil, badParam(p+".role", "%s.role: %q; want user, assistant, system or developer", p, it.Role)
			}
			text, err := responseText(it.Content, p+".content")
			if err != nil {
				return nil, err
			}
			out = append(out, chat.Message{Role: role, Content: text})
		case "function_call":
			if it.CallID == "" || it.Name == "" {
				return nil, badParam(p, "%s: a function_call needs call_id and name", p)
			}
			args := "{}"
			if it.Arguments != nil && *it.Arguments != "" {
				args = *it.Arguments
			}
			call := chat.ToolCall{ID: it.CallID, Type: "function", Function: chat.FunctionCall{Name: it.Name, Arguments: args}}
			if n := len(out); n > 0 && out[n-1].Role == "assistant" {
				out[n-1].ToolCalls = append(out[n-1].ToolCalls, call)
			} else {
				out = append(out, chat.Message{Role: "assistant", ToolCalls: []chat.ToolCall{call}})
			}
		case "function_call_output":
			if it.CallID == "" {
				return nil, badParam(p+".call_id", "%s.call_id: required", p)
			}
			if isNull(it.Output) {
				return nil, badParam(p+".output", "%s.output: required", p)
			}
			text, err := responseText(it.Output, p+".output")
			if err != nil {
				return nil, err
			}
			out = append(out, chat.Message{Role: "tool", Content: text, ToolCallID: it.CallID})
		case "reasoning":
			// An earlier answer's thinking: templates drop it too.
		case "item_reference":
			return nil, notImplemented(p+".type", "item_reference (use previous_response_id)")
		default:
			return nil, badParam(p+".type", "%s.type: %q; want message, function_call, function_call_output or reasoning", p, it.Type)
		}
	}
	return out, nil
}

// responseText flattens a string or an array of text parts.
func responseText(raw json.RawMessage, param string) (string, error) {
	if isNull(raw) {
		return "", badParam(param, "%s: required", param)
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var parts []openai.ResponseContentPart
	if json.Unmarshal(raw, &parts) != nil {
		return "", badParam(param, "%s: wrong type: want a string or an array of content parts", param)
	}
	texts := make([]string, 0, len(parts))
	for j, part := range parts {
		q := fmt.Sprintf("%s[%d]", param, j)
		switch part.Type {
		case "input_text", "output_text", "text", "refusal":
			if part.Text == nil {
				return "", badParam(q+".text", "%s.text: required", q)
			}
			texts = append(texts, *part.Text)
		case "input_image", "input_file", "input_audio":
			return "", notImplemented(q+".type", part.Type+" content")
		default:
			return "", badParam(q+".type", "%s.type: %q; want input_text", q, part.Type)
		}
	}
	return strings.Join(texts, "\n"), nil
}
