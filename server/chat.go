package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/chat"
	"github.com/kiln-llm/kiln/engine/chat/reasoning"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/server/openai"
)

// maxChatTopLogprobs is OpenAI's bound on top_logprobs.
const maxChatTopLogprobs = 20

// chatRoles are the roles a message may have.
var chatRoles = map[string]bool{"system": true, "developer": true, "user": true, "assistant": true, "tool": true, "function": true}

// parseMessages reads messages: an array of {role, content} where content
// is a string, an array of text parts, or null (assistant only); a tool
// message names the call it answers (tool_call_id).
func parseMessages(raw json.RawMessage) ([]chat.Message, error) {
	if isNull(raw) {
		return nil, badParam("messages", "messages: required")
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil, badParam("messages", "messages: wrong type: want an array of messages")
	}
	if len(items) == 0 {
		return nil, badParam("messages", "messages: empty; want at least one message")
	}
	out := make([]chat.Message, 0, len(items))
	for i, it := range items {
		p := fmt.Sprintf("messages[%d]", i)
		var m openai.Message
		if err := json.Unmarshal(it, &m); err != nil {
			return nil, badParam(p, "%s: wrong type: want an object with role and content", p)
		}
		if err := messageAlias(&m, p); err != nil {
			return nil, err
		}
		if !chatRoles[m.Role] {
			return nil, badParam(p+".role", "%s.role: %q; want system, developer, user, assistant or tool", p, m.Role)
		}
		if m.Role == "tool" && m.ToolCallID == "" {
			return nil, badParam(p+".tool_call_id", "%s.tool_call_id: required for role tool (the id of the call it answers)", p)
		}
		calls, err := messageToolCalls(m, p)
		if err != nil {
			return nil, err
		}
		content, err := messageContent(m, p)
		if err != nil {
			return nil, err
		}
		cm := chat.Message{Role: m.Role, Content: content, Name: m.Name, ToolCalls: calls, ToolCallID: m.ToolCallID}
		if isNull(m.Content) {
			cm.Content = nil // an assistant turn that only calls tools: templates see None
		}
		out = append(out, cm)
	}
	return out, nil
}

// messageToolCalls reads an assistant message's tool_calls: an array of
// {id, type: "function", function: {name, arguments}}, arguments being the
// JSON text OpenAI sends (an object is accepted too).
func messageToolCalls(m openai.Message, p string) ([]chat.ToolCall, error) {
	if isNull(m.ToolCalls) {
		return nil, nil
	}
	param := p + ".tool_calls"
	if m.Role != "assistant" {
		return nil, badParam(param, "%s: only assistant messages carry tool calls", param)
	}
	var items []openai.MessageToolCall
	if json.Unmarshal(m.ToolCalls, &items) != nil {
		return nil, badParam(param, "%s: wrong type: want an array of {id, type, function: {name, arguments}}", param)
	}
	out := make([]chat.ToolCall, 0, len(items))
	for j, it := range items {
		q := fmt.Sprintf("%s[%d]", param, j)
		if it.Type != "" && it.Type != "function" {
			return nil, badParam(q+".type", "%s.type: %q; want function", q, it.Type)
		}
		if it.Function == nil || it.Function.Name == "" {
			return nil, badParam(q+".function.name", "%s.function.name: required", q)
		}
		args := "{}"
		if a := it.Function.Arguments; !isNull(a) {
			var text string
			switch {
			case json.Unmarshal(a, &text) == nil:
				args = text
			case len(a) > 0 && a[0] == '{':
				args = string(a)
			default:
				return nil, badParam(q+".function.arguments", "%s.function.arguments: wrong type: want a string of JSON", q)
			}
		}
		out = append(out, chat.ToolCall{ID: it.ID, Type: "function", Function: chat.FunctionCall{Name: it.Function.Name, Arguments: args}})
	}
	return out, nil
}

// messageContent flattens a message's content; text parts are joined with
// newlines as vLLM does.
func messageContent(m openai.Message, p string) (string, error) {
	if isNull(m.Content) {
		if m.Role == "assistant" {
			return "", nil
		}
		return "", badParam(p+".content", "%s.content: required for role %s", p, m.Role)
	}
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s, nil
	}
	var parts []openai.ContentPart
	if json.Unmarshal(m.Content, &parts) != nil {
		return "", badParam(p+".content", "%s.content: wrong type: want a string or an array of content parts", p)
	}
	texts := make([]string, 0, len(parts))
	for j, part := range parts {
		switch part.Type {
		case "text":
			if part.Text == nil {
				return "", badParam(fmt.Sprintf("%s.content[%d].text", p, j), "%s.content[%d].text: required for a text part", p, j)
			}
			texts = append(texts, *part.Text)
		case "image_url", "input_image", "input_audio", "file":
			return "", notImplemented(fmt.Sprintf("%s.content[%d]", p, j), part.Type+" content")
		default:
			return "", badParam(fmt.Sprintf("%s.content[%d].type", p, j), "%s.content[%d].type: %q; want text", p, j, part.Type)
		}
	}
	return strings.Join(texts, "\n"), nil
}

// handleChat is POST /v1/chat/completions.
func (s *Server) handleChat(c *fiber.Ctx) error {
	m, err := s.requestModel(c)
	if err != nil {
		return err
	}
	var req openai.ChatRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	g, err := parseSampling(&req.Sampling, m, 0)
	if err != nil {
		return err
	}
	msgs, err := parseMessages(req.Messages)
	if err != nil {
		return err
	}
	if req.Logprobs != nil && *req.Logprobs {
		g.req.Logprobs = true
	}
	if req.TopLogprobs != nil {
		switch {
		case *req.TopLogprobs < 0 || *req.TopLogprobs > maxChatTopLogprobs:
			return badParam("top_logprobs", "top_logprobs: %d; want 0..%d", *req.TopLogprobs, maxChatTopLogprobs)
		case *req.TopLogprobs > 0 && !g.req.Logprobs:
			return badParam("top_logprobs", "top_logprobs: requires logprobs to be true")
		}
		g.req.TopLogprobs = *req.TopLogprobs
	}
	j, err := s.prepareChat(c, m, &req, g, msgs)
	if err != nil {
		return err
	}
	plan, think := j.plan, j.think
	r, err := s.start(m.Backend, j.reqs, "messages")
	if err != nil {
		return err
	}
	base := openai.ChatCompletion{ID: newID("chatcmpl-"), Created: time.Now().Unix(), Model: m.ID}
	if g.stream {
		s.streamChat(c, r, base, g.includeUsage, m.Tokenizer, plan, think)
		return nil
	}
	defer r.finish()
	defer watchDisconnect(c, r)()
	res, err := s.collect(r, r.n)
	if err != nil {
		return err
	}
	base.Object = "chat.completion"
	us := usages(res)
	for i := range res {
		thinking, answer := think.split(res[i].text.String())
		out := plan.parse(answer)
		msg := &openai.ReplyMessage{Role: s.opts.ResponseRole, Content: out.content, ToolCalls: out.calls, ReasoningContent: thinking, Reasoning: thinking}
		ch := openai.ChatChoice{Index: i, Message: msg, FinishReason: finishReason(res[i].finish)}
		if len(out.calls) > 0 && res[i].finish == control.FinishStop {
			ch.FinishReason = finishReason(finishToolCalls) // a cut answer stays "length", as OpenAI's
		}
		if g.req.Logprobs {
			ch.Logprobs = chatLogprobs(res[i].logprobs, m.Tokenizer)
		}
		base.Choices = append(base.Choices, ch)
	}
	base.Usage = usage(g.n, us...)
	return c.JSON(base)
}

// finishToolCalls is OpenAI's finish_reason of an answer that calls tools.
const finishToolCalls control.FinishReason = "tool_calls"

// renderChat renders the conversation (and the tools, if any) with the
// chat template; a template's refusal is the client's 400.
func renderChat(tmpl ChatTemplate, msgs []chat.Message, tools []json.RawMessage, addGeneration bool) (string, error) {
	return renderChatVars(tmpl, msgs, tools, addGeneration, nil)
}

// varsRenderer is a ChatTemplate that takes further template variables
// (chat_template_kwargs); *chat.Renderer is one.
type varsRenderer interface {
	RenderVars(msgs []chat.Message, tools []json.RawMessage, addGeneration bool, vars map[string]any) (string, error)
}

// renderChatVars is renderChat with chat_template_kwargs.
func renderChatVars(tmpl ChatTemplate, msgs []chat.Message, tools []json.RawMessage, addGeneration bool, vars map[string]any) (string, error) {
	var text string
	var err error
	if vr, ok := tmpl.(varsRenderer); ok && len(vars) > 0 {
		text, err = vr.RenderVars(msgs, tools, addGeneration, vars)
	} else if len(vars) > 0 {
		return "", badParam("chat_template_kwargs", "chat_template_kwargs: this chat template takes no variables")
	} else {
		text, err = tmpl.Render(msgs, tools, addGeneration)
	}
	if err != nil {
		return "", badParam("messages", "messages: the chat template failed: %v", err)
	}
	return text, nil
}

// streamChat streams a chat answer: per choice the role first, then
// content deltas, finish_reason in its last chunk; then the usage chunk if
// asked. With tools, each choice's text goes through the tool-call parser's
// stream: content deltas as they are decided, and per call a delta with
// index, id, type and name (arguments "") and then its argument fragments,
// exactly as OpenAI streams them; finish_reason is then "tool_calls".
func (s *Server) streamChat(c *fiber.Ctx, r *run, base openai.ChatCompletion, includeUsage bool, tok *tokenizer.Tokenizer, plan *toolPlan, think *reasoningPlan) {
	base.Object = "chat.completion.chunk"
	us := make([]control.Usage, r.n)
	var index int
	chunk := func(delta openai.ChatMessage) openai.ChatCompletion {
		ch := base
		ch.Choices = []openai.ChatChoice{{Index: index, Delta: &delta}}
		return ch
	}
	started := make([]bool, r.n)
	streams := make([]*toolStream, r.n)
	thinking := make([]*reasoning.Stream, r.n)
	s.streamRun(c, r, func(out *sse, ie indexedEvent) {
		index = ie.i
		if !started[ie.i] {
			started[ie.i] = true
			empty := ""
			out.send(chunk(openai.ChatMessage{Role: s.opts.ResponseRole, Content: &empty}))
			streams[ie.i] = plan.newStream()
			thinking[ie.i] = think.newStream()
		}
		ev := ie.ev
		ts := streams[ie.i]
		var lps *openai.ChatLogprobs
		if len(ev.Logprobs) > 0 {
			lps = chatLogprobs(ev.Logprobs, tok)
		}
		send := func(delta openai.ChatMessage) {
			ch := chunk(delta)
			ch.Choices[0].Logprobs, lps = lps, nil // the event's logprobs ride on its first chunk
			out.send(ch)
		}
		// The thinking (with a reasoning parser) goes out as reasoning
		// deltas; only the answer reaches the tool-call parser.
		answer := ev.Text
		if th := thinking[ie.i]; th != nil {
			d := th.Push(ev.Text)
			if ev.Finish != "" {
				f := th.Finish()
				d.Reasoning, d.Content = d.Reasoning+f.Reasoning, d.Content+f.Content
			}
			if d.Reasoning != "" {
				send(thinkingDelta(d.Reasoning))
			}
			answer = d.Content
		}
		for _, d := range ts.push(answer) {
			send(d)
		}
		if ev.Finish != "" {
			for _, d := range ts.finish() {
				send(d)
			}
		}
		if lps != nil {
			send(openai.ChatMessage{}) // text held back by the parser: the logprobs still go now
		}
		if ev.Finish != "" {
			ch := chunk(openai.ChatMessage{})
			ch.Choices[0].FinishReason = finishReason(ev.Finish)
			if ts.calls > 0 && ev.Finish == control.FinishStop {
				ch.Choices[0].FinishReason = finishReason(finishToolCalls)
			}
			out.send(ch)
			if ev.Usage != nil {
				us[ie.i] = *ev.Usage
			}
		}
	}, func(out *sse) {
		if includeUsage {
			ch := base
			ch.Choices = []openai.ChatChoice{}
			ch.Usage = usage(r.n, us...)
			out.send(ch)
		}
	})
}

// chatLogprobs is the chat logprobs object for lps.
func chatLogprobs(lps []control.TokenLogprob, tok *tokenizer.Tokenizer) *openai.ChatLogprobs {
	out := &openai.ChatLogprobs{Content: make([]openai.ChatTokenLogprob, 0, len(lps))}
	for _, lp := range lps {
		piece := tok.TokenToPiece(lp.ID)
		e := openai.ChatTokenLogprob{Token: piece, Logprob: lp.Logprob, Bytes: byteInts(piece), TopLogprobs: make([]openai.TopLogprob, 0, len(lp.Top))}
		for _, t := range lp.Top {
			p := tok.TokenToPiece(t.ID)
			e.TopLogprobs = append(e.TopLogprobs, openai.TopLogprob{Token: p, Logprob: t.Logprob, Bytes: byteInts(p)})
		}
		out.Content = append(out.Content, e)
	}
	return out
}

// byteInts is s's bytes as JSON numbers (OpenAI's "bytes").
func byteInts(s string) []int {
	b := make([]int, len(s))
	for i := range len(s) {
		b[i] = int(s[i])
	}
	return b
}
