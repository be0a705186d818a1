package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/kiln-llm/kiln/configs"
	"github.com/kiln-llm/kiln/native"
	"github.com/kiln-llm/kiln/server"
)

// serveRouted serves several models (cfg.ServedModels) from srv, already
// listening: a router loads each on first use with its own options
// (configs.ForModel), under models_memory_budget and keep_alive. The
// first model is loaded at once in the background; the others wait for
// their first request. It returns when ctx is cancelled or the listener
// fails, after draining as serve does.
func serveRouted(ctx context.Context, cfg *configs.Config, srv *server.Server, serveErr <-chan error, log *slog.Logger) error {
	if err := initKernels(cfg, log); err != nil {
		shutdownNow(srv)
		return err
	}
	sp, err := openSpill(cfg, log)
	if err != nil {
		shutdownNow(srv)
		return err
	}
	defer sp.close() // after router.Close: the engines hand their pools over first
	router, err := server.NewRouter(server.RouterOptions{
		MemoryBudget: cfg.ModelsMemoryBudgetBytes, KeepAlive: cfg.KeepAlive, Logger: log,
	}, modelSources(cfg, sp, log)...)
	if err != nil {
		shutdownNow(srv)
		return fmt.Errorf("serve: option models: %w", err)
	}
	defer router.Close()
	srv.SetRouter(router)
	log.Info("serve: ready", "models", len(cfg.ServedModels()), "default", router.Default(), "threads", native.Threads(),
		"models_memory_budget", cfg.ModelsMemoryBudgetBytes, "keep_alive", cfg.KeepAlive)
	go func() {
		if err := router.Load(ctx, router.Default()); err != nil && ctx.Err() == nil {
			log.Warn("serve: the default model did not load", "model", router.Default(), "err", err)
		}
	}()

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("serve: shutting down", "grace", cfg.ShutdownGracePeriod)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGracePeriod+10*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx, cfg.ShutdownGracePeriod)
	router.Close()
	log.Info("serve: stopped")
	return err
}

// modelSources are the router's models: each loads as `kiln serve` loads
// one, with the server-wide options its models entry overrides (each its
// own subdirectory of the prefix cache's spill directory, sp). A model
// is expected to take its file's size until it was loaded once.
func modelSources(cfg *configs.Config, sp *prefixSpill, log *slog.Logger) []server.ModelSource {
	specs := cfg.ServedModels()
	out := make([]server.ModelSource, len(specs))
	for i, spec := range specs {
		mcfg := cfg.ForModel(spec)
		src := server.ModelSource{ID: spec.ID(), Root: spec.Path, Created: time.Now().Unix()}
		if fi, err := os.Stat(spec.Path); err == nil {
			src.Created, src.Estimate = fi.ModTime().Unix(), fi.Size()
		}
		src.Load = func(ctx context.Context) (*server.LoadedModel, error) {
			st, err := loadEngines(ctx, mcfg, sp, log)
			if err != nil {
				return nil, err
			}
			return &server.LoadedModel{Model: st.model, Bytes: st.bytes, Close: st.close}, nil
		}
		out[i] = src
	}
	return out
}

// shutdownNow stops a server that never served.
func shutdownNow(srv *server.Server) {
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx, 0)
}
