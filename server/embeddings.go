package server

import (
	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/server/openai"
)

// handleEmbeddings is POST /v1/embeddings. The request is validated, but
// pooled hidden states need an output the engine does not expose yet, so a
// valid request is answered with a clear 400 (not a 5xx: SDKs retry those).
func (s *Server) handleEmbeddings(c *fiber.Ctx) error {
	m, err := s.ready()
	if err != nil {
		return err
	}
	var req openai.EmbeddingRequest
	if err := decodeBody(c.Body(), &req); err != nil {
		return err
	}
	if err := checkModel(req.Model, m); err != nil {
		return err
	}
	if isNull(req.Input) {
		return badParam("input", "input: required")
	}
	if _, err := parsePrompts(req.Input, m.Tokenizer); err != nil {
		if ae, ok := err.(*APIError); ok {
			ae.Param = "input"
		}
		return err
	}
	if f := req.EncodingFormat; f != nil && *f != "float" && *f != "base64" {
		return badParam("encoding_format", "encoding_format: %q; want float or base64", *f)
	}
	if req.Dimensions != nil && *req.Dimensions < 1 {
		return badParam("dimensions", "dimensions: %d; want >= 1", *req.Dimensions)
	}
	return notImplemented("input", "embeddings (pooled hidden states)")
}
