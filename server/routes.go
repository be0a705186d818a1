package server

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/requestid"
)

// routes wires the middleware and the endpoints. /health, /metrics,
// /openapi.json and /docs stay open; the API needs a key when keys are set.
func (s *Server) routes() {
	app := s.app
	app.Use(s.recoverPanic, requestid.New(requestid.Config{Header: RequestIDHeader}), s.accessLog)
	if len(s.opts.CORSOrigins) > 0 {
		app.Use(cors.New(cors.Config{
			AllowOrigins:  strings.Join(s.opts.CORSOrigins, ","),
			AllowMethods:  "GET,POST,OPTIONS",
			ExposeHeaders: RequestIDHeader + ",Retry-After",
		}))
	}
	app.Get("/health", s.handleHealth)
	app.Get("/version", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"version": s.opts.Version}) })
	app.Get("/metrics", s.handleMetrics)
	app.Get("/openapi.json", s.handleOpenAPI)
	app.Get("/docs", s.handleDocs)
	app.Get("/docs/:file", s.handleDocs)

	api := app.Group("", s.auth)
	api.Get("/v1/models", s.handleModels)
	api.Get("/v1/models/+", s.handleModel)
	api.Post("/v1/completions", s.handleCompletions)
	api.Post("/v1/chat/completions", s.handleChat)
	api.Post("/v1/embeddings", s.handleEmbeddings)
	api.Post("/v1/chat/interactive", s.handleInteractive)
	api.Post("/tokenize", s.handleTokenize)
	api.Post("/detokenize", s.handleDetokenize)
}
