package server

import (
	"encoding/json"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/chat"
	"github.com/kiln-llm/kiln/server/openai"
)

// responseStream writes a Responses stream: every event named by its type
// and numbered by sequence_number; output items open with
// response.output_item.added (a message's text part with
// response.content_part.added), grow by deltas, and close with their
// .done events before the next one opens.
type responseStream struct {
	out  *sse
	seq  int
	b    *responseBuilder
	open string // the open item's type; "" for none
	at   int    // its output index
	text strings.Builder
	name string // the open function call's name
	cut  bool   // max_output_tokens ended the answer: items close incomplete
}

func (st *responseStream) emit(ev openai.ResponseEvent) {
	ev.SequenceNumber = st.seq
	st.seq++
	st.out.event(ev.Type, ev)
}

// snapshot is a copy of the response so far (events must not alias the
// builder's slices).
func (st *responseStream) snapshot() *openai.Response {
	r := *st.b.resp
	r.Output = make([]openai.ResponseItem, len(st.b.resp.Output))
	copy(r.Output, st.b.resp.Output)
	return &r
}

func (st *responseStream) item() *openai.ResponseItem { return &st.b.resp.Output[st.at] }

func intp(i int) *int { return &i }

// begin opens an item just added to the builder, in progress and empty.
func (st *responseStream) begin(kind string) {
	st.close()
	st.open, st.at = kind, len(st.b.resp.Output)-1
	st.text.Reset()
	it := st.item()
	it.Status = "in_progress"
	added := *it
	switch kind {
	case "message":
		added.Content = &[]openai.ResponseOutputPart{}
	case "reasoning":
		added.Content = &[]openai.ResponseOutputPart{}
	case "function_call":
		empty := ""
		added.Arguments = &empty
	}
	st.emit(openai.ResponseEvent{Type: "response.output_item.added", OutputIndex: intp(st.at), Item: &added})
	switch kind {
	case "message":
		part := outputText("")
		st.emit(openai.ResponseEvent{Type: "response.content_part.added", ItemID: it.ID, OutputIndex: intp(st.at), ContentIndex: intp(0), Part: &part})
	case "reasoning":
		part := openai.ResponseOutputPart{Type: "reasoning_text"}
		st.emit(openai.ResponseEvent{Type: "response.content_part.added", ItemID: it.ID, OutputIndex: intp(st.at), ContentIndex: intp(0), Part: &part})
	}
}

// close ends the open item with its .done events.
func (st *responseStream) close() {
	if st.open == "" {
		return
	}
	it := st.item()
	it.Status = "completed"
	if st.cut {
		it.Status = "incomplete"
	}
	text := st.text.String()
	switch st.open {
	case "message":
		part := outputText(text)
		it.Content = &[]openai.ResponseOutputPart{part}
		st.emit(openai.ResponseEvent{Type: "response.output_text.done", ItemID: it.ID, OutputIndex: intp(st.at), ContentIndex: intp(0), Text: &text, Logprobs: &[]json.RawMessage{}})
		st.emit(openai.ResponseEvent{Type: "response.content_part.done", ItemID: it.ID, OutputIndex: intp(st.at), ContentIndex: intp(0), Part: &part})
	case "reasoning":
		part := openai.ResponseOutputPart{Type: "reasoning_text", Text: text}
		it.Content = &[]openai.ResponseOutputPart{part}
		st.emit(openai.ResponseEvent{Type: "response.reasoning_text.done", ItemID: it.ID, OutputIndex: intp(st.at), ContentIndex: intp(0), Text: &text})
		st.emit(openai.ResponseEvent{Type: "response.content_part.done", ItemID: it.ID, OutputIndex: intp(st.at), ContentIndex: intp(0), Part: &part})
	case "function_call":
		it.Arguments = &text
		st.emit(openai.ResponseEvent{Type: "response.function_call_arguments.done", ItemID: it.ID, OutputIndex: intp(st.at), Arguments: &text, Name: st.name})
	}
	done := *it
	st.emit(openai.ResponseEvent{Type: "response.output_item.done", OutputIndex: intp(st.at), Item: &done})
	st.open = ""
}

func (st *responseStream) thinking(text string) {
	if st.open != "reasoning" {
		st.b.reasoning("")
		st.begin("reasoning")
	}
	st.text.WriteString(text)
	st.b.thinking += text
	st.emit(openai.ResponseEvent{Type: "response.reasoning_text.delta", ItemID: st.item().ID, OutputIndex: intp(st.at), ContentIndex: intp(0), Delta: &text})
}

// chat writes a delta of the tool-call stream: content as output text, a
// call's first piece as a new function_call item, its argument fragments
// as function_call_arguments deltas.
func (st *responseStream) chat(d openai.ChatMessage) {
	if d.Content != nil && *d.Content != "" {
		if st.open != "message" {
			st.b.message("")
			st.begin("message")
		}
		text := *d.Content
		st.text.WriteString(text)
		st.emit(openai.ResponseEvent{Type: "response.output_text.delta", ItemID: st.item().ID, OutputIndex: intp(st.at), ContentIndex: intp(0), Delta: &text, Logprobs: &[]json.RawMessage{}})
	}
	for _, tc := range d.ToolCalls {
		if tc.ID != "" {
			st.b.call(tc.ID, tc.Function.Name, "")
			st.name = tc.Function.Name
			st.begin("function_call")
		}
		if st.open == "function_call" && tc.Function.Arguments != "" {
			frag := tc.Function.Arguments
			st.text.WriteString(frag)
			st.emit(openai.ResponseEvent{Type: "response.function_call_arguments.delta", ItemID: st.item().ID, OutputIndex: intp(st.at), Delta: &frag})
		}
	}
}

// streamResponse streams a response: response.created and
// response.in_progress, the output items, then response.completed (or
// response.incomplete when max_output_tokens cut it). A failure is an
// error event followed by response.failed.
func (s *Server) streamResponse(c *fiber.Ctx, r *run, m *Model, resp *openai.Response, j *chatJob, t *responseTurn, conv []chat.Message) {
	ts := j.plan.newStream()
	th := j.think.newStream()
	var st *responseStream
	begin := func(out *sse) {
		if st != nil {
			return
		}
		st = &responseStream{out: out, b: newResponseBuilder(resp)}
		st.emit(openai.ResponseEvent{Type: "response.created", Response: st.snapshot()})
		st.emit(openai.ResponseEvent{Type: "response.in_progress", Response: st.snapshot()})
	}
	var last control.Event
	var content strings.Builder
	s.streamEvents(c, r, func(out *sse, ie indexedEvent) {
		begin(out)
		ev := ie.ev
		answer := ev.Text
		if th != nil {
			d := th.Push(ev.Text)
			if ev.Finish != "" {
				f := th.Finish()
				d.Reasoning, d.Content = d.Reasoning+f.Reasoning, d.Content+f.Content
			}
			if d.Reasoning != "" {
				st.thinking(d.Reasoning)
			}
			answer = d.Content
		}
		ds := ts.push(answer)
		if ev.Finish != "" {
			ds = append(ds, ts.finish()...)
			last = ev
		}
		for _, d := range ds {
			if d.Content != nil {
				content.WriteString(*d.Content)
			}
			st.chat(d)
		}
	}, func(out *sse, ae *APIError) {
		begin(out)
		code, param := ae.Code, ae.Param
		if code == "" {
			code = ae.Type
		}
		ev := openai.ResponseEvent{Type: "error", Code: &code, Message: ae.Message}
		if param != "" {
			ev.Param = &param
		}
		st.emit(ev)
		st.close()
		st.b.resp.Status = "failed"
		st.b.resp.Error = &openai.ResponseError{Code: code, Message: ae.Message}
		st.emit(openai.ResponseEvent{Type: "response.failed", Response: st.snapshot()})
	}, func(out *sse) {
		begin(out)
		st.cut = last.Finish == control.FinishLength
		st.close()
		var u control.Usage
		if last.Usage != nil {
			u = *last.Usage
		}
		if len(st.b.resp.Output) == 0 { // nothing generated: an empty message, as a whole answer has
			st.b.message("")
			st.begin("message")
			st.close()
		}
		st.b.finish(last.Finish, u, m)
		kind := "response.completed"
		if st.b.resp.Status == "incomplete" {
			kind = "response.incomplete"
		}
		st.emit(openai.ResponseEvent{Type: kind, Response: st.snapshot()})
		var calls []openai.ToolCall
		for _, it := range st.b.resp.Output {
			if it.Type == "function_call" {
				calls = append(calls, openai.ToolCall{ID: it.CallID, Type: "function", Function: openai.FunctionCall{Name: it.Name, Arguments: *it.Arguments}})
			}
		}
		text := content.String()
		s.storeResponse(t, st.b.resp, conv, &text, calls)
	})
}
