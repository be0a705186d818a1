package server

import (
	"fmt"

	"github.com/gofiber/fiber/v2"
	"github.com/kiln-llm/kiln/server/webui"
)

// handleWebUI serves the chat page: index.html at / and its files at
// /ui/{file}. The page needs no key to load (it holds nothing secret);
// its API calls carry the key the user enters. It answers while the
// model loads, so the page can say so.
func (s *Server) handleWebUI(c *fiber.Ctx) error {
	name := c.Params("file")
	if name == "" {
		name = webui.Index
	}
	body, ct, ok := webui.File(name)
	if !ok {
		return &APIError{Status: fiber.StatusNotFound, Type: "invalid_request_error", Code: "not_found",
			Message: fmt.Sprintf("no file %q in the chat page", name)}
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'")
	return c.Send(body)
}
