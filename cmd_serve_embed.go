package main

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/native"
	"github.com/kiln-llm/kiln/server"
)

// embedder serves /v1/embeddings from the served model's replicas,
// round-robin: each input is one model.Session on its own small F32 K/V
// cache, outside the scheduler's pool, whose forward passes take turns
// with the scheduler's steps on the replica's Model.
type embedder struct {
	models []*model.Model
	next   atomic.Uint32
}

var _ server.Embedder = (*embedder)(nil)

// Embed implements server.Embedder: the L2-normalised mean of each input's
// final hidden states (model.Session.Embed).
func (e *embedder) Embed(ctx context.Context, inputs [][]int32) ([][]float32, error) {
	m := e.models[int(e.next.Add(1))%len(e.models)]
	out := make([][]float32, len(inputs))
	for i, toks := range inputs {
		s, err := m.NewSession(len(toks), native.F32)
		if err != nil {
			return nil, fmt.Errorf("embeddings: %w", err)
		}
		if out[i], err = s.Embed(ctx, toks); err != nil {
			return nil, fmt.Errorf("embeddings: %w", err)
		}
	}
	return out, nil
}
