package model

import (
	"runtime"
	"time"
)

// yieldEvery is how long a forward pass runs before it lets the Go scheduler
// reschedule its goroutine: under the 10 ms after which the runtime starts
// forcing a preemption (see yieldIfDue), with room for the monitor thread's
// own tick.
const yieldEvery = 5 * time.Millisecond

// yielder remembers when the forward's goroutine last passed through the Go
// scheduler. It lives in the Model, whose Forward runs one call at a time.
type yielder struct {
	last time.Time
}

// yieldIfDue reschedules the calling goroutine (runtime.Gosched) once
// yieldEvery has passed since it last did, and otherwise costs one clock
// read. Why: a forward pass is a long run of kernel calls (cgo), and the
// Go runtime counts none of them as a rescheduling. Once a goroutine has gone
// 10 ms without one, the runtime's monitor thread (sysmon) tries to preempt
// it on every tick: each time it signals the thread that is running our
// kernels and hands the goroutine's P to another thread, and the monitor,
// finding work every tick, keeps waking every 20 µs or so. On two cores
// those wake-ups take turns with the kernel pool's worker, which the
// matmuls then wait for. Measured on llama3.2-1b Q4_K_M decode, 2 threads,
// Xeon (kernel variant amx): 65k context switches while decoding 256 tokens
// without the yield, 6.5k with it, and 34.1 -> 36.8 tok/s (medians of six
// alternating runs; their spread 30.7-35.1 -> 36.4-37.9). Rescheduling
// itself costs a few microseconds (the goroutine is taken up again at once).
func (y *yielder) yieldIfDue() {
	now := time.Now()
	if now.Sub(y.last) < yieldEvery {
		return
	}
	runtime.Gosched()
	y.last = time.Now()
}
