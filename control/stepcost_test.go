package control

import (
	"math/rand/v2"
	"testing"
	"time"
)

// trueCost is a machine whose steps cost a fixed 20 ms, 1 ms per decode
// row, 0.4 ms per prefill token and 2 µs per key read.
func trueCost(s stepShape) time.Duration {
	return 20*time.Millisecond + time.Duration(s.decodes)*time.Millisecond +
		time.Duration(s.tokens)*400*time.Microsecond + time.Duration(s.keys)*2*time.Microsecond
}

func TestStepCostLearnsTheMachine(t *testing.T) {
	tests := []struct {
		name  string
		noise float64 // relative, uniform
	}{
		{"exact", 0},
		{"10% noise", 0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			var c stepCost
			if c.ready() {
				t.Fatal("ready before any step")
			}
			for range 200 {
				s := stepShape{decodes: rng.IntN(17)}
				if rng.IntN(3) == 0 {
					s.tokens = rng.IntN(512)
				}
				s.keys = s.decodes*rng.IntN(1024) + s.tokens*rng.IntN(1024)
				d := float64(trueCost(s)) * (1 + tt.noise*(2*rng.Float64()-1))
				c.observe(s, time.Duration(d))
			}
			for _, s := range []stepShape{{decodes: 16, keys: 16 * 300}, {decodes: 16, tokens: 64, keys: 16*300 + 64*100}, {tokens: 512, keys: 512 * 256}} {
				got, want := c.predict(s), trueCost(s)
				if diff := float64(got-want) / float64(want); diff > 0.05+tt.noise/2 || diff < -0.05-tt.noise/2 {
					t.Errorf("predict(%+v) = %v, want %v (%.1f%% off)", s, got, want, 100*diff)
				}
			}
		})
	}
}

// TestStepCostFollowsAChange checks the forgetting: when the machine gets
// twice as slow (another process takes the cores), predictions follow
// within a hundred steps.
func TestStepCostFollowsAChange(t *testing.T) {
	var c stepCost
	shapes := []stepShape{{decodes: 8, keys: 8 * 100}, {decodes: 8, tokens: 128, keys: 8*100 + 128*64}, {decodes: 2, keys: 200}, {tokens: 256, keys: 256 * 128}}
	for i := range 200 {
		s := shapes[i%len(shapes)]
		c.observe(s, trueCost(s))
	}
	for i := range 200 {
		s := shapes[i%len(shapes)]
		c.observe(s, 2*trueCost(s))
	}
	s := shapes[1]
	if got, want := c.predict(s), 2*trueCost(s); got < want*95/100 || got > want*105/100 {
		t.Errorf("after the slowdown predict = %v, want about %v", got, want)
	}
}

// TestStepCostKeepsWhatDecodesDoNotShow: after a thousand decode-only
// steps (a stream running alone for a while), the cost of prefill tokens
// learnt before is still known: the forgetting fades statistics the new
// steps say nothing about, and the fit must not pull those coefficients
// to zero (it did: a 256-token chunk was then predicted at a third of its
// cost).
func TestStepCostKeepsWhatDecodesDoNotShow(t *testing.T) {
	var c stepCost
	shapes := []stepShape{{decodes: 1, keys: 100}, {decodes: 4, tokens: 128, keys: 400 + 128*64}, {tokens: 256, keys: 256 * 128}, {decodes: 12, keys: 1200}}
	for i := range 200 {
		s := shapes[i%len(shapes)]
		c.observe(s, trueCost(s))
	}
	for i := range 1000 {
		s := stepShape{decodes: 1, keys: 100 + i}
		c.observe(s, trueCost(s))
	}
	for _, s := range []stepShape{{decodes: 1, tokens: 256, keys: 1100 + 256*128}, {decodes: 1, keys: 1100}} {
		if got, want := c.predict(s), trueCost(s); got < want*95/100 || got > want*105/100 {
			t.Errorf("predict(%+v) = %v, want about %v", s, got, want)
		}
	}
}

// TestStepCostNeverNegative feeds steps whose cost falls with the tokens
// (noise of a loaded machine): coefficients are clamped, so no prediction
// is below zero.
func TestStepCostNeverNegative(t *testing.T) {
	var c stepCost
	for i := range 50 {
		s := stepShape{decodes: 4, tokens: i * 10}
		c.observe(s, time.Duration(100-i)*time.Millisecond)
	}
	for _, s := range []stepShape{{}, {tokens: 10000}, {decodes: 16, tokens: 512, keys: 1 << 20}} {
		if d := c.predict(s); d < 0 {
			t.Errorf("predict(%+v) = %v < 0", s, d)
		}
	}
}
