package model

import (
	"fmt"

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
}

// NewSession makes a session holding up to maxTokens tokens of context with
// a K/V cache of kvType (native.F32 or native.F16).
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
	if len(tokens) == 0 {
		return nil, fmt.Errorf("model: eval: no tokens")
	}
	if s.n+len(tokens) > len(s.table)*sessionBlockSize {
		return nil, fmt.Errorf("model: eval: %d + %d tokens exceed the session's %d", s.n, len(tokens), len(s.table)*sessionBlockSize)
	}
	for len(tokens) > 0 {
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
		if err := s.m.Forward(b, s.logits); err != nil {
			return nil, fmt.Errorf("model: eval: %w", err)
		}
		s.n += len(chunk)
	}
	out := make([]float32, len(s.logits))
	copy(out, s.logits)
	return out, nil
}
