package server

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// docsFS holds the OpenAPI document, the Swagger UI page and its assets
// (gzip-compressed, from npm swagger-ui-dist; see docs/README.md).
//
//go:embed docs/index.html docs/openapi.json docs/swagger-ui-bundle.js.gz docs/swagger-ui.css.gz
var docsFS embed.FS

// handleOpenAPI is GET /openapi.json.
func (s *Server) handleOpenAPI(c *fiber.Ctx) error {
	b, err := docsFS.ReadFile("docs/openapi.json")
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(b)
}

// handleDocs serves Swagger UI at /docs and its two assets, compressed to
// clients that accept gzip and inflated for the rest.
func (s *Server) handleDocs(c *fiber.Ctx) error {
	var name, ctype string
	switch c.Params("file") {
	case "":
		b, err := docsFS.ReadFile("docs/index.html")
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.Send(b)
	case "swagger-ui-bundle.js":
		name, ctype = "docs/swagger-ui-bundle.js.gz", "text/javascript; charset=utf-8"
	case "swagger-ui.css":
		name, ctype = "docs/swagger-ui.css.gz", "text/css; charset=utf-8"
	default:
		return fiber.ErrNotFound
	}
	gz, err := docsFS.ReadFile(name)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ctype)
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	if strings.Contains(c.Get(fiber.HeaderAcceptEncoding), "gzip") {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(gz)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return err
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return err
	}
	return c.Send(b)
}
