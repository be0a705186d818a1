package control

import (
	"slices"

	"github.com/kiln-llm/kiln/control/kvcache"
)

// session keeps one conversation's K/V between its requests (LMDeploy's
// interactive mode): a follow-up whose prompt extends the kept tokens
// prefills only what is new. Its fields are guarded by Engine.mu; kv is
// touched by the loop only while the session is busy or under that lock.
type session struct {
	id      string
	busy    bool // a request of this session is in flight
	ended   bool // EndSession was called while busy: release at finish
	kv      *kvcache.Seq
	dkv     *kvcache.Seq // the draft model's K/V of a prefix of tokens (speculative method draft), or nil
	tokens  []int32      // the tokens whose K/V kv holds
	lastUse uint64       // admission counter at the last keep: idle eviction is LRU
}

// resume hands over the kept K/V if prompt strictly extends its tokens, and
// returns how many tokens it holds; otherwise it frees the kept K/V (the
// prompt diverged: the prefix cache may still serve its full blocks).
func (ss *session) resume(pool *kvcache.Pool, prompt []int32) (*kvcache.Seq, int) {
	kv, toks := ss.kv, ss.tokens
	ss.kv, ss.tokens = nil, nil
	if kv == nil {
		return nil, 0
	}
	if len(toks) < len(prompt) && slices.Equal(toks, prompt[:len(toks)]) {
		return kv, len(toks)
	}
	pool.Free(kv)
	return nil, 0
}

// keep stores a finished request's K/V and its tokens.
func (ss *session) keep(kv *kvcache.Seq, tokens []int32) {
	ss.kv, ss.tokens = kv, slices.Clone(tokens)
}

// takeDraft hands over the kept draft K/V (call right after resume; the
// caller frees it if resume gave no K/V).
func (ss *session) takeDraft() *kvcache.Seq {
	dkv := ss.dkv
	ss.dkv = nil
	return dkv
}

// release frees the kept K/V, and the draft's into dpool (nil: no draft).
func (ss *session) release(pool, dpool *kvcache.Pool) {
	if ss.kv != nil {
		pool.Free(ss.kv)
	}
	if ss.dkv != nil && dpool != nil {
		dpool.Free(ss.dkv)
	}
	ss.kv, ss.dkv, ss.tokens = nil, nil, nil
}

// evictIdleSession frees the least recently used idle session's K/V so its
// blocks can serve running work; false if no session holds any. The session
// itself stays: its next request recomputes transparently.
func (e *Engine) evictIdleSession() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	var victim *session
	for _, ss := range e.sessions {
		if !ss.busy && ss.kv != nil && (victim == nil || ss.lastUse < victim.lastUse) {
			victim = ss
		}
	}
	if victim == nil {
		return false
	}
	victim.release(e.pool, e.draftPool())
	return true
}

// EndSession forgets session id and frees its K/V (after its in-flight
// request, if any, finishes); false if there is no such session.
func (e *Engine) EndSession(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	ss := e.sessions[id]
	if ss == nil {
		return false
	}
	if ss.busy {
		ss.ended = true
		return true
	}
	ss.release(e.pool, e.draftPool())
	delete(e.sessions, id)
	return true
}
