package server

import (
	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/server/openai"
)

// handleTokenize is POST /tokenize (vLLM's): a prompt, or messages rendered
// with the chat template, to token ids.
func (s *Server) handleTokenize(c *fiber.Ctx) error {
	m, err := s.requestModel(c)
	if err != nil {
		return err
	}
	var req openai.TokenizeRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if err := checkModel(req.Model, m); err != nil {
		return err
	}
	addSpecial := req.AddSpecialTokens == nil || *req.AddSpecialTokens
	var text string
	switch {
	case req.Prompt != nil && !isNull(req.Messages):
		return badParam("messages", "give prompt or messages, not both")
	case req.Prompt != nil:
		text = *req.Prompt
	case !isNull(req.Messages):
		msgs, err := parseMessages(req.Messages)
		if err != nil {
			return err
		}
		tmpl, err := m.template()
		if err != nil {
			return err
		}
		if text, err = renderChat(tmpl, msgs, nil, req.AddGenerationPrompt == nil || *req.AddGenerationPrompt); err != nil {
			return err
		}
	default:
		return badParam("prompt", "prompt: required (or messages)")
	}
	ids := m.Tokenizer.Encode(text, addSpecial, true)
	if ids == nil {
		ids = []int32{}
	}
	return c.JSON(openai.TokenizeResponse{Count: len(ids), MaxModelLen: m.ContextLen, Tokens: ids})
}

// handleDetokenize is POST /detokenize: token ids to text.
func (s *Server) handleDetokenize(c *fiber.Ctx) error {
	m, err := s.requestModel(c)
	if err != nil {
		return err
	}
	var req openai.DetokenizeRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if err := checkModel(req.Model, m); err != nil {
		return err
	}
	if req.Tokens == nil {
		return badParam("tokens", "tokens: required")
	}
	vocab := m.Tokenizer.VocabSize()
	for i, id := range req.Tokens {
		if id < 0 || int(id) >= vocab {
			return badParam("tokens", "tokens[%d]: %d is not a token id in [0, %d)", i, id, vocab)
		}
	}
	// Without BOS/EOS and control tokens, as vLLM's skip_special_tokens; a
	// leading BOS goes first so SentencePiece's added space is removed too.
	ids := req.Tokens
	if len(ids) > 0 && ids[0] == m.Tokenizer.BOS() {
		ids = ids[1:]
	}
	return c.JSON(openai.DetokenizeResponse{Prompt: m.Tokenizer.Detokenize(ids, true, false)})
}
