package synth

import (
	"hash/fnv"
	"math/bits"
)

// rng is xoshiro256**: fast, small state, and good enough for weights whose
// values only need to look plausible. Each row gets its own generator
// seeded from (seed, tensor, row), so rows can be made in any order or in
// parallel and still give the same bytes.
type rng struct{ s [4]uint64 }

// splitmix64 expands a seed into well-mixed state words.
func splitmix64(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// newRNG seeds a generator for one row of one tensor.
func newRNG(seed uint64, tensor string, row int) *rng {
	h := fnv.New64a()
	_, _ = h.Write([]byte(tensor))
	x := seed ^ h.Sum64() ^ (uint64(row) * 0xd1342543de82ef95)
	r := &rng{}
	for i := range r.s {
		r.s[i] = splitmix64(&x)
	}
	return r
}

func (r *rng) next() uint64 {
	s := &r.s
	out := bits.RotateLeft64(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = bits.RotateLeft64(s[3], 45)
	return out
}

// normal returns an approximately N(0, 1) value: the Irwin–Hall sum of the
// four 16-bit uniforms in one 64-bit draw, centred and scaled to unit
// variance. Tails end near ±3.5σ, which is fine for random weights.
func (r *rng) normal() float32 {
	v := r.next()
	sum := float32(v&0xffff) + float32(v>>16&0xffff) + float32(v>>32&0xffff) + float32(v>>48)
	const mean = 4 * 65535.0 / 2
	const scale = 1.7320508 / 65536.0 // sqrt(12/4) per unit uniform
	return (sum - mean) * scale
}
