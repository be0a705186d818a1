package control

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kiln-llm/kiln/control/kvcache"
	"github.com/kiln-llm/kiln/control/kvcache/spill"
	"github.com/kiln-llm/kiln/engine/sample"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// Config tunes one engine replica's scheduler.
type Config struct {
	// MaxBatchTokens is the token budget of one step (decodes plus prefill
	// chunks); 0 means the executor's limit.
	MaxBatchTokens int
	// MaxNumSeqs caps the sequences running at once (default 16).
	MaxNumSeqs int
	// MaxQueue caps the requests waiting for admission (default 256);
	// beyond it Submit fails with ErrOverloaded.
	MaxQueue int
	// SessionLen is the context limit per sequence in tokens; 0 means the
	// model's trained context (capped by the K/V pool).
	SessionLen int
	// PrefixCaching reuses full K/V blocks of earlier prompts.
	PrefixCaching bool
	// MaxITL is the inter-token latency a decoding stream should see: a
	// step that carries prefill chunks beside decodes is cut to what the
	// step cost model predicts fits in it (never below minPrefillChunk
	// tokens, so prefill always progresses). 0 means autoITLFactor times
	// the predicted cost of the step's decodes alone; negative turns the
	// limit off (prefill chunks take the whole token budget).
	MaxITL time.Duration
	// Spill, if set, keeps the prefix cache's evicted blocks beyond the
	// pool and brings them back for later prompts (see spill.go); it needs
	// PrefixCaching and an executor with BlockIO of the store's shape.
	Spill *spill.Store
	// Speculative configures speculative decoding (zero: off).
	Speculative SpeculativeConfig
	// Now is the clock of latencies and the step cost model (nil:
	// time.Now); tests drive a fake one.
	Now func() time.Time
	// BindThread, if set, runs first on the step loop's goroutine, which
	// then holds its OS thread for life (runtime.LockOSThread, never
	// unlocked, so the thread ends with the loop and no other goroutine
	// inherits what was bound to it); the function it returns (may be nil)
	// runs when the loop ends. The composition root uses it to run a
	// replica's executor on the replica's own kernel thread pool.
	BindThread func() (unbind func())
}

// Engine is the serving core of one model replica: an admission queue and
// a step loop that batches every running sequence into one forward pass per
// step. Submit is its only entry; it is safe for concurrent use.
type Engine struct {
	cfg  Config
	exec Executor
	tok  *tokenizer.Tokenizer
	pool *kvcache.Pool
	met  *metrics
	bio  BlockIO // the executor's block I/O when spilling, else nil

	mu       sync.Mutex
	incoming []*sequence
	sessions map[string]*session
	closed   bool
	nWaiting atomic.Int64 // admitted to the queue, not yet running (incoming + waiting)

	wake     chan struct{}
	loopDone chan struct{}

	// Owned by the loop goroutine.
	waiting  []*sequence // FIFO; preempted sequences go back to the front
	running  []*sequence // in admission order
	nAdmit   uint64
	step     Step
	copies   []kvcache.Copy
	logits   []float32
	sched    []*sequence       // this step's sequences, in Step order
	prefills []*sequence       // scratch: this step's prefill candidates
	specs    []verification    // this step's speculative sequences
	kids     []*sequence       // members forked this step, to deliver with sched
	picks    []pick            // this step's samplings
	beams    []*group          // beam searches with rows this step
	beamLP   []float64         // scratch: one row's log-softmax
	stamp    uint64            // slotsInUse's visit mark
	drafter  *drafter          // the draft model (speculative method draft), else nil
	cost     stepCost          // the step cost model
	shape    stepShape         // this step's shape, for the cost model
	nArrive  uint64            // arrivals so far (under mu)
	evicted  []kvcache.Evicted // scratch: blocks the pool evicted, for the spill
	imports  []blockImport     // spilled blocks to write before this step's forward

	// Cohorts (cohort.go), owned by the loop goroutine.
	nHeld     int // running sequences held for their cohort, counted by each step's schedule
	cohortRan int // prefill tokens run since the current cohort's first hold
}

// New starts an engine over exec (whose K/V cache the engine's block pool
// manages) and tok (for text and end-of-generation tokens).
func New(exec Executor, tok *tokenizer.Tokenizer, cfg Config) (*Engine, error) {
	if exec == nil || tok == nil {
		return nil, errors.New("control: an executor and a tokenizer are required")
	}
	if cfg.MaxBatchTokens == 0 {
		cfg.MaxBatchTokens = exec.MaxBatchTokens()
	}
	if cfg.MaxNumSeqs == 0 {
		cfg.MaxNumSeqs = 16
	}
	if cfg.MaxQueue == 0 {
		cfg.MaxQueue = 256
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	capacity := exec.NumBlocks() * exec.BlockSize()
	if cfg.SessionLen == 0 {
		cfg.SessionLen = exec.ContextLen()
		if cfg.SessionLen <= 0 || cfg.SessionLen > capacity {
			cfg.SessionLen = capacity
		}
	}
	switch {
	case cfg.MaxBatchTokens < 0 || cfg.MaxBatchTokens > exec.MaxBatchTokens():
		return nil, fmt.Errorf("control: max_batch_tokens %d: want 1..%d (the engine's batch)", cfg.MaxBatchTokens, exec.MaxBatchTokens())
	case cfg.MaxNumSeqs < 0 || cfg.MaxNumSeqs > cfg.MaxBatchTokens:
		return nil, fmt.Errorf("control: max_num_seqs %d: want 1..max_batch_tokens (%d)", cfg.MaxNumSeqs, cfg.MaxBatchTokens)
	case cfg.MaxQueue < 0:
		return nil, fmt.Errorf("control: max_queue %d: want >= 1", cfg.MaxQueue)
	case cfg.SessionLen < 2:
		return nil, fmt.Errorf("control: session_len %d: want >= 2", cfg.SessionLen)
	case cfg.SessionLen > capacity:
		return nil, fmt.Errorf("control: session_len %d exceeds the K/V cache's %d tokens", cfg.SessionLen, capacity)
	}
	if err := cfg.Speculative.validate(); err != nil {
		return nil, err
	}
	bio, err := setupSpill(cfg, exec)
	if err != nil {
		return nil, err
	}
	window := 0
	if w, ok := exec.(WindowedExecutor); ok {
		window = w.AttentionWindow()
	}
	pool, err := kvcache.New(kvcache.Config{NumBlocks: exec.NumBlocks(), BlockSize: exec.BlockSize(), PrefixCaching: cfg.PrefixCaching,
		KeepEvicted: bio != nil, Window: window})
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	var d *drafter
	if cfg.Speculative.Method == "draft" {
		if d, err = newDrafter(cfg.Speculative.Draft, exec.VocabSize(), cfg.PrefixCaching); err != nil {
			return nil, err
		}
	}
	met := newMetrics()
	if m := cfg.Speculative.Method; m != "" {
		met.m.Spec[m] = SpecCounts{} // exported at 0 before the first draft
	}
	e := &Engine{
		cfg: cfg, exec: exec, tok: tok, pool: pool, met: met, bio: bio, drafter: d,
		sessions: map[string]*session{},
		wake:     make(chan struct{}, 1), loopDone: make(chan struct{}),
		logits: make([]float32, cfg.MaxNumSeqs*(1+cfg.Speculative.Tokens)*exec.VocabSize()),
	}
	go e.loop()
	return e, nil
}

// Config returns the engine's effective configuration (defaults filled in).
func (e *Engine) Config() Config { return e.cfg }

// Submit queues req and returns the channel its events arrive on, those of
// every choice (Event.Index); each choice's last event carries a
// FinishReason, and the channel is closed after all of them. Cancelling ctx
// aborts the request at the next step (a final FinishAbort event is sent if
// anyone still reads). The caller must read until the channel closes or
// cancel ctx.
func (e *Engine) Submit(ctx context.Context, req Request) (<-chan Event, error) {
	if err := req.validate(e.exec.VocabSize()); err != nil {
		return nil, err
	}
	if len(req.Prompt) >= e.cfg.SessionLen {
		return nil, fmt.Errorf("%w: the prompt has %d tokens; the context holds %d (prompt and at least one generated token)",
			ErrPromptTooLong, len(req.Prompt), e.cfg.SessionLen)
	}
	if w := req.width(); w > e.cfg.MaxNumSeqs {
		param := "n"
		if req.BestOf > req.choices() {
			param = "best_of"
		}
		return nil, badParam(param, "%d sequences at once (n, best_of or the beam width) exceed the server's max_num_seqs %d", w, e.cfg.MaxNumSeqs)
	}
	s, err := e.newSequence(ctx, req)
	if err != nil {
		return nil, err
	}
	if e.nWaiting.Load() < int64(e.cfg.MaxQueue) { // a request refused for a full queue reads nothing
		e.readAhead(s) // disk reads here, on the caller's goroutine
	}
	queued := false
	defer func() {
		if !queued {
			e.dropAhead(s)
		}
	}()
	box := newOutbox(ctx, req.choices())
	s.box = box
	if req.width() > 1 || req.Beam != nil {
		g := &group{n: req.choices(), width: req.width(), box: box, live: []*sequence{s}}
		if req.Beam != nil {
			g.beam = &beamState{params: *req.Beam}
		}
		proto := *s
		proto.ahead = nil
		proto.tokens = slices.Clone(s.tokens)
		proto.dec = s.dec.Clone()
		if req.Constraint != nil {
			proto.req.Constraint = req.Constraint.Clone()
		}
		g.proto, s.group, proto.group = &proto, g, g
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if e.nWaiting.Load() >= int64(e.cfg.MaxQueue) {
		return nil, ErrOverloaded
	}
	if req.SessionID != "" {
		ss := e.sessions[req.SessionID]
		if ss == nil {
			ss = &session{id: req.SessionID}
			e.sessions[req.SessionID] = ss
		}
		if ss.busy {
			return nil, fmt.Errorf("%w: %q", ErrSessionBusy, req.SessionID)
		}
		ss.busy, s.session = true, ss
	}
	e.nWaiting.Add(1)
	e.nArrive++
	s.arrival = e.nArrive
	e.incoming = append(e.incoming, s)
	box.unwake = context.AfterFunc(ctx, e.poke)
	queued = true
	e.poke()
	return box.out, nil
}

// newSequence is req's first (or only) sequence, validated and waiting to
// be admitted.
func (e *Engine) newSequence(ctx context.Context, req Request) (*sequence, error) {
	sm, err := sample.New(req.Sample, e.exec.VocabSize())
	if err != nil {
		return nil, &ParamError{Err: err}
	}
	s := &sequence{
		req: req, ctx: ctx,
		tokens: append(make([]int32, 0, len(req.Prompt)+16), req.Prompt...), nPrompt: len(req.Prompt),
		sampler: sm, dec: e.tok.NewStreamDecoder().RenderTokens(req.RenderTokens), stop: stopMatcher{stops: req.StopStrings},
		submitted: e.cfg.Now(),
	}
	s.maxLen = e.cfg.SessionLen
	if req.MaxTokens > 0 {
		s.maxLen = min(s.maxLen, len(req.Prompt)+req.MaxTokens)
	}
	s.stopToken = make(map[int32]bool, len(req.StopTokens))
	for _, id := range req.StopTokens {
		s.stopToken[id] = true
		s.suppress = append(s.suppress, id)
	}
	if !req.IgnoreEOS {
		s.suppress = append(s.suppress, e.tok.EOGTokens()...)
	}
	for _, id := range req.Prompt {
		sm.AcceptPrompt(id)
	}
	return s, nil
}

// poke wakes the loop if it sleeps.
func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Close stops the engine: every queued and running request finishes with
// FinishAbort, the loop exits and its blocks are released.
func (e *Engine) Close() {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		e.poke()
	}
	e.mu.Unlock()
	<-e.loopDone
}

// Metrics returns a snapshot of the engine's gauges, counters and histograms.
func (e *Engine) Metrics() Metrics {
	m := e.met.snapshot()
	m.KV = e.pool.Stats()
	if e.cfg.Spill != nil {
		m.Spill.Stats = e.cfg.Spill.Stats()
	}
	if e.drafter != nil {
		m.DraftKV = e.drafter.pool.Stats()
	}
	m.Waiting = int(e.nWaiting.Load())
	e.mu.Lock()
	m.Sessions = len(e.sessions)
	e.mu.Unlock()
	return m
}
