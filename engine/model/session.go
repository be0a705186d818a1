package model

import (
	"context"
	"fmt"
	"math"

	"github.com/kiln-llm/kiln/native"
)

// sessionBlockSize is the KV block size of a Session; any size works, this
// one matches the scheduler's default.
const sessionBlockSize = 16

// Session is one sequence with its own KV cache, for tests and the CLI: Eval
// appends tokens to the context and returns the logits of the last one. The
// server uses Forward with a shared cache instead.
type Session struct {
	m      *Model
	kv     *KVCache
	table  []int32 // block i of the sequence is block i of kv
	n      int     // tokens in the context
	pos    []int32 // scratch: positions of one chunk
	seq    []int32 // scratch: zeros
	logits []float32
	hidden []float32 // scratch: one chunk's final hidden states (Embed)
}

// NewSession makes a session holding up to maxTokens tokens of context with
// a K/V cache of kvType (native.F32, native.F16 or native.Q8_0).
func (m *Model) NewSession(maxTokens int, kvType native.Type) (*Session, error) {
	if maxTokens <= 0 {
		return nil, fmt.Errorf("model: session of %d tokens: want > 0", maxTokens)
	}
	nb := (maxTokens + sessionBlockSize - 1) / sessionBlockSize
	kv, err := m.NewKVCache(nb, sessionBlockSize, kvType)
	if err != nil {
		return nil, err
	}
	s := &Session{m: m, kv: kv, table: make([]int32, nb), logits: make([]float32, m.Config.NVocab)}
	for i := range s.table {
		s.table[i] = int32(i)
	}
	return s, nil
}

// Len is the number of tokens in the context.
func (s *Session) Len() int { return s.n }

// Reset empties the context (the cache is reused).
func (s *Session) Reset() { s.n = 0 }

// Eval appends tokens to the context, in chunks of at most the model's max
// batch, and returns a fresh copy of the last token's logits. On error the
// context keeps the tokens of the chunks that completed.
func (s *Session) Eval(tokens []int32) ([]float32, error) {
	if err := s.feed(context.Background(), "eval", tokens, nil); err != nil {
		return nil, err
	}
	out := make([]float32, len(s.logits))
	copy(out, s.logits)
	return out, nil
}

// Embed appends tokens to the context like Eval, computing no logits, and
// returns the mean of their final hidden states (after the output norm, the
// head's input) scaled to unit length: a sentence embedding. ctx is checked
// between chunks. A vector of zeros (which has no direction) stays zero.
func (s *Session) Embed(ctx context.Context, tokens []int32) ([]float32, error) {
	sum := make([]float64, s.m.Config.NEmbd)
	if err := s.feed(ctx, "embed", tokens, sum); err != nil {
		return nil, err
	}
	var ss float64
	for _, v := range sum {
		ss += v * v
	}
	out := make([]float32, len(sum))
	if ss > 0 {
		inv := 1 / math.Sqrt(ss)
		for k, v := range sum {
			out[k] = float32(v * inv)
		}
	}
	return out, nil
}

// feed runs tokens through the model in chunks of at most its max batch,
// appending them to the context. With hiddenSum nil the last chunk's last
// logits row lands in s.logits; otherwise no logits are computed and every
// token's final hidden state is added into hiddenSum.
func (s *Session) feed(ctx context.Context, op string, tokens []int32, hiddenSum []float64) error {
	if len(tokens) == 0 {
		return fmt.Errorf("model: %s: no tokens", op)
	}
	if s.n+len(tokens) > len(s.table)*sessionBlockSize {
		return fmt.Errorf("model: %s: %d + %d tokens exceed the session's %d", op, s.n, len(tokens), len(s.table)*sessionBlockSize)
	}
	d := s.m.Config.NEmbd
	for len(tokens) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk := tokens[:min(len(tokens), s.m.maxTok)]
		tokens = tokens[len(chunk):]
		s.pos = grow(s.pos, len(chunk))
		s.seq = grow(s.seq, len(chunk))
		clear(s.seq)
		for i := range chunk {
			s.pos[i] = int32(s.n + i)
		}
		b := &Batch{
			KV: s.kv, Tokens: chunk, Pos: s.pos, Seq: s.seq,
			Seqs: []SeqState{{BlockTable: s.table, CtxLen: s.n + len(chunk)}},
		}
		logits := s.logits
		if hiddenSum != nil {
			s.hidden = grow(s.hidden, len(chunk)*d)
			b.Outputs, b.Hidden, logits = []int32{}, s.hidden, nil
		}
		if err := s.m.Forward(b, logits); err != nil {
			return fmt.Errorf("model: %s: %w", op, err)
		}
		if hiddenSum != nil {
			for t := range chunk {
				for k, h := range s.hidden[t*d : (t+1)*d] {
					hiddenSum[k] += float64(h)
				}
			}
		}
		s.n += len(chunk)
	}
	return nil
}
