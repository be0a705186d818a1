package loadgen

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestArrivals(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate float64
		seed uint64
	}{{"slow", 0.5, 1}, {"fast", 200, 7}, {"seed 0", 3, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := Arrivals(100, tc.rate, tc.seed), Arrivals(100, tc.rate, tc.seed)
			if !slices.Equal(a, b) {
				t.Fatal("same seed, different schedules")
			}
			if slices.Equal(a, Arrivals(100, tc.rate, tc.seed+1)) {
				t.Error("different seeds, same schedule")
			}
			if a[0] != 0 {
				t.Errorf("first arrival at %v, want 0", a[0])
			}
			if !slices.IsSorted(a) {
				t.Error("arrivals go back in time")
			}
		})
	}
	// The mean gap of a long schedule is 1/rate: a fixed seed makes this
	// deterministic, the 5% bound is ~7 standard errors of 10⁴ exponential gaps.
	const n, rate = 10001, 4.0
	a := Arrivals(n, rate, 42)
	mean := a[n-1].Seconds() / (n - 1)
	if math.Abs(mean*rate-1) > 0.05 {
		t.Errorf("mean gap %.4f s, want about %.4f s", mean, 1/rate)
	}
	for _, rate := range []float64{math.Inf(1), 0} {
		for i, d := range Arrivals(5, rate, 1) {
			if d != 0 {
				t.Errorf("rate %v: arrival %d at %v, want all at once", rate, i, d)
			}
		}
	}
}

func TestPrompts(t *testing.T) {
	o := DefaultOptions()
	o.NumRequests, o.InputLen, o.OutputLen, o.Seed = 40, 20, 10, 3
	o.InputLenRange, o.OutputLenRange, o.SharedPrefixLen = 0.5, 0.3, 6
	a, b := Prompts(o), Prompts(o)
	if !slices.EqualFunc(a, b, samePrompt) {
		t.Fatal("same seed, different prompts")
	}
	o2 := o
	o2.Seed++
	if slices.EqualFunc(a, Prompts(o2), samePrompt) {
		t.Error("different seeds, same prompts")
	}
	prefix := strings.Join(strings.Fields(a[0].Text)[:6], " ")
	distinct := map[string]bool{}
	for i, p := range a {
		n := len(strings.Fields(p.Text))
		if n != p.Words || n < 6+10 || n > 6+30 {
			t.Errorf("prompt %d: %d words (Words %d), want 6 shared + 10..30", i, n, p.Words)
		}
		if p.MaxTokens < 7 || p.MaxTokens > 13 {
			t.Errorf("prompt %d: max_tokens %d, want 7..13", i, p.MaxTokens)
		}
		if !strings.HasPrefix(p.Text, prefix+" ") {
			t.Errorf("prompt %d lacks the shared prefix %q", i, prefix)
		}
		distinct[p.Text] = true
	}
	if len(distinct) != len(a) {
		t.Errorf("%d distinct prompts of %d", len(distinct), len(a))
	}
	// Lengths without a range are exact.
	o.InputLenRange, o.OutputLenRange, o.SharedPrefixLen = 0, 0, 0
	for _, p := range Prompts(o) {
		if p.Words != 20 || p.MaxTokens != 10 {
			t.Fatalf("fixed lengths: %d words, %d max_tokens", p.Words, p.MaxTokens)
		}
	}
}

func samePrompt(a, b Prompt) bool {
	return a.Text == b.Text && slices.Equal(a.IDs, b.IDs) && a.Words == b.Words && a.MaxTokens == b.MaxTokens
}

func TestPromptTokenIDs(t *testing.T) {
	o := DefaultOptions()
	o.NumRequests, o.InputLen, o.OutputLen, o.Seed = 30, 40, 10, 5
	o.SharedPrefixLen, o.PromptIDs = 8, TokenRange{Lo: 1000, Hi: 1100}
	a := Prompts(o)
	if !slices.EqualFunc(a, Prompts(o), samePrompt) {
		t.Fatal("same seed, different prompts")
	}
	words := o
	words.PromptIDs = TokenRange{}
	w := Prompts(words)
	seen := map[int32]bool{}
	for i, p := range a {
		if p.Text != "" || len(p.IDs) != 8+40 || p.Words != len(p.IDs) || p.MaxTokens != w[i].MaxTokens {
			t.Fatalf("prompt %d: text %q, %d ids, Words %d, max_tokens %d (word prompt's %d)",
				i, p.Text, len(p.IDs), p.Words, p.MaxTokens, w[i].MaxTokens)
		}
		if !slices.Equal(p.IDs[:8], a[0].IDs[:8]) {
			t.Errorf("prompt %d lacks the shared prefix", i)
		}
		for _, id := range p.IDs {
			if id < 1000 || id >= 1100 {
				t.Fatalf("prompt %d: id %d outside 1000:1100", i, id)
			}
			seen[id] = true
		}
	}
	// 30·40 draws from 100 ids: all but a handful appear, both ends included.
	if len(seen) < 90 || !seen[1000] || !seen[1099] {
		t.Errorf("%d distinct ids of 100 (1000 seen %v, 1099 seen %v)", len(seen), seen[1000], seen[1099])
	}
}

func TestParseTokenRange(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want TokenRange
		ok   bool
	}{
		{"1000:30000", TokenRange{1000, 30000}, true},
		{" 0:1 ", TokenRange{0, 1}, true},
		{"5:5", TokenRange{}, false},
		{"9:3", TokenRange{}, false},
		{"-1:3", TokenRange{}, false},
		{"1000", TokenRange{}, false},
		{"a:b", TokenRange{}, false},
		{"1:99999999999", TokenRange{}, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseTokenRange(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("ParseTokenRange(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "--prompt-token-ids") {
				t.Errorf("error %q does not name the flag", err)
			}
		})
	}
}
