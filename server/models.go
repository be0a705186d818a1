package server

import (
	"path/filepath"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/server/openai"
)

// modelEntry is m as GET /v1/models lists it. Its root is the model
// file's base name (the id when there is no file): where the server keeps
// its files is none of the client's business.
func modelEntry(m *Model) openai.Model {
	root := m.ID
	if m.Root != "" {
		root = filepath.Base(m.Root)
	}
	return openai.Model{ID: m.ID, Object: "model", Created: m.Created, OwnedBy: "kiln", Root: root, MaxModelLen: m.ContextLen}
}

// handleModels is GET /v1/models.
func (s *Server) handleModels(c *fiber.Ctx) error {
	m, err := s.ready()
	if err != nil {
		return err
	}
	return c.JSON(openai.ModelList{Object: "list", Data: []openai.Model{modelEntry(m)}})
}

// handleModel is GET /v1/models/{id}; ids may contain slashes.
func (s *Server) handleModel(c *fiber.Ctx) error {
	m, err := s.ready()
	if err != nil {
		return err
	}
	if id := c.Params("+"); !m.AnswersTo(id) {
		return modelNotFound(id)
	}
	return c.JSON(modelEntry(m))
}
