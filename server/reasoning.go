package server

import (
	"encoding/json"
	"strings"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/chat/reasoning"
	"github.com/kiln-llm/kiln/engine/tokenizer"
	"github.com/kiln-llm/kiln/server/openai"
)

// reasoningEfforts map OpenAI's reasoning_effort onto a thinking budget in
// tokens: none and minimal skip the thinking (the end marker comes
// first), low, medium and high allow 512, 2048 and 8192 tokens.
var reasoningEfforts = map[string]int{"none": 0, "minimal": 0, "low": 512, "medium": 2048, "high": 8192}

// reasoningPlan is how a request treats a reasoning model's thinking.
type reasoningPlan struct {
	parser *reasoning.Parser // nil: no split, the thinking stays content
	budget int               // thinking tokens before the end marker is forced; -1: none
	vars   map[string]any    // chat_template_kwargs
}

// planReasoning reads chat_template_kwargs, max_thinking_tokens and
// reasoning_effort against the server's --reasoning-parser.
// reasoning_effort without a parser is accepted and ignored (clients send
// it to any model); max_thinking_tokens without one is an error, since it
// could not be honoured.
func (s *Server) planReasoning(t *openai.Thinking) (*reasoningPlan, error) {
	p := &reasoningPlan{budget: -1}
	if s.opts.ReasoningParser != "" {
		var err error
		if p.parser, err = reasoning.New(s.opts.ReasoningParser); err != nil {
			return nil, err
		}
	}
	if !isNull(t.ChatTemplateKwargs) {
		if err := json.Unmarshal(t.ChatTemplateKwargs, &p.vars); err != nil || p.vars == nil {
			return nil, badParam("chat_template_kwargs", "chat_template_kwargs: wrong type: want an object of template variables")
		}
		for _, reserved := range []string{"messages", "tools", "add_generation_prompt", "bos_token", "eos_token"} {
			if _, ok := p.vars[reserved]; ok {
				return nil, badParam("chat_template_kwargs", "chat_template_kwargs: %q is set by the server, not the request", reserved)
			}
		}
	}
	if e := t.ReasoningEffort; e != nil {
		b, ok := reasoningEfforts[*e]
		if !ok {
			return nil, badParam("reasoning_effort", "reasoning_effort: %q; want none, minimal, low, medium or high", *e)
		}
		if p.parser != nil {
			p.budget = b
		}
	}
	if n := t.MaxThinkingTokens; n != nil {
		switch {
		case *n < 0:
			return nil, badParam("max_thinking_tokens", "max_thinking_tokens: %d; want >= 0", *n)
		case p.parser == nil:
			return nil, badParam("max_thinking_tokens", "max_thinking_tokens: the server splits no thinking; start it with --reasoning-parser (one of %s)", strings.Join(reasoning.Names(), ", "))
		}
		p.budget = *n
	}
	return p, nil
}

// renderTokens are the thinking markers the engine must leave in the text
// when the vocabulary holds them as control tokens.
func (p *reasoningPlan) renderTokens(tok *tokenizer.Tokenizer) []int32 {
	if p.parser == nil {
		return nil
	}
	var ids []int32
	for _, m := range []string{p.parser.Start(), p.parser.End()} {
		if id, ok := tok.TokenID(m); ok && tok.TokenType(id) == tokenizer.TokenControl {
			ids = append(ids, id)
		}
	}
	return ids
}

// constrain installs the thinking constraint on reqs when it is needed: a
// budget to enforce, or an output constraint (a JSON schema, a forced
// tool call) that must start after the thinking, not inside it.
func (p *reasoningPlan) constrain(reqs []control.Request, tok *tokenizer.Tokenizer) {
	if p.parser == nil {
		return
	}
	for i := range reqs {
		if p.budget < 0 && reqs[i].Constraint == nil {
			continue
		}
		reqs[i].Constraint = newThinkingConstraint(p.parser, tok, reqs[i].Constraint, p.budget)
	}
}

// split is a complete output's thinking (nil without any) and answer.
func (p *reasoningPlan) split(text string) (thinking *string, answer string) {
	if p == nil || p.parser == nil {
		return nil, text
	}
	th, an, ok := p.parser.Split(text)
	if !ok || th == "" {
		return nil, an
	}
	return &th, an
}

// newStream starts splitting one streamed output (nil without a parser).
func (p *reasoningPlan) newStream() *reasoning.Stream {
	if p == nil || p.parser == nil {
		return nil
	}
	return p.parser.NewStream()
}

// thinkingDelta is the chat delta of a piece of thinking.
func thinkingDelta(text string) openai.ChatMessage {
	a, b := text, text
	return openai.ChatMessage{ReasoningContent: &a, Reasoning: &b}
}
