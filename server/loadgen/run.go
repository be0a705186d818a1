package loadgen

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// Run validates o, resolves the model, sends o.NumRequests streamed
// requests under o's load shape and returns their report.
//
// Both load shapes are one mechanism: each request waits for its arrival
// time (Arrivals; all zero in a closed loop) and then for one of the
// in-flight slots (Concurrency, MaxConcurrency, or one per request). A
// closed loop of C is thus "everything due at once, C slots".
//
// Cancelling ctx (Ctrl-C) stops sending, aborts the requests in flight and
// waits for them, then returns the partial report with an error; a request
// that fails does not stop the run. Run returns only after every goroutine
// it started has finished.
func Run(ctx context.Context, o Options) (*Report, error) {
	o, err := o.Validate()
	if err != nil {
		return nil, err
	}
	base, _ := apiBase(o.URL) // checked by Validate
	c := newClient(o, base)
	defer c.close()
	model := o.Model
	if model == "" {
		if model, err = c.firstModel(ctx); err != nil {
			return nil, err
		}
	}
	prompts := Prompts(o)
	rate := o.RequestRate
	if o.Concurrency > 0 {
		rate = 0
	}
	arrivals := Arrivals(o.NumRequests, rate, o.Seed)
	slots := make(chan struct{}, o.inFlightCap())
	results := make([]Result, o.NumRequests) // each written by its own goroutine
	prog := newProgress(o.Progress, o.NumRequests)
	prog.start(o, base, model)

	var wg sync.WaitGroup
	start := time.Now()
send:
	for i := range results {
		if !wait(ctx, time.Until(start.Add(arrivals[i]))) {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break send
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = c.do(ctx, model, prompts[i])
			<-slots
			prog.done(results[i])
		}()
	}
	wg.Wait()
	rep := newReport(o, base, model, results, time.Since(start))
	if ctx.Err() != nil {
		return rep, fmt.Errorf("interrupted after %d of %d requests: %w", rep.Completed+rep.Failed, o.NumRequests, ctx.Err())
	}
	return rep, nil
}

// wait sleeps for d unless ctx ends first, and reports whether to go on.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// progress prints a line roughly every tenth of the run, so a long run
// shows it is alive without flooding the terminal.
type progress struct {
	w                io.Writer
	n, every         int
	mu               sync.Mutex
	finished, failed int
	t0               time.Time
}

func newProgress(w io.Writer, n int) *progress {
	return &progress{w: w, n: n, every: max(1, int(math.Ceil(float64(n)/10))), t0: time.Now()}
}

func (p *progress) start(o Options, base, model string) {
	if p.w == nil {
		return
	}
	load := fmt.Sprintf("closed loop of %d", o.Concurrency)
	if o.Concurrency == 0 {
		load = fmt.Sprintf("%g req/s", o.RequestRate)
		if o.MaxConcurrency > 0 {
			load += fmt.Sprintf(", at most %d in flight", o.MaxConcurrency)
		}
	}
	fmt.Fprintf(p.w, "bench serve: %d %s requests to %s, model %s, %s\n", o.NumRequests, o.Endpoint, base, model, load)
}

func (p *progress) done(r Result) {
	if p.w == nil || r.Cancelled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finished++
	if !r.OK {
		p.failed++
	}
	if p.finished%p.every == 0 || p.finished == p.n {
		fmt.Fprintf(p.w, "bench serve: %d/%d done (%d failed), %.1f s\n", p.finished, p.n, p.failed, time.Since(p.t0).Seconds())
	}
}
