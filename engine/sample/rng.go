package sample

// rng is the per-request pseudo-random generator: xoshiro256** 1.0
// (Blackman & Vigna, 2018), its 256-bit state filled from the 64-bit seed by
// four successive SplitMix64 outputs, exactly as the reference seeding in
// the xoshiro paper recommends. It is written out here, rather than taken
// from math/rand/v2, so that a seed names the same stream of draws in every
// build and Go release: same seed and same logits give the same tokens.
//
// float64 returns (next() >> 11) * 2^-53, a uniform value in [0, 1).
type rng struct {
	s [4]uint64
}

// newRNG seeds a generator; every seed, including 0, gives a valid
// (non-zero) state because SplitMix64 never yields four zero words in a row.
func newRNG(seed uint64) rng {
	var r rng
	x := seed
	for i := range r.s {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		r.s[i] = z ^ (z >> 31)
	}
	return r
}

// rotl rotates x left by k bits.
func rotl(x uint64, k uint) uint64 {
	return (x << k) | (x >> (64 - k))
}

// next returns the next 64 random bits.
func (r *rng) next() uint64 {
	s := &r.s
	result := rotl(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = rotl(s[3], 45)
	return result
}

// float64 returns a uniform value in [0, 1) with 53 random bits.
func (r *rng) float64() float64 {
	return float64(r.next()>>11) * 0x1p-53
}
