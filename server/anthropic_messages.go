package server

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/chat"
	"github.com/kiln-llm/kiln/server/anthropic"
	"github.com/kiln-llm/kiln/server/openai"
)

// anthropicTurn is a Messages request mapped onto the chat endpoint's
// request: the conversation as chat messages, the parameters as OpenAI's.
type anthropicTurn struct {
	msgs  []chat.Message
	req   openai.ChatRequest
	stops []string
}

// parseAnthropic reads a Messages request; count is count_tokens, which
// takes no generation parameters (max_tokens is not required).
func parseAnthropic(c *fiber.Ctx, count bool) (*anthropicTurn, error) {
	var in anthropic.MessagesRequest
	if err := decodeBody(c, &in); err != nil {
		return nil, err
	}
	if in.Model == "" {
		return nil, badParam("model", "model: Field required")
	}
	t := &anthropicTurn{stops: in.StopSequences}
	sp := &t.req.Sampling
	sp.Model = in.Model
	if !count {
		if in.MaxTokens == nil {
			return nil, badParam("max_tokens", "max_tokens: Field required")
		}
		sp.MaxTokens, sp.Temperature, sp.TopP, sp.TopK, sp.Stream = in.MaxTokens, in.Temperature, in.TopP, in.TopK, in.Stream
		if len(in.StopSequences) > 0 {
			sp.Stop, _ = json.Marshal(in.StopSequences)
		}
	}
	tools, err := anthropicTools(in.Tools)
	if err != nil {
		return nil, err
	}
	sp.Tools = tools
	if err := anthropicToolChoice(in.ToolChoice, &t.req); err != nil {
		return nil, err
	}
	if err := anthropicThinking(in.Thinking, &t.req.Thinking); err != nil {
		return nil, err
	}
	t.msgs, err = anthropicMessages(in.System, in.Messages)
	return t, err
}

// anthropicTools maps client tools onto OpenAI function tools.
func anthropicTools(raw json.RawMessage) ([]openai.Tool, error) {
	if isNull(raw) {
		return nil, nil
	}
	var tools []anthropic.Tool
	if json.Unmarshal(raw, &tools) != nil {
		return nil, badParam("tools", "tools: wrong type: want an array of {name, description, input_schema}")
	}
	out := make([]openai.Tool, 0, len(tools))
	for i, t := range tools {
		p := fmt.Sprintf("tools[%d]", i)
		switch {
		case t.Type != "" && t.Type != "custom":
			return nil, notImplemented(p+".type", fmt.Sprintf("the server tool %q", t.Type))
		case t.Name == "":
			return nil, badParam(p+".name", "%s.name: Field required", p)
		case isNull(t.InputSchema):
			return nil, badParam(p+".input_schema", "%s.input_schema: Field required", p)
		}
		out = append(out, openai.Tool{Type: "function", Function: &openai.ToolFunction{Name: t.Name, Description: t.Description, Parameters: t.InputSchema}})
	}
	return out, nil
}

// anthropicToolChoice maps tool_choice (auto, any, tool, none) onto
// OpenAI's (auto, required, a named function, none).
func anthropicToolChoice(raw json.RawMessage, req *openai.ChatRequest) error {
	if isNull(raw) {
		return nil
	}
	var tc anthropic.ToolChoice
	if json.Unmarshal(raw, &tc) != nil {
		return badParam("tool_choice", "tool_choice: wrong type: want {type: auto, any, tool or none}")
	}
	var choice any
	switch tc.Type {
	case "auto", "none":
		choice = tc.Type
	case "any":
		choice = "required"
	case "tool":
		if tc.Name == "" {
			return badParam("tool_choice.name", "tool_choice.name: Field required for type tool")
		}
		choice = map[string]any{"type": "function", "function": map[string]string{"name": tc.Name}}
	default:
		return badParam("tool_choice.type", "tool_choice.type: %q; want auto, any, tool or none", tc.Type)
	}
	req.ToolChoice, _ = json.Marshal(choice)
	if tc.DisableParallelToolUse != nil && *tc.DisableParallelToolUse {
		f := false
		req.ParallelToolCalls = &f
	}
	return nil
}

// anthropicThinking maps thinking {type: enabled, budget_tokens} onto a
// thinking budget, {type: disabled} onto the template's enable_thinking.
func anthropicThinking(raw json.RawMessage, th *openai.Thinking) error {
	if isNull(raw) {
		return nil
	}
	var t struct {
		Type         string `json:"type"`
		BudgetTokens *int   `json:"budget_tokens"`
	}
	if json.Unmarshal(raw, &t) != nil {
		return badParam("thinking", "thinking: wrong type: want {type: enabled, budget_tokens} or {type: disabled}")
	}
	switch t.Type {
	case "enabled":
		if t.BudgetTokens == nil {
			return badParam("thinking.budget_tokens", "thinking.budget_tokens: Field required")
		}
		th.MaxThinkingTokens = t.BudgetTokens
	case "disabled":
		th.ChatTemplateKwargs = json.RawMessage(`{"enable_thinking": false}`)
	default:
		return badParam("thinking.type", "thinking.type: %q; want enabled or disabled", t.Type)
	}
	return nil
}

// anthropicMessages maps system and messages onto chat messages: tool_use
// blocks become an assistant's tool calls, tool_result blocks tool
// messages (before the user's text, as they come first in a user turn);
// an earlier answer's thinking blocks are dropped, as Anthropic does.
func anthropicMessages(system, raw json.RawMessage) ([]chat.Message, error) {
	var out []chat.Message
	if !isNull(system) {
		text, err := anthropicText(system, "system")
		if err != nil {
			return nil, err
		}
		out = append(out, chat.Message{Role: "system", Content: text})
	}
	var items []anthropic.MessageParam
	if isNull(raw) {
		return nil, badParam("messages", "messages: Field required")
	}
	if json.Unmarshal(raw, &items) != nil {
		return nil, badParam("messages", "messages: wrong type: want an array of {role, content}")
	}
	if len(items) == 0 {
		return nil, badParam("messages", "messages: at least one message is required")
	}
	for i, it := range items {
		p := fmt.Sprintf("messages[%d]", i)
		if it.Role != "user" && it.Role != "assistant" {
			return nil, badParam(p+".role", "%s.role: %q; want user or assistant", p, it.Role)
		}
		msgs, err := anthropicTurnMessages(it, p)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// anthropicTurnMessages maps one message onto chat messages.
func anthropicTurnMessages(it anthropic.MessageParam, p string) ([]chat.Message, error) {
	if isNull(it.Content) {
		return nil, badParam(p+".content", "%s.content: Field required", p)
	}
	var s string
	if json.Unmarshal(it.Content, &s) == nil {
		return []chat.Message{{Role: it.Role, Content: s}}, nil
	}
	var blocks []anthropic.ContentBlockParam
	if json.Unmarshal(it.Content, &blocks) != nil {
		return nil, badParam(p+".content", "%s.content: wrong type: want a string or an array of content blocks", p)
	}
	var texts []string
	var calls []chat.ToolCall
	var results []chat.Message
	for j, b := range blocks {
		q := fmt.Sprintf("%s.content[%d]", p, j)
		switch {
		case b.Type == "text":
			if b.Text == nil {
				return nil, badParam(q+".text", "%s.text: Field required", q)
			}
			texts = append(texts, *b.Text)
		case b.Type == "tool_use" && it.Role == "assistant":
			if b.ID == "" || b.Name == "" {
				return nil, badParam(q, "%s: a tool_use block needs id and name", q)
			}
			args := "{}"
			if !isNull(b.Input) {
				var obj map[string]json.RawMessage
				if json.Unmarshal(b.Input, &obj) != nil {
					return nil, badParam(q+".input", "%s.input: wrong type: want an object", q)
				}
				args = string(b.Input)
			}
			calls = append(calls, chat.ToolCall{ID: b.ID, Type: "function", Function: chat.FunctionCall{Name: b.Name, Arguments: args}})
		case b.Type == "tool_result" && it.Role == "user":
			if b.ToolUseID == "" {
				return nil, badParam(q+".tool_use_id", "%s.tool_use_id: Field required", q)
			}
			text := ""
			if !isNull(b.Content) {
				var err error
				if text, err = anthropicText(b.Content, q+".content"); err != nil {
					return nil, err
				}
			}
			if b.IsError != nil && *b.IsError {
				text = "Error: " + text
			}
			results = append(results, chat.Message{Role: "tool", Content: text, ToolCallID: b.ToolUseID})
		case (b.Type == "thinking" || b.Type == "redacted_thinking") && it.Role == "assistant":
		case b.Type == "image" || b.Type == "document" || b.Type == "search_result":
			return nil, notImplemented(q+".type", b.Type+" content")
		default:
			return nil, badParam(q+".type", "%s.type: %q is not a content block of a %s message", q, b.Type, it.Role)
		}
	}
	out := results
	switch {
	case it.Role == "assistant":
		var content any
		if len(texts) > 0 || len(calls) == 0 {
			content = strings.Join(texts, "")
		}
		out = append(out, chat.Message{Role: "assistant", Content: content, ToolCalls: calls})
	case len(texts) > 0 || len(results) == 0:
		out = append(out, chat.Message{Role: "user", Content: strings.Join(texts, "\n")})
	}
	return out, nil
}

// anthropicText reads a string or an array of text blocks.
func anthropicText(raw json.RawMessage, param string) (string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var blocks []anthropic.ContentBlockParam
	if json.Unmarshal(raw, &blocks) != nil {
		return "", badParam(param, "%s: wrong type: want a string or an array of text blocks", param)
	}
	texts := make([]string, 0, len(blocks))
	for j, b := range blocks {
		if b.Type != "text" || b.Text == nil {
			return "", badParam(fmt.Sprintf("%s[%d]", param, j), "%s[%d]: want a text block {type: text, text}", param, j)
		}
		texts = append(texts, *b.Text)
	}
	return strings.Join(texts, "\n"), nil
}

// handleMessages is Anthropic's POST /v1/messages.
func (s *Server) handleMessages(c *fiber.Ctx) error {
	m, err := s.requestModel(c)
	if err != nil {
		return err
	}
	t, err := parseAnthropic(c, false)
	if err != nil {
		return anthropicParams(err)
	}
	g, err := parseSampling(&t.req.Sampling, m, 0)
	if err != nil {
		return anthropicParams(err)
	}
	j, err := s.prepareChat(c, m, &t.req, g, t.msgs)
	if err != nil {
		return anthropicParams(err)
	}
	r, err := s.start(m.Backend, j.reqs, "messages")
	if err != nil {
		return err
	}
	base := anthropic.Message{ID: newID("msg_"), Type: "message", Role: "assistant", Model: m.ID, Content: []anthropic.ContentBlock{}}
	if j.g.stream {
		s.streamMessages(c, r, base, j, t.stops, m)
		return nil
	}
	defer r.finish()
	defer watchDisconnect(c, r)()
	res, err := s.collect(r, 1)
	if err != nil {
		return err
	}
	thinking, answer := j.think.split(res[0].text.String())
	if thinking != nil {
		empty := ""
		base.Content = append(base.Content, anthropic.ContentBlock{Type: "thinking", Thinking: thinking, Signature: &empty})
	}
	out := j.plan.parse(answer)
	if out.content != nil && (*out.content != "" || len(out.calls) == 0) {
		base.Content = append(base.Content, anthropic.ContentBlock{Type: "text", Text: out.content})
	}
	for _, call := range out.calls {
		base.Content = append(base.Content, anthropic.ContentBlock{Type: "tool_use", ID: call.ID, Name: call.Function.Name, Input: toolInput(call.Function.Arguments)})
	}
	reason, seq := anthropicStop(res[0].finish, len(out.calls) > 0, res[0].text.String(), res[0].tokens, t.stops, m)
	base.StopReason, base.StopSequence = &reason, seq
	base.Usage = anthropicUsage(res[0].usage)
	return c.JSON(base)
}

// toolInput is a call's arguments as the JSON object tool_use.input is;
// arguments that are not an object (a model's broken call) become {}.
func toolInput(args string) json.RawMessage {
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(args), &obj) != nil {
		return json.RawMessage("{}")
	}
	return json.RawMessage(args)
}

// anthropicUsage is u in Anthropic's shape: cached prompt tokens are
// cache reads.
func anthropicUsage(u control.Usage) anthropic.Usage {
	zero, cached := 0, u.CachedTokens
	return anthropic.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, CacheCreationInputTokens: &zero, CacheReadInputTokens: &cached}
}

// anthropicStop is the stop_reason (and stop_sequence) of a finish: a
// call ends with tool_use, max_tokens with max_tokens; a stop sequence is
// recognised by the text the generated tokens decode to past the answer
// (the engine leaves the stop text out of the answer).
func anthropicStop(f control.FinishReason, called bool, text string, tokens []int32, stops []string, m *Model) (string, *string) {
	switch {
	case f == control.FinishLength:
		return "max_tokens", nil
	case called:
		return "tool_use", nil
	}
	if len(stops) == 0 {
		return "end_turn", nil
	}
	// A decoder may drop a leading space the stream kept (SentencePiece).
	full := strings.TrimLeft(m.Tokenizer.Decode(tokens), " ")
	if rest, ok := strings.CutPrefix(full, strings.TrimLeft(text, " ")); ok {
		for _, st := range stops {
			if strings.HasPrefix(rest, st) {
				return "stop_sequence", &st
			}
		}
		return "end_turn", nil
	}
	// Otherwise the stop that ended the text is the one found last in it.
	best, at := -1, -1
	for i, st := range stops {
		if k := strings.LastIndex(full, st); k > at {
			best, at = i, k
		}
	}
	if best < 0 {
		return "end_turn", nil
	}
	return "stop_sequence", &stops[best]
}

// handleCountTokens is Anthropic's POST /v1/messages/count_tokens: the
// prompt length of a Messages request, tools included.
func (s *Server) handleCountTokens(c *fiber.Ctx) error {
	m, err := s.requestModel(c)
	if err != nil {
		return err
	}
	t, err := parseAnthropic(c, true)
	if err != nil {
		return anthropicParams(err)
	}
	if err := checkModel(t.req.Model, m); err != nil {
		return err
	}
	n, err := s.countChatTokens(m, &t.req, t.msgs)
	if err != nil {
		return anthropicParams(err)
	}
	return c.JSON(anthropic.TokensCount{InputTokens: n})
}
