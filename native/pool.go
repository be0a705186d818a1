package native

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// MaxThreads is the largest pool the kernel library accepts (KILN_MAX_THREADS).
const MaxThreads = 64

// Pool is a private kernel thread pool. The process-wide pool (Init) runs one
// kernel at a time, so two model replicas sharing it take turns; a replica
// that owns a Pool and binds it on its step-loop thread runs its kernels at
// the same time as the others, on its own threads (pinned to its own CPUs
// when given). Results are bit-identical whichever pool runs them.
type Pool struct {
	mu      sync.Mutex
	h       poolHandle
	live    bool
	threads int
	cpus    []int
}

// NewPool starts a pool of threads threads (the binding thread counts as one).
// With cpus non-empty, worker i is pinned to cpus[i%len(cpus)] and the thread
// that binds it to cpus[0]; a failed pin is a warning from the library, not an
// error, so a restricted container still runs.
func NewPool(threads int, cpus []int) (*Pool, error) {
	if err := load(); err != nil {
		return nil, err
	}
	if threads < 1 || threads > MaxThreads {
		return nil, argError("pool_create", ErrSize, "threads %d outside 1..%d", threads, MaxThreads)
	}
	if len(cpus) > MaxThreads {
		return nil, argError("pool_create", ErrSize, "%d cpus, at most %d", len(cpus), MaxThreads)
	}
	c := make([]int32, len(cpus))
	for i, cpu := range cpus {
		if cpu < 0 || cpu >= 1024 {
			return nil, argError("pool_create", ErrSize, "cpu %d outside 0..1023", cpu)
		}
		c[i] = int32(cpu)
	}
	var ptr unsafe.Pointer
	if len(c) > 0 {
		ptr = unsafe.Pointer(&c[0])
	}
	h, ok := bPoolCreate(int32(threads), ptr, int32(len(c)))
	runtime.KeepAlive(c)
	if !ok {
		return nil, fmt.Errorf("kiln pool_create(%d threads, cpus %v): %w", threads, cpus, ErrThreads)
	}
	return &Pool{h: h, live: true, threads: threads, cpus: append([]int(nil), cpus...)}, nil
}

// Threads is the pool size including the binding thread.
func (p *Pool) Threads() int { return p.threads }

// CPUs are the cores the pool is pinned to (empty: not pinned).
func (p *Pool) CPUs() []int { return append([]int(nil), p.cpus...) }

// Bind makes every kernel called from the current OS thread run on p. The
// caller must hold the thread (runtime.LockOSThread) for as long as the
// binding should last, and Unbind before unlocking it.
func (p *Pool) Bind() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.live {
		return argError("pool_bind", ErrNull, "pool is closed")
	}
	return check("pool_bind", bPoolBind(p.h))
}

// Unbind returns the current OS thread to the process-wide pool.
func Unbind() {
	if load() == nil {
		bPoolUnbind()
	}
}

// Close stops the pool's threads. No thread may still be bound to it.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live {
		bPoolDestroy(p.h)
		p.live = false
	}
}

// ParallelPeak is the most kernel runs the library has seen in flight at once,
// across all pools, since the last reset (reset restarts the count from now).
// Two replicas on their own pools push it to 2; on the shared pool it stays 1.
func ParallelPeak(reset bool) int {
	if load() != nil {
		return 0
	}
	r := int32(0)
	if reset {
		r = 1
	}
	return int(bParallelPeak(r))
}
