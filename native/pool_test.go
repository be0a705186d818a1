package native

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
)

func TestNewPoolRefusesBadArguments(t *testing.T) {
	cases := []struct {
		name    string
		threads int
		cpus    []int
	}{
		{"zero threads", 0, nil},
		{"too many threads", MaxThreads + 1, nil},
		{"negative cpu", 1, []int{-1}},
		{"cpu out of range", 1, []int{4096}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewPool(c.threads, c.cpus)
			if err == nil {
				p.Close()
				t.Fatal("want an error")
			}
			if !errors.Is(err, ErrSize) {
				t.Fatalf("err %v, want ErrSize", err)
			}
		})
	}
	p, err := NewPool(2, []int{0})
	if err != nil {
		t.Fatal(err)
	}
	if p.Threads() != 2 || len(p.CPUs()) != 1 {
		t.Fatalf("threads %d cpus %v", p.Threads(), p.CPUs())
	}
	p.Close()
	p.Close() // idempotent
	if err := p.Bind(); !errors.Is(err, ErrNull) {
		t.Fatalf("bind after close: %v, want ErrNull", err)
	}
}

// poolWork is a Q8_0 matmul big enough that two calls overlap if allowed to.
type poolWork struct {
	w    []byte
	x    []float32
	m, n int
	k    int
}

func newPoolWork(t *testing.T) poolWork {
	r := newRNG(t)
	const m, n, k = 4, 256, 1024
	return poolWork{w: encodeWeights(t, Q8_0, randSlice(r, n*k, -1, 1)), x: randSlice(r, m*k, -1, 1), m: m, n: n, k: k}
}

func (pw poolWork) run() ([]float32, error) {
	y := poisoned(pw.m * pw.n)
	return y, MatMul(Q8_0, pw.w, pw.x, y, pw.m, pw.n, pw.k)
}

// onPool runs f on a locked OS thread bound to p (nil: the global pool).
func onPool(p *Pool, f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if p != nil {
		if err := p.Bind(); err != nil {
			return err
		}
		defer Unbind()
	}
	return f()
}

// TestPoolsRunAtOnce proves overlap without timing: the library counts kernel
// runs in flight, and two threads on their own pools must reach two, while on
// the shared global pool they never can.
func TestPoolsRunAtOnce(t *testing.T) {
	pw := newPoolWork(t)
	cases := []struct {
		name    string
		private bool
	}{{"private pools", true}, {"shared global pool", false}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var pools [2]*Pool
			if c.private {
				for i := range pools {
					p, err := NewPool(1, nil)
					if err != nil {
						t.Fatal(err)
					}
					defer p.Close()
					pools[i] = p
				}
			}
			ParallelPeak(true)
			var (
				wg   sync.WaitGroup
				errs [2]error
				mu   sync.Mutex
				done bool
			)
			for i := range pools {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					errs[i] = onPool(pools[i], func() error {
						// Bounded: at most 2000 calls each; private pools meet long before.
						for n := 0; n < 2000; n++ {
							if _, err := pw.run(); err != nil {
								return err
							}
							mu.Lock()
							stop := done || (c.private && ParallelPeak(false) >= 2)
							done = stop
							mu.Unlock()
							if stop || (!c.private && n >= 200) {
								return nil
							}
						}
						return nil
					})
				}(i)
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			peak := ParallelPeak(false)
			if c.private && peak < 2 {
				t.Fatalf("peak kernel runs in flight %d, want 2: private pools took turns", peak)
			}
			if !c.private && peak != 1 {
				t.Fatalf("peak %d on the shared pool, want 1 (it serialises runs)", peak)
			}
		})
	}
}

func TestPoolResultsBitIdentical(t *testing.T) {
	pw := newPoolWork(t)
	var want []float32
	if err := onPool(nil, func() (err error) { want, err = pw.run(); return err }); err != nil {
		t.Fatal(err)
	}
	for _, threads := range []int{1, 2, 3} {
		t.Run(fmt.Sprintf("%d threads", threads), func(t *testing.T) {
			p, err := NewPool(threads, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			var got []float32
			if err := onPool(p, func() (err error) { got, err = pw.run(); return err }); err != nil {
				t.Fatal(err)
			}
			sameBits(t, "matmul on a private pool", got, want)
		})
	}
}
