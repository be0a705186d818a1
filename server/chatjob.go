package server

import (
	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/chat"
	"github.com/kiln-llm/kiln/server/openai"
)

// chatJob is a chat request ready to submit: its tool plan, reasoning
// plan and engine requests. The chat endpoint builds one, and so do the
// chat-shaped APIs (Anthropic's Messages, OpenAI's Responses): they map
// their parameters onto an openai.ChatRequest and their conversation onto
// chat.Messages, and from there the same parsers, plans, template and
// constraints apply.
type chatJob struct {
	g     genParams
	plan  *toolPlan
	think *reasoningPlan
	reqs  []control.Request
}

// prepareChat plans req's tools and reasoning (its Messages are not read:
// msgs is the conversation, g its parsed sampling parameters), renders
// and tokenizes the prompt and builds the engine requests, constrained by
// the output grammar or the forced tool call.
func (s *Server) prepareChat(c *fiber.Ctx, m *Model, req *openai.ChatRequest, g genParams, msgs []chat.Message) (*chatJob, error) {
	var err error
	j := &chatJob{}
	if j.plan, err = s.planTools(req, m); err != nil {
		return nil, err
	}
	if j.think, err = s.planReasoning(&req.Thinking); err != nil {
		return nil, err
	}
	g.req.RenderTokens = append(j.plan.markerTokens(m.Tokenizer), j.think.renderTokens(m.Tokenizer)...)
	og, err := s.outputGrammar(&req.Sampling)
	if err != nil {
		return nil, err
	}
	if j.plan.grammar != nil {
		if og != nil {
			return nil, errConflict(describeGrammarParam(&req.Sampling))
		}
		og = j.plan.grammar
	}
	tmpl, err := m.template()
	if err != nil {
		return nil, err
	}
	text, err := renderChatVars(tmpl, msgs, j.plan.tools, true, j.think.vars)
	if err != nil {
		return nil, err
	}
	g.req.Prompt = m.encodeChat(text, tmpl)
	if err := checkContext(&g, len(g.req.Prompt), m, "messages"); err != nil {
		return nil, err
	}
	m.endOfTurn(&g.req, tmpl)
	j.reqs = g.expand([][]int32{g.req.Prompt}, c.GetRespHeader(RequestIDHeader))
	s.constrain(j.reqs, m, og)
	j.think.constrain(j.reqs, m.Tokenizer)
	j.g = g
	return j, nil
}

// countChatTokens is the prompt length msgs (and the tools of req) render
// to, without generating: Anthropic's count_tokens.
func (s *Server) countChatTokens(m *Model, req *openai.ChatRequest, msgs []chat.Message) (int, error) {
	if err := checkStructured(&req.Sampling); err != nil {
		return 0, err
	}
	tmpl, err := m.template()
	if err != nil {
		return 0, err
	}
	p := &toolPlan{}
	for _, t := range req.Tools {
		p.tools = append(p.tools, toolJSON(t))
	}
	think, err := s.planReasoning(&req.Thinking)
	if err != nil {
		return 0, err
	}
	text, err := renderChatVars(tmpl, msgs, p.tools, true, think.vars)
	if err != nil {
		return 0, err
	}
	return len(m.encodeChat(text, tmpl)), nil
}
