package sample

import (
	"math"
	"testing"
)

// refLogSoftmax is a float64 log-softmax ignoring NaN.
func refLogSoftmax(logits []float32) []float64 {
	maxL := math.Inf(-1)
	for _, l := range logits {
		if float64(l) > maxL {
			maxL = float64(l)
		}
	}
	var sum float64
	for _, l := range logits {
		if !math.IsNaN(float64(l)) {
			sum += math.Exp(float64(l) - maxL)
		}
	}
	out := make([]float64, len(logits))
	for i, l := range logits {
		if math.IsNaN(float64(l)) {
			out[i] = math.Inf(-1)
			continue
		}
		out[i] = float64(l) - maxL - math.Log(sum)
	}
	return out
}

func TestLogprobs(t *testing.T) {
	nan := float32(math.NaN())
	negInf := float32(math.Inf(-1))
	tests := []struct {
		name   string
		logits []float32
		topN   int
	}{
		{"random 32k", randomLogits(32000, 3, 11), 5},
		{"peaked", randomLogits(1000, 20, 12), 20},
		{"small with ties", []float32{1, 2, 2, 0, 2}, 4},
		{"NaN and -Inf present", []float32{nan, 1, negInf, 3, 0.5}, 5},
		{"topN above size", []float32{0, 1}, 10},
		{"topN zero", []float32{0, 1, 2}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := refLogSoftmax(tt.logits)
			// Every token's logprob, via top over the whole row.
			_, all := Logprobs(tt.logits, 0, len(tt.logits))
			var probSum float64
			for _, e := range all {
				probSum += math.Exp(float64(e.Logprob))
			}
			if math.Abs(probSum-1) > 1e-5 {
				t.Fatalf("probabilities sum to %v, want 1", probSum)
			}
			// The chosen token's logprob, on a stride of tokens.
			for tok := 0; tok < len(tt.logits); tok += 1 + len(tt.logits)/200 {
				lp, _ := Logprobs(tt.logits, int32(tok), 0)
				if d := math.Abs(float64(lp) - ref[tok]); d > 1e-5 && !(math.IsInf(ref[tok], -1) && math.IsInf(float64(lp), -1)) {
					t.Fatalf("token %d: logprob %v, want %v", tok, lp, ref[tok])
				}
			}
			_, top := Logprobs(tt.logits, 0, tt.topN)
			wantN := min(tt.topN, len(tt.logits))
			if len(top) != wantN {
				t.Fatalf("len(top) = %d, want %d", len(top), wantN)
			}
			for i, e := range top {
				if math.Abs(float64(e.Logprob)-ref[e.ID]) > 1e-5 {
					t.Fatalf("top[%d] = %+v, reference logprob %v", i, e, ref[e.ID])
				}
				if i > 0 && !lpBetter(top[i-1], e) {
					t.Fatalf("top not sorted by logprob desc, id asc: %+v then %+v", top[i-1], e)
				}
			}
			// Nothing left out beats the last entry of top.
			if wantN > 0 {
				last := top[wantN-1]
				in := map[int32]bool{}
				for _, e := range top {
					in[e.ID] = true
				}
				for id := range tt.logits {
					c := TokenLogprob{ID: int32(id), Logprob: float32(ref[id])}
					if !in[int32(id)] && c.Logprob > last.Logprob {
						t.Fatalf("token %d (%v) left out of top, last kept %+v", id, c.Logprob, last)
					}
				}
			}
		})
	}
}

func TestLogprobsEdgeCases(t *testing.T) {
	inf := float32(math.Inf(1))
	negInf := float32(math.Inf(-1))
	nan := float32(math.NaN())
	tests := []struct {
		name    string
		logits  []float32
		token   int32
		want    float64
		wantTop []TokenLogprob
	}{
		{"all -Inf", []float32{negInf, negInf}, 0, math.Inf(-1), nil},
		{"all NaN", []float32{nan, nan}, 1, math.Inf(-1), nil},
		{"token out of range", []float32{0, 0}, 2, math.Inf(-1), []TokenLogprob{{0, float32(-math.Ln2)}}},
		{"negative token", []float32{0, 0}, -1, math.Inf(-1), []TokenLogprob{{0, float32(-math.Ln2)}}},
		{"two +Inf share the mass", []float32{inf, 1, inf}, 2, -math.Ln2, []TokenLogprob{{0, float32(-math.Ln2)}}},
		{"finite beside +Inf", []float32{inf, 1}, 1, math.Inf(-1), []TokenLogprob{{0, 0}}},
		{"uniform", []float32{5, 5, 5, 5}, 3, -math.Log(4), []TokenLogprob{{0, float32(-math.Log(4))}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lp, top := Logprobs(tt.logits, tt.token, 1)
			if math.IsInf(tt.want, -1) {
				if !math.IsInf(float64(lp), -1) {
					t.Fatalf("logprob = %v, want -Inf", lp)
				}
			} else if math.Abs(float64(lp)-tt.want) > 1e-6 {
				t.Fatalf("logprob = %v, want %v", lp, tt.want)
			}
			if len(top) != len(tt.wantTop) {
				t.Fatalf("top = %+v, want %+v", top, tt.wantTop)
			}
			for i := range top {
				if top[i].ID != tt.wantTop[i].ID || math.Abs(float64(top[i].Logprob-tt.wantTop[i].Logprob)) > 1e-6 {
					t.Fatalf("top = %+v, want %+v", top, tt.wantTop)
				}
			}
		})
	}
}
