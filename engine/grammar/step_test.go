package grammar

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

// TestStepWorkOfOrdinarySchemas replays random generations of the walk
// schemas on the 128k-token Llama 3 vocabulary and checks that no Mask or
// Advance comes near the default step budget: the budget stops hostile
// grammars, never the schemas people write.
func TestStepWorkOfOrdinarySchemas(t *testing.T) {
	m, _ := sharedMasker(t, "testdata/tiny-llama3-q8_0.gguf")
	allowed := NewBitset(m.VocabSize())
	// The two largest walk schemas: objects, arrays, strings, numbers.
	for _, ws := range walkSchemas[:2] {
		t.Run(ws.name, func(t *testing.T) {
			g, err := CompileSchema([]byte(ws.schema))
			if err != nil {
				t.Fatal(err)
			}
			ids := recordWalk(t, m, g, rand.New(rand.NewPCG(3, 4)))
			// A fresh copy of the grammar: its cache of masks is empty, so
			// every step is walked.
			if g, err = CompileSchema([]byte(ws.schema)); err != nil {
				t.Fatal(err)
			}
			s := m.NewState(g)
			var worst int64
			for _, id := range ids {
				if err := s.Mask(allowed); err != nil {
					t.Fatal(err)
				}
				worst = max(worst, s.st.work)
				if err := s.Advance(id); err != nil {
					t.Fatal(err)
				}
				worst = max(worst, s.st.work)
			}
			if worst > DefaultLimits().StepWork/16 {
				t.Errorf("a step took %d work units; the budget is %d", worst, DefaultLimits().StepWork)
			}
			t.Logf("%d tokens, worst step %d units", len(ids), worst)
		})
	}
}

// TestAmbiguousRegexStep masks highly ambiguous patterns over the 128k
// vocabulary: each Mask either finishes or stops at the budget with a
// *LimitError naming grammar_step_work, within a bounded time either way.
func TestAmbiguousRegexStep(t *testing.T) {
	m, _ := sharedMasker(t, "testdata/tiny-llama3-q8_0.gguf")
	allowed := NewBitset(m.VocabSize())
	for _, tc := range []struct {
		pattern string
		budget  int64
	}{
		{`(.*){10}`, 0},
		{`(.*){30}`, 0},
		{`(a|ab|abc|abcd)*(.*){20}`, 0},
		{`(.*){10}`, 5000}, // a small budget: must stop, not finish
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			g, err := Limits{StepWork: tc.budget}.Regex(t.Context(), tc.pattern)
			if err != nil {
				if IsLimit(err) {
					t.Skipf("refused at compile time: %v", err)
				}
				t.Fatal(err)
			}
			s := m.NewState(g)
			for _, text := range []string{"", "Once", "Once upon a time"} {
				if err := s.AdvanceBytes([]byte(text)); err != nil {
					var le *LimitError
					if errors.As(err, &le) && le.Limit == "grammar_step_work" {
						return
					}
					t.Fatal(err)
				}
				t0 := time.Now()
				err := s.Mask(allowed)
				if d := time.Since(t0); d > 2*time.Second {
					t.Errorf("Mask took %v", d)
				}
				var le *LimitError
				switch {
				case err == nil && tc.budget > 0:
					t.Fatalf("finished within %d units", tc.budget)
				case err != nil && (!errors.As(err, &le) || le.Limit != "grammar_step_work"):
					t.Fatalf("err = %v", err)
				}
				if err != nil {
					if s.st.work > g.stepWork+int64(4*maxThreads*maxStack) {
						t.Errorf("stopped at %d units, budget %d", s.st.work, g.stepWork)
					}
					return
				}
			}
		})
	}
}

// TestRecursionNeverStuck generates from recursive schemas always taking
// the token that opens the most brackets: the text must reach the depth
// limit and still close into valid JSON, never a dead end (the runtime
// keeps only threads that can finish within maxStack frames).
func TestRecursionNeverStuck(t *testing.T) {
	m, _ := sharedMasker(t, "models/stories260K.gguf")
	allowed := NewBitset(m.VocabSize())
	for _, schema := range []string{
		`{"type":"array","items":{"$ref":"#"}}`,
		`{"anyOf":[{"type":"integer"},{"type":"array","items":{"$ref":"#"},"minItems":1}]}`,
		`{"type":"object","properties":{"k":{"type":"array","items":{"$ref":"#"}}},"required":["k"]}`,
	} {
		t.Run(schema, func(t *testing.T) {
			g, err := CompileSchema([]byte(schema))
			if err != nil {
				t.Fatal(err)
			}
			s := m.NewState(g)
			var out []byte
			closing := false // past the depth limit: head for the end
			for step := 0; ; step++ {
				if step > 20000 {
					t.Fatalf("no end after %d bytes: %.200q...", len(out), out)
				}
				if err := s.Mask(allowed); err != nil {
					t.Fatal(err)
				}
				canOpen, canClose := false, false
				for id := int32(0); id < int32(m.VocabSize()); id++ {
					if p := m.pieces[id]; allowed.Has(id) {
						canOpen = canOpen || bytes.ContainsAny(p, "[{")
						canClose = canClose || bytes.ContainsAny(p, "]}")
					}
				}
				// At the depth limit nothing opens any more.
				closing = closing || !canOpen && canClose
				best, bestScore := int32(-1), -1<<30
				for id := int32(0); id < int32(m.VocabSize()); id++ {
					if !allowed.Has(id) {
						continue
					}
					p := m.pieces[id]
					opens := bytes.Count(p, []byte("[")) + bytes.Count(p, []byte("{"))
					closes := bytes.Count(p, []byte("]")) + bytes.Count(p, []byte("}"))
					score := opens - closes
					if closing {
						score = closes - opens - bytes.Count(p, []byte(","))
					}
					if p == nil {
						score = 1 << 20 // the end, once allowed
					}
					if score > bestScore {
						best, bestScore = id, score
					}
				}
				if best < 0 {
					t.Fatalf("dead end after %d bytes: %.200q...", len(out), out)
				}
				if m.pieces[best] == nil {
					break
				}
				if err := s.Advance(best); err != nil {
					t.Fatal(err)
				}
				out = append(out, m.pieces[best]...)
			}
			var v any
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("%.200q...: %v", out, err)
			}
			if !g.Match(out) {
				t.Fatalf("grammar rejects its own %.200q...", out)
			}
			depth := bytes.Count(out, []byte("["))
			if depth < maxStack/3 { // two frames a level at most
				t.Errorf("only %d brackets: the walk did not reach the limit", depth)
			}
		})
	}
}

// TestAnyOfChainGenerates walks a chain of definitions each reaching the
// next by two paths (2^60 paths in all): each step expands each (state,
// stack) once, so it generates like any small schema.
func TestAnyOfChainGenerates(t *testing.T) {
	m, _ := sharedMasker(t, "models/stories260K.gguf")
	g, err := CompileSchema([]byte(refChain(60, true)))
	if err != nil {
		t.Fatal(err)
	}
	for seed := range 5 {
		text, err := randomWalk(m, g, rand.New(rand.NewPCG(uint64(seed), 11)), 200)
		if err != nil {
			t.Fatal(err)
		}
		var n json.Number
		if err := json.Unmarshal(text, &n); err != nil || !g.Match(text) {
			t.Fatalf("%q: %v", text, err)
		}
	}
}
