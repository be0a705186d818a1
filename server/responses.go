package server

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/chat"
	"github.com/kiln-llm/kiln/server/openai"
)

// handleResponses is POST /v1/responses, OpenAI's Responses API. The
// conversation is instructions, then the previous response's conversation
// (previous_response_id, from the store), then input; it is rendered with
// the chat template and generated like a chat completion. A follow-up's
// prompt extends the previous one's tokens, so the prefix cache serves
// everything but its new turn (usage.input_tokens_details.cached_tokens
// shows it). With store (the default) the answer is kept, bounded, for GET
// and later follow-ups.
func (s *Server) handleResponses(c *fiber.Ctx) error {
	m, err := s.requestModel(c)
	if err != nil {
		return err
	}
	t, err := parseResponseRequest(c)
	if err != nil {
		return responseParams(err)
	}
	var history []chat.Message
	if id := t.in.PreviousResponseID; id != nil {
		prev, ok := s.responses.get(*id)
		if !ok {
			return &APIError{Status: fiber.StatusNotFound, Type: "invalid_request_error", Param: "previous_response_id", Code: "previous_response_not_found",
				Message: "Previous response with id '" + *id + "' not found (never stored, deleted, or evicted from the server's bounded store)."}
		}
		history = prev.history
	}
	var msgs []chat.Message
	if t.in.Instructions != nil && *t.in.Instructions != "" {
		msgs = append(msgs, chat.Message{Role: "system", Content: *t.in.Instructions})
	}
	msgs = append(append(msgs, history...), t.input...)
	g, err := parseSampling(&t.req.Sampling, m, 0)
	if err != nil {
		return responseParams(err)
	}
	j, err := s.prepareChat(c, m, &t.req, g, msgs)
	if err != nil {
		return responseParams(err)
	}
	r, err := s.start(m.Backend, j.reqs, "input")
	if err != nil {
		return err
	}
	resp := t.responseObject(m)
	conv := append(append([]chat.Message{}, history...), t.input...)
	if j.g.stream {
		s.streamResponse(c, r, m, resp, j, t, conv)
		return nil
	}
	defer r.finish()
	defer watchDisconnect(c, r)()
	res, err := s.collect(r, 1)
	if err != nil {
		return err
	}
	b := newResponseBuilder(resp)
	thinking, answer := j.think.split(res[0].text.String())
	if thinking != nil {
		b.reasoning(*thinking)
	}
	out := j.plan.parse(answer)
	if out.content != nil && (*out.content != "" || len(out.calls) == 0) {
		b.message(*out.content)
	}
	for _, call := range out.calls {
		b.call(call.ID, call.Function.Name, call.Function.Arguments)
	}
	b.finish(res[0].finish, res[0].usage, m)
	s.storeResponse(t, b.resp, conv, out.content, out.calls)
	return c.JSON(b.resp)
}

// responseObject is the response as created: in progress, no output, the
// request's settings echoed.
func (t *responseTurn) responseObject(m *Model) *openai.Response {
	in := &t.in
	r := &openai.Response{ID: newID("resp_"), Object: "response", CreatedAt: time.Now().Unix(), Status: "in_progress",
		Instructions: in.Instructions, MaxOutputTokens: in.MaxOutputTokens, Model: m.ID, Output: []openai.ResponseItem{},
		ParallelToolCalls: in.ParallelToolCalls == nil || *in.ParallelToolCalls, PreviousResponseID: in.PreviousResponseID,
		Store: t.store, Temperature: in.Temperature, TopP: in.TopP, ToolChoice: in.ToolChoice, Tools: t.tools,
		Text: in.Text, Metadata: in.Metadata, Truncation: "disabled", User: in.User, ServiceTier: "default"}
	if r.Text == nil || r.Text.Format == nil {
		r.Text = &openai.ResponseText{Format: &openai.ResponseTextFormat{Type: "text"}}
	}
	if isNull(r.ToolChoice) {
		r.ToolChoice = json.RawMessage(`"auto"`)
	}
	if isNull(r.Metadata) {
		r.Metadata = json.RawMessage(`{}`)
	}
	if in.Truncation != nil {
		r.Truncation = *in.Truncation
	}
	if in.Reasoning != nil {
		r.Reasoning = &openai.ResponseReasoning{Effort: in.Reasoning.Effort}
	}
	return r
}

// storeResponse keeps a finished response and its conversation (the
// input plus the answer as an assistant message) when the request asked.
func (s *Server) storeResponse(t *responseTurn, resp *openai.Response, conv []chat.Message, content *string, calls []openai.ToolCall) {
	if !t.store {
		return
	}
	reply := chat.Message{Role: "assistant"}
	if content != nil {
		reply.Content = *content
	}
	for _, c := range calls {
		reply.ToolCalls = append(reply.ToolCalls, chat.ToolCall{ID: c.ID, Type: "function", Function: chat.FunctionCall{Name: c.Function.Name, Arguments: c.Function.Arguments}})
	}
	s.responses.put(&storedResponse{resp: *resp, history: append(conv, reply)})
}

// handleGetResponse is GET /v1/responses/{id}.
func (s *Server) handleGetResponse(c *fiber.Ctx) error {
	r, ok := s.responses.get(c.Params("id"))
	if !ok {
		return responseNotFound(c.Params("id"))
	}
	return c.JSON(r.resp)
}

// handleDeleteResponse is DELETE /v1/responses/{id}.
func (s *Server) handleDeleteResponse(c *fiber.Ctx) error {
	id := c.Params("id")
	if !s.responses.delete(id) {
		return responseNotFound(id)
	}
	return c.JSON(openai.ResponseDeleted{ID: id, Object: "response.deleted", Deleted: true})
}

// responseNotFound is the 404 for an id the store does not hold.
func responseNotFound(id string) *APIError {
	return &APIError{Status: fiber.StatusNotFound, Type: "invalid_request_error", Code: "not_found",
		Message: "No response with id '" + id + "' found (never stored, deleted, or evicted from the server's bounded store)."}
}

// responseBuilder assembles a response's output items.
type responseBuilder struct {
	resp     *openai.Response
	thinking string
}

func newResponseBuilder(r *openai.Response) *responseBuilder { return &responseBuilder{resp: r} }

// reasoning adds a reasoning item with the thinking as reasoning_text.
func (b *responseBuilder) reasoning(text string) *openai.ResponseItem {
	b.thinking += text
	b.resp.Output = append(b.resp.Output, openai.ResponseItem{ID: newID("rs_"), Type: "reasoning", Status: "completed",
		Summary: &[]openai.ResponseOutputPart{}, Content: &[]openai.ResponseOutputPart{{Type: "reasoning_text", Text: text}}})
	return &b.resp.Output[len(b.resp.Output)-1]
}

// message adds an assistant message with one output_text part.
func (b *responseBuilder) message(text string) *openai.ResponseItem {
	b.resp.Output = append(b.resp.Output, openai.ResponseItem{ID: newID("msg_"), Type: "message", Status: "completed", Role: "assistant",
		Content: &[]openai.ResponseOutputPart{outputText(text)}})
	return &b.resp.Output[len(b.resp.Output)-1]
}

// outputText is an output_text part.
func outputText(text string) openai.ResponseOutputPart {
	return openai.ResponseOutputPart{Type: "output_text", Text: text, Annotations: &[]json.RawMessage{}, Logprobs: &[]json.RawMessage{}}
}

// call adds a function_call item.
func (b *responseBuilder) call(callID, name, args string) *openai.ResponseItem {
	b.resp.Output = append(b.resp.Output, openai.ResponseItem{ID: newID("fc_"), Type: "function_call", Status: "completed",
		CallID: callID, Name: name, Arguments: &args})
	return &b.resp.Output[len(b.resp.Output)-1]
}

// finish sets the status (incomplete when max_output_tokens cut the
// answer), output_text and usage.
func (b *responseBuilder) finish(f control.FinishReason, u control.Usage, m *Model) {
	r := b.resp
	r.Status = "completed"
	if f == control.FinishLength {
		r.Status, r.IncompleteDetails = "incomplete", &openai.IncompleteDetails{Reason: "max_output_tokens"}
		for i := range r.Output {
			r.Output[i].Status = "incomplete"
		}
	}
	var text strings.Builder
	for _, it := range r.Output {
		if it.Type == "message" && it.Content != nil {
			for _, p := range *it.Content {
				text.WriteString(p.Text)
			}
		}
	}
	r.OutputText = text.String()
	done := time.Now().Unix()
	r.CompletedAt = &done
	r.Usage = &openai.ResponseUsage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens, TotalTokens: u.PromptTokens + u.CompletionTokens}
	r.Usage.InputTokensDetails.CachedTokens = u.CachedTokens
	if b.thinking != "" {
		r.Usage.OutputTokensDetails.ReasoningTokens = min(len(m.Tokenizer.Encode(b.thinking, false, true)), u.CompletionTokens)
	}
}
