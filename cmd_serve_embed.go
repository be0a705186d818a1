package main

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync/atomic"

	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/native"
	"github.com/kiln-llm/kiln/server"
)

// embedder serves /v1/embeddings from the served model's replicas,
// round-robin: each input is one model.Session on its own small F32 K/V
// cache, outside the scheduler's pool, whose forward passes take turns
// with the scheduler's steps on the replica's Model. With -dp > 1 the
// kernels run on the chosen replica's own kernel pool (pools[i], on its
// cores), not on the process-wide pool.
type embedder struct {
	models []*model.Model
	pools  []*native.Pool // per replica; nil (or shorter): the process-wide pool
	next   atomic.Uint32
}

var _ server.Embedder = (*embedder)(nil)

// Embed implements server.Embedder: the L2-normalised mean of each input's
// final hidden states (model.Session.Embed).
func (e *embedder) Embed(ctx context.Context, inputs [][]int32) ([][]float32, error) {
	i := int(e.next.Add(1)) % len(e.models)
	m := e.models[i]
	embed := func() ([][]float32, error) {
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
	if i < len(e.pools) && e.pools[i] != nil {
		return onPool(e.pools[i], embed)
	}
	return embed()
}

// onPool runs f with its kernels on p. It runs on a goroutine of its own
// that holds its OS thread and ends without releasing it, so Go retires
// the thread: binding pins the thread to p's first core, and that pin must
// not leak into whatever goroutine would run on the thread next.
func onPool[T any](p *native.Pool, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: see above
		if err := p.Bind(); err != nil {
			slog.Warn("embeddings: replica kernel pool", "err", err)
		}
		defer native.Unbind()
		v, err := f()
		done <- result{v, err}
	}()
	r := <-done
	return r.v, r.err
}
