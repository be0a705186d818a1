package control

import (
	"context"
	"errors"
	"math"
	"testing"
)

// TestSubmitParamErrors: every bad request is a *ParamError naming the
// field at fault, and still errors.Is ErrBadRequest.
func TestSubmitParamErrors(t *testing.T) {
	e, _ := newFakeEngine(t, 64, Config{MaxNumSeqs: 4})
	for _, tc := range []struct {
		name  string
		edit  func(*Request)
		param string
	}{
		{"empty prompt", func(r *Request) { r.Prompt = nil }, "prompt"},
		{"token outside vocabulary", func(r *Request) { r.Prompt = []int32{1, 9999} }, "prompt"},
		{"negative max_tokens", func(r *Request) { r.MaxTokens = -1 }, "max_tokens"},
		{"negative min_tokens", func(r *Request) { r.MinTokens = -1 }, "min_tokens"},
		{"min over max", func(r *Request) { r.MaxTokens, r.MinTokens = 2, 3 }, "min_tokens"},
		{"top_logprobs", func(r *Request) { r.TopLogprobs = 21 }, "top_logprobs"},
		{"n", func(r *Request) { r.N = -1 }, "n"},
		{"best_of under n", func(r *Request) { r.N, r.BestOf = 3, 2 }, "best_of"},
		{"session with n", func(r *Request) { r.N, r.SessionID = 2, "s" }, "session_id"},
		{"stop token", func(r *Request) { r.StopTokens = []int32{-1} }, "stop_token_ids"},
		{"empty stop", func(r *Request) { r.StopStrings = []string{""} }, "stop"},
		{"beam length penalty", func(r *Request) { r.N, r.Beam = 2, &BeamSearch{LengthPenalty: math.NaN()} }, "length_penalty"},
		{"wider than max_num_seqs", func(r *Request) { r.N = 5 }, "n"},
		{"best_of wider than max_num_seqs", func(r *Request) { r.N, r.BestOf = 2, 6 }, "best_of"},
		{"sampling", func(r *Request) { r.Sample.Temperature = -1 }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := greedyReq([]int32{1, 5}, 4)
			tc.edit(&r)
			_, err := e.Submit(context.Background(), r)
			var pe *ParamError
			if !errors.As(err, &pe) || !errors.Is(err, ErrBadRequest) {
				t.Fatalf("err %v: want a *ParamError that is ErrBadRequest", err)
			}
			if pe.Param != tc.param {
				t.Errorf("param %q, want %q (%v)", pe.Param, tc.param, err)
			}
		})
	}
}
