package server

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"math"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/server/openai"
)

// Embedder computes one pooled, L2-normalised vector per token sequence.
// It is optional: a Model without one answers /v1/embeddings with a 400.
type Embedder interface {
	Embed(ctx context.Context, inputs [][]int32) ([][]float32, error)
}

// handleEmbeddings is POST /v1/embeddings: input as a string, strings,
// token ids or arrays of them; encoding_format float or base64; dimensions
// truncates (and renormalises) the vectors.
func (s *Server) handleEmbeddings(c *fiber.Ctx) error {
	m, err := s.requestModel(c)
	if err != nil {
		return err
	}
	var req openai.EmbeddingRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if err := checkModel(req.Model, m); err != nil {
		return err
	}
	prompts, err := parsePrompts(req.Input, m.Tokenizer, "input")
	if err != nil {
		return err
	}
	format := "float"
	if req.EncodingFormat != nil {
		format = *req.EncodingFormat
	}
	if format != "float" && format != "base64" {
		return badParam("encoding_format", "encoding_format: %q; want float or base64", format)
	}
	if req.Dimensions != nil && *req.Dimensions < 1 {
		return badParam("dimensions", "dimensions: %d; want >= 1", *req.Dimensions)
	}
	inputs := make([][]int32, len(prompts))
	total := 0
	vocab := m.Tokenizer.VocabSize()
	for i, p := range prompts {
		switch {
		case len(p.tokens) == 0:
			return badParam("input", "input[%d]: empty", i)
		case len(p.tokens) > m.ContextLen:
			return badParam("input", "input[%d]: %d tokens exceed the model's context of %d", i, len(p.tokens), m.ContextLen)
		}
		for _, id := range p.tokens {
			if id < 0 || int(id) >= vocab {
				return badParam("input", "input[%d]: %d is not a token id in [0, %d)", i, id, vocab)
			}
		}
		inputs[i] = p.tokens
		total += len(p.tokens)
	}
	if m.Embedder == nil {
		return notImplemented("input", "embeddings for this model")
	}
	ctx, cancel := s.requestContext()
	defer cancel()
	s.inflight.Add()
	vecs, err := m.Embedder.Embed(ctx, inputs)
	s.inflight.Done()
	if err != nil {
		return finishError(ctx, s.base, err)
	}
	out := openai.EmbeddingList{Object: "list", Model: m.ID, Usage: openai.Usage{PromptTokens: total, TotalTokens: total}}
	for i, v := range vecs {
		if req.Dimensions != nil {
			if *req.Dimensions > len(v) {
				return badParam("dimensions", "dimensions: %d exceeds the model's %d", *req.Dimensions, len(v))
			}
			v = normalize(v[:*req.Dimensions])
		}
		var e any = v
		if format == "base64" {
			b := make([]byte, 4*len(v))
			for j, f := range v {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(f))
			}
			e = base64.StdEncoding.EncodeToString(b)
		}
		out.Data = append(out.Data, openai.Embedding{Object: "embedding", Index: i, Embedding: e})
	}
	return c.JSON(out)
}

// normalize scales v to unit L2 norm (in place) and returns it.
func normalize(v []float32) []float32 {
	var ss float64
	for _, f := range v {
		ss += float64(f) * float64(f)
	}
	if ss > 0 {
		inv := float32(1 / math.Sqrt(ss))
		for i := range v {
			v[i] *= inv
		}
	}
	return v
}
