package main

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/model"
	"github.com/kiln-llm/kiln/native"
	"github.com/kiln-llm/kiln/server"
)

// lockedExec is a replica's executor with its Forward under the model's
// lock, so embedding passes (which run the same Model, whose scratch is
// shared) interleave with the scheduler's steps instead of racing them.
type lockedExec struct {
	*control.ModelExecutor
	mu *sync.Mutex
}

// Forward implements control.Executor.
func (e lockedExec) Forward(s *control.Step, logits []float32) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ModelExecutor.Forward(s, logits)
}

// replicaModel is one replica's model and the lock its passes share.
type replicaModel struct {
	m  *model.Model
	mu *sync.Mutex
}

// embedder pools the final hidden states of the served model (mean over
// the tokens, then L2-normalised), round-robin over the replicas. Each
// input runs in chunks of the model's batch on its own small F32 K/V cache,
// outside the scheduler's pool.
type embedder struct {
	replicas  []replicaModel
	next      atomic.Uint32
	blockSize int
}

var _ server.Embedder = (*embedder)(nil)

// Embed implements server.Embedder.
func (e *embedder) Embed(ctx context.Context, inputs [][]int32) ([][]float32, error) {
	r := e.replicas[int(e.next.Add(1))%len(e.replicas)]
	out := make([][]float32, len(inputs))
	for i, toks := range inputs {
		v, err := e.embedOne(ctx, r, toks)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (e *embedder) embedOne(ctx context.Context, r replicaModel, toks []int32) ([]float32, error) {
	c := r.m.Config
	nb := (len(toks) + e.blockSize - 1) / e.blockSize
	kv, err := r.m.NewKVCache(nb, e.blockSize, native.F32)
	if err != nil {
		return nil, fmt.Errorf("embeddings: %w", err)
	}
	table := make([]int32, nb)
	for i := range table {
		table[i] = int32(i)
	}
	chunk := r.m.MaxBatchTokens()
	hidden := make([]float32, min(chunk, len(toks))*c.NEmbd)
	pos, seq := make([]int32, 0, chunk), make([]int32, chunk)
	sum := make([]float64, c.NEmbd)
	for start := 0; start < len(toks); start += chunk {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		end := min(start+chunk, len(toks))
		pos = pos[:0]
		for p := start; p < end; p++ {
			pos = append(pos, int32(p))
		}
		b := &model.Batch{KV: kv, Tokens: toks[start:end], Pos: pos, Seq: seq[:end-start],
			Seqs: []model.SeqState{{BlockTable: table, CtxLen: end}}, Outputs: []int32{}, Hidden: hidden}
		r.mu.Lock()
		err := r.m.Forward(b, nil)
		r.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("embeddings: %w", err)
		}
		for t := range end - start {
			for k, h := range hidden[t*c.NEmbd : (t+1)*c.NEmbd] {
				sum[k] += float64(h)
			}
		}
	}
	var ss float64
	for _, s := range sum {
		ss += s * s
	}
	v := make([]float32, c.NEmbd)
	if ss > 0 {
		inv := 1 / math.Sqrt(ss)
		for k, s := range sum {
			v[k] = float32(s * inv)
		}
	}
	return v, nil
}
