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

// routedModelEntry is a router's model as /v1/models lists it: OpenAI's
// fields plus its state, as llama-server's router reports it
// ("status": {"value": "loaded"}), and the bytes it holds while loaded.
type routedModelEntry struct {
	openai.Model
	Status routedModelStatus `json:"status"`
}

type routedModelStatus struct {
	Value ModelState `json:"value"`
	Bytes int64      `json:"bytes,omitempty"`
}

func routedEntry(rm RoutedModel) routedModelEntry {
	return routedModelEntry{
		Model:  openai.Model{ID: rm.ID, Object: "model", Created: rm.Created, OwnedBy: "kiln", Root: filepath.Base(rm.Root), MaxModelLen: rm.ContextLen},
		Status: routedModelStatus{Value: rm.State, Bytes: rm.Bytes},
	}
}

// handleModels is GET /v1/models: the served model, or every model of the
// router with its state.
func (s *Server) handleModels(c *fiber.Ctx) error {
	if r := s.router.Load(); r != nil && !s.draining.Load() {
		list := r.List()
		data := make([]routedModelEntry, len(list))
		for i, rm := range list {
			data[i] = routedEntry(rm)
		}
		return c.JSON(fiber.Map{"object": "list", "data": data})
	}
	m, err := s.ready()
	if err != nil {
		return err
	}
	return c.JSON(openai.ModelList{Object: "list", Data: []openai.Model{modelEntry(m)}})
}

// handleModel is GET /v1/models/{id}; ids may contain slashes.
func (s *Server) handleModel(c *fiber.Ctx) error {
	id := c.Params("+")
	if r := s.router.Load(); r != nil && !s.draining.Load() {
		for _, rm := range r.List() {
			if rm.ID == id {
				return c.JSON(routedEntry(rm))
			}
		}
		return modelNotFound(id)
	}
	m, err := s.ready()
	if err != nil {
		return err
	}
	if !m.AnswersTo(id) {
		return modelNotFound(id)
	}
	return c.JSON(modelEntry(m))
}

// modelAction is the body of POST /models/load and /models/unload
// (llama-server's router endpoints).
type modelAction struct {
	Model *string `json:"model"`
}

// routerAction decodes a load/unload body and returns the router: a
// server serving one model has nothing to load or unload (400).
func (s *Server) routerAction(c *fiber.Ctx) (*Router, string, error) {
	if s.draining.Load() {
		return nil, "", errShuttingDown
	}
	r := s.router.Load()
	if r == nil {
		if _, err := s.ready(); err != nil {
			return nil, "", err
		}
		return nil, "", &APIError{Status: fiber.StatusBadRequest, Type: "invalid_request_error", Code: "single_model",
			Message: "this server serves one model, loaded at start-up; configure several (models) to load and unload them"}
	}
	var req modelAction
	if err := decodeBody(c, &req); err != nil {
		return nil, "", err
	}
	if req.Model == nil || *req.Model == "" {
		return nil, "", badParam("model", "model: required")
	}
	return r, *req.Model, nil
}

// handleModelLoad is POST /models/load {"model": id}: loads the model (if
// not loaded) and answers once it is.
func (s *Server) handleModelLoad(c *fiber.Ctx) error {
	r, id, err := s.routerAction(c)
	if err != nil {
		return err
	}
	if err := r.Load(s.base, id); err != nil {
		if _, ok := err.(*APIError); !ok {
			return errShuttingDown
		}
		return err
	}
	return c.JSON(fiber.Map{"success": true, "model": id, "status": StateLoaded})
}

// handleModelUnload is POST /models/unload {"model": id}: unloads the model
// now if nothing is running on it (409 otherwise).
func (s *Server) handleModelUnload(c *fiber.Ctx) error {
	r, id, err := s.routerAction(c)
	if err != nil {
		return err
	}
	if err := r.Unload(id); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"success": true, "model": id, "status": StateUnloaded})
}
