package loadgen

import (
	"math"
	"math/rand/v2"
	"time"
)

// Arrivals returns when each of n requests is due, as offsets from the
// start of the run, for a Poisson process of the given mean rate per second:
// exponentially distributed gaps drawn from the seed's own stream, so that a
// seed always yields the same schedule. A rate of +Inf (or 0, the closed
// loop, where the in-flight cap alone paces the requests) makes every
// request due at once.
//
// The schedule is computed up front rather than drawn while sending, so the
// tests can check it without timing anything and a slow server cannot
// change it.
func Arrivals(n int, rate float64, seed uint64) []time.Duration {
	at := make([]time.Duration, n)
	if rate <= 0 || math.IsInf(rate, 1) {
		return at
	}
	rng := rand.New(rand.NewPCG(seed, streamArrivals))
	var t float64 // seconds
	for i := range at {
		if i > 0 {
			t += rng.ExpFloat64() / rate
		}
		at[i] = time.Duration(t * float64(time.Second))
	}
	return at
}
