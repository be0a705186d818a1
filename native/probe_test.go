package native

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// TestProbes: every ceiling probe gives a positive figure on every variant,
// and refuses bad arguments with ErrSize.
func TestProbes(t *testing.T) {
	forEachISA(t, func(t *testing.T, isa ISA) {
		for _, p := range []struct {
			name string
			run  func(threads int) (float64, error)
		}{
			{"read bandwidth", func(n int) (float64, error) { return ReadBandwidth(1<<20, n, 2) }},
			{"fma peak", func(n int) (float64, error) { return FMAPeak(n, 0.01) }},
			{"int8 peak", func(n int) (float64, error) { return Int8Peak(n, 0.01) }},
			{"bf16 peak", func(n int) (float64, error) { return BF16Peak(n, 0.01) }},
		} {
			for _, threads := range []int{1, Threads()} {
				g, err := p.run(threads)
				if err != nil || !(g > 0) {
					t.Errorf("%s, %d thread(s): %v, %v", p.name, threads, g, err)
				}
			}
		}
	})
	for _, c := range []struct {
		name string
		call func() (float64, error)
	}{
		{"bandwidth buffer too small", func() (float64, error) { return ReadBandwidth(100, 1, 1) }},
		{"bandwidth zero reps", func() (float64, error) { return ReadBandwidth(1<<20, 1, 0) }},
		{"fma zero threads", func() (float64, error) { return FMAPeak(0, 0.01) }},
		{"fma zero seconds", func() (float64, error) { return FMAPeak(1, 0) }},
		{"int8 zero threads", func() (float64, error) { return Int8Peak(0, 0.01) }},
		{"int8 seconds too long", func() (float64, error) { return Int8Peak(1, 61) }},
		{"int8 NaN seconds", func() (float64, error) { return Int8Peak(1, math.NaN()) }},
		{"bf16 zero threads", func() (float64, error) { return BF16Peak(0, 0.01) }},
		{"bf16 negative seconds", func() (float64, error) { return BF16Peak(1, -1) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := c.call(); !errors.Is(err, ErrSize) {
				t.Fatalf("got %v, want %v", err, ErrSize)
			}
		})
	}
}

// TestUnsupportedReason: a variant is supported exactly when no reason
// says why not, and an AMX refusal names the OS.
func TestUnsupportedReason(t *testing.T) {
	for _, isa := range AllISAs {
		why := UnsupportedReason(isa)
		if Supported(isa) != (why == "") {
			t.Errorf("%s: supported %v but reason %q", isa, Supported(isa), why)
		}
		if why != "" && !strings.HasPrefix(why, isa.String()+":") {
			t.Errorf("%s: reason %q does not name the variant", isa, why)
		}
	}
}

// TestKernels: every variant's kernel table names each entry and what runs
// it, and the Q8_0 GEMV runs a kernel of the variant in use.
func TestKernels(t *testing.T) {
	forEachISA(t, func(t *testing.T, isa ISA) {
		ks := Kernels()
		if len(ks) < 16 {
			t.Fatalf("%d kernel entries, want every op family and 4 weight types", len(ks))
		}
		found := false
		for _, k := range ks {
			if k.Name == "" || k.Variant == "" {
				t.Errorf("unnamed entry %+v", k)
			}
			want := isa.String()
			if isa == AMX {
				want = AVX512.String() // AMX tiles take the GEMMs; its GEMVs are AVX-512's
			}
			if k.Name == "gemv q8_0" {
				found = strings.HasPrefix(k.Variant, want)
			}
		}
		if !found {
			t.Errorf("gemv q8_0 does not run a %s kernel: %+v", isa, ks)
		}
	})
}
