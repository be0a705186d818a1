package server

import (
	"context"
	"encoding/json"

	"github.com/gofiber/fiber/v2"
)

// modelLeaseKey is the fiber local holding the release of the model a
// request acquired from the router.
const modelLeaseKey = "kiln.model_lease"

// SetRouter makes the server serve the router's models, each request
// routed by its model field: /health answers 200 from now on, whether or
// not any model is loaded.
func (s *Server) SetRouter(r *Router) { s.router.Store(r) }

// requestModel is the model a request names. With one model it is
// ready's; with a router it is the model the body's "model" names (the
// default model when it names none), loaded if needed, and held until the
// handler returns (releaseModel), so that it is not unloaded under it.
func (s *Server) requestModel(c *fiber.Ctx) (*Model, error) {
	r := s.router.Load()
	if r == nil || s.draining.Load() {
		return s.ready()
	}
	id, err := peekModel(c)
	if err != nil {
		return nil, err
	}
	return s.acquireModel(c, r, id)
}

// defaultModel is requestModel for LMDeploy's interactive chat, which has
// no model field: its sessions (history and K/V) live with the default
// model, whatever else the body holds.
func (s *Server) defaultModel(c *fiber.Ctx) (*Model, error) {
	r := s.router.Load()
	if r == nil || s.draining.Load() {
		return s.ready()
	}
	return s.acquireModel(c, r, r.Default())
}

// acquireModel acquires model id from r for the request c, to be released
// by releaseModel when the handler returns.
func (s *Server) acquireModel(c *fiber.Ctx, r *Router, id string) (*Model, error) {
	ctx, cancel := context.WithCancel(s.base)
	defer cancel()
	stop := context.AfterFunc(c.Context(), cancel) // fasthttp's context ends with the server
	defer stop()
	m, release, err := r.Acquire(ctx, id)
	if err != nil {
		if _, ok := err.(*APIError); !ok {
			return nil, errShuttingDown // only s.base ends a wait without an APIError
		}
		return nil, err
	}
	if prev, ok := c.Locals(modelLeaseKey).(func()); ok {
		prev() // a handler asking twice holds the model once
	}
	c.Locals(modelLeaseKey, release)
	return m, nil
}

// peekModel reads the body's "model" ("" when absent), refusing a body
// that is not a JSON object with the error the handler would give.
func peekModel(c *fiber.Ctx) (string, error) {
	if err := checkJSONBody(c); err != nil {
		return "", err
	}
	var head struct {
		Model json.RawMessage `json:"model"`
	}
	if err := decodeJSON(c.Body(), &head); err != nil {
		return "", err
	}
	if len(head.Model) == 0 || string(head.Model) == "null" {
		return "", nil
	}
	var id string
	if err := json.Unmarshal(head.Model, &id); err != nil {
		return "", badParam("model", "model: want a string")
	}
	return id, nil
}

// releaseModel is the API middleware that releases the model a handler
// acquired, once the handler has returned (a stream it started is then
// running in the model's core, which keeps the model from being idle).
func (s *Server) releaseModel(c *fiber.Ctx) error {
	err := c.Next()
	if release, ok := c.Locals(modelLeaseKey).(func()); ok {
		release()
	}
	return err
}
