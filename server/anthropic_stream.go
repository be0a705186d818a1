package server

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/server/anthropic"
	"github.com/kiln-llm/kiln/server/openai"
)

// anthropicBlocks writes an answer's content blocks as stream events:
// each block opens with content_block_start, grows by deltas and closes
// with content_block_stop before the next one opens.
type anthropicBlocks struct {
	out   *sse
	open  string // the open block's type; "" for none
	index int    // the open block's index
	next  int
}

func (b *anthropicBlocks) start(block anthropic.ContentBlock) {
	b.stop()
	b.open, b.index = block.Type, b.next
	b.next++
	b.out.event("content_block_start", anthropic.ContentBlockStart{Type: "content_block_start", Index: b.index, ContentBlock: block})
}

func (b *anthropicBlocks) stop() {
	if b.open != "" {
		b.out.event("content_block_stop", anthropic.ContentBlockStop{Type: "content_block_stop", Index: b.index})
		b.open = ""
	}
}

func (b *anthropicBlocks) delta(d anthropic.Delta) {
	b.out.event("content_block_delta", anthropic.ContentBlockDelta{Type: "content_block_delta", Index: b.index, Delta: d})
}

func (b *anthropicBlocks) thinking(text string) {
	if b.open != "thinking" {
		empty, sig := "", ""
		b.start(anthropic.ContentBlock{Type: "thinking", Thinking: &empty, Signature: &sig})
	}
	b.delta(anthropic.Delta{Type: "thinking_delta", Thinking: &text})
}

func (b *anthropicBlocks) text(text string) {
	if b.open != "text" {
		empty := ""
		b.start(anthropic.ContentBlock{Type: "text", Text: &empty})
	}
	b.delta(anthropic.Delta{Type: "text_delta", Text: &text})
}

// chat writes a chat delta of the tool-call stream: content as text, a
// call's first piece as a new tool_use block, its argument fragments as
// input_json_delta.
func (b *anthropicBlocks) chat(d openai.ChatMessage) {
	if d.Content != nil && *d.Content != "" {
		b.text(*d.Content)
	}
	for _, tc := range d.ToolCalls {
		if tc.ID != "" {
			b.start(anthropic.ContentBlock{Type: "tool_use", ID: tc.ID, Name: tc.Function.Name, Input: []byte("{}")})
		}
		if b.open == "tool_use" && tc.Function.Arguments != "" {
			frag := tc.Function.Arguments
			b.delta(anthropic.Delta{Type: "input_json_delta", PartialJSON: &frag})
		}
	}
}

// streamMessages streams a Messages answer as Anthropic does: message_start
// (and a ping), the content blocks, message_delta with the stop reason and
// usage, message_stop. A failure mid-way is an error event.
func (s *Server) streamMessages(c *fiber.Ctx, r *run, base anthropic.Message, j *chatJob, stops []string, m *Model) {
	ts := j.plan.newStream()
	th := j.think.newStream()
	var blocks *anthropicBlocks
	var text strings.Builder
	var tokens []int32
	started := false
	begin := func(out *sse) {
		if started {
			return
		}
		started = true
		blocks = &anthropicBlocks{out: out}
		msg := base
		msg.Usage = anthropic.Usage{InputTokens: len(j.reqs[0].Prompt)}
		out.event("message_start", anthropic.MessageStart{Type: "message_start", Message: msg})
		out.event("ping", anthropic.Event{Type: "ping"})
	}
	var last control.Event
	s.streamEvents(c, r, func(out *sse, ie indexedEvent) {
		begin(out)
		ev := ie.ev
		text.WriteString(ev.Text)
		tokens = append(tokens, ev.Tokens...)
		answer := ev.Text
		if th != nil {
			d := th.Push(ev.Text)
			if ev.Finish != "" {
				f := th.Finish()
				d.Reasoning, d.Content = d.Reasoning+f.Reasoning, d.Content+f.Content
			}
			if d.Reasoning != "" {
				blocks.thinking(d.Reasoning)
			}
			answer = d.Content
		}
		for _, d := range ts.push(answer) {
			blocks.chat(d)
		}
		if ev.Finish != "" {
			for _, d := range ts.finish() {
				blocks.chat(d)
			}
			last = ev
		}
	}, func(out *sse, ae *APIError) {
		out.event("error", anthropicError(ae))
	}, func(out *sse) {
		begin(out)
		blocks.stop()
		reason, seq := anthropicStop(last.Finish, ts.calls > 0, text.String(), tokens, stops, m)
		var u control.Usage
		if last.Usage != nil {
			u = *last.Usage
		}
		out.event("message_delta", anthropic.MessageDelta{Type: "message_delta",
			Delta: anthropic.MessageOutcome{StopReason: &reason, StopSequence: seq}, Usage: anthropicUsage(u)})
		out.event("message_stop", anthropic.Event{Type: "message_stop"})
	})
}
