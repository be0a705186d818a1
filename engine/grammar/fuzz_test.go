package grammar

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fuzzLimits are small enough that a fuzzing run stays fast, large enough
// that ordinary grammars compile.
var fuzzLimits = Limits{MaxBytes: 8 << 20, StepWork: 1 << 18}

// fuzzGrammar checks what every compilation must hold, whatever the input:
// no panic (the fuzzer reports it), an answer within a time budget, memory
// within a few budgets, and for a grammar that compiles, a short random
// generation whose every Mask either finishes or stops at the step budget
// with a *LimitError, never a dead end (no token allowed while the text is
// incomplete), and whose text, when complete, the grammar matches.
func fuzzGrammar(t *testing.T, compile func(context.Context, Limits) (*Grammar, error)) {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	g, err := compile(context.Background(), fuzzLimits)
	took := time.Since(t0)
	runtime.ReadMemStats(&after)
	if took > 2*time.Second {
		t.Fatalf("compilation took %v", took)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8*uint64(fuzzLimits.MaxBytes) {
		t.Fatalf("compilation allocated %d MiB for a budget of %d MiB", grew>>20, fuzzLimits.MaxBytes>>20)
	}
	if err != nil {
		return
	}
	if g.Size() > fuzzLimits.MaxBytes+maxCacheBytes {
		t.Fatalf("size %d over the budget", g.Size())
	}
	m, _ := sharedMasker(t, "models/stories260K.gguf")
	s := m.NewState(g)
	allowed := NewBitset(m.VocabSize())
	rng := rand.New(rand.NewPCG(1, 2))
	var text []byte
	for range 24 {
		if err := s.Mask(allowed); err != nil {
			var le *LimitError
			if !errors.As(err, &le) || le.Limit != "grammar_step_work" {
				t.Fatalf("Mask: %v", err)
			}
			return
		}
		var cands []int32
		eog := false
		for id := int32(0); id < int32(m.VocabSize()); id++ {
			if allowed.Has(id) {
				if m.pieces[id] == nil {
					eog = true
				} else {
					cands = append(cands, id)
				}
			}
		}
		if len(cands) == 0 && !eog {
			t.Fatalf("dead end after %q", text)
		}
		if eog && (len(cands) == 0 || rng.IntN(3) == 0) {
			if !g.Match(text) && len(text) < 1<<12 {
				t.Fatalf("the grammar does not match its own complete text %q", text)
			}
			return
		}
		id := cands[rng.IntN(len(cands))]
		if err := s.Advance(id); err != nil {
			if IsLimit(err) {
				return
			}
			t.Fatalf("masked token %q rejected: %v", m.pieces[id], err)
		}
		text = append(text, m.pieces[id]...)
	}
}

// FuzzCompileSchema compiles arbitrary JSON schemas, seeded with the
// schemas that used to take the server down.
func FuzzCompileSchema(f *testing.F) {
	for _, s := range []string{
		nestedObjects(20),
		nestedObjects(600),
		nestedArrays(140),
		refChain(28, true),
		refChain(130, false),
		manyOptional(3000),
		`{"type":"object","properties":{"a":{"$ref":"#"}},"required":["a"]}`,
		`{"anyOf":[{"$ref":"#"},{"type":"null"}]}`,
		`{"type":"array","items":{"$ref":"#"},"minItems":1024,"maxItems":1024}`,
		`{"type":"string","minLength":1000,"maxLength":1024}`,
		`{"$defs":{"t":{"type":"array","items":{"$ref":"#/$defs/t"}}},"$ref":"#/$defs/t"}`,
		`{"type":"integer","multipleOf":997}`,
		`{"type":"number","exclusiveMinimum":-1e300,"maximum":1e300}`,
		`{"type":"string","pattern":"(.{0,1000}){1000}"}`,
		`{"type":"string","pattern":"(a|ab|abc)*(.*){20}b"}`,
		`{"type":"string","format":"uri","maxLength":2083}`,
		`{"$defs":{"a":{"allOf":[{"$ref":"#/$defs/a"}],"type":"object"}},"$ref":"#/$defs/a","minProperties":0}`,
		`{"type":"object","properties":{"a":{},"ab":{},"abc":{}},"additionalProperties":{"$ref":"#"}}`,
		`{"type":"array","prefixItems":[{"$ref":"#"},{"$ref":"#"}],"items":false}`,
		walkSchemas[0].schema, walkSchemas[1].schema, walkSchemas[2].schema,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, schema string) {
		fuzzGrammar(t, func(ctx context.Context, l Limits) (*Grammar, error) { return l.CompileSchema(ctx, []byte(schema)) })
	})
}

// FuzzCompileRegex compiles arbitrary guided_regex patterns, seeded with
// the patterns that used to take the server down.
func FuzzCompileRegex(f *testing.F) {
	for _, p := range []string{
		`(.{0,1000}){1000}`,
		`((((a{1,999}){1,999}){1,999}){1,999})`,
		`(.*){10}`,
		`(.*){30}`,
		`(a|ab|abc)*(.*){20}b`,
		`[A-Z][a-z]{1,8}( [a-z]+){0,3}\.`,
		`\d{3}-\d{4}`,
		strings.Repeat("(", 1200) + "a" + strings.Repeat(")", 1200),
		`(a?){1000}`,
		`[^"]*`,
	} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		fuzzGrammar(t, func(ctx context.Context, l Limits) (*Grammar, error) { return l.Regex(ctx, pattern) })
	})
}

// FuzzCompileGBNF compiles arbitrary GBNF and Lark-style grammars, seeded
// with the sample grammars and hostile repetitions.
func FuzzCompileGBNF(f *testing.F) {
	for _, s := range []string{
		gbnfJSON, gbnfArithmetic, gbnfList, gbnfChess, larkCalc,
		`root ::= ((("a"{0,1000}){1000}){1000})`,
		`root ::= (x | x x)* "b"` + "\nx ::= \"a\" | \"a\" \"a\"",
		`root ::= ` + strings.Repeat("(", 1200) + `"a"` + strings.Repeat(")", 1200),
		`root ::= [^\x00-\U0010FFFF]`,
		"start: a\na: (a \"x\" | \"y\")",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		fuzzGrammar(t, func(ctx context.Context, l Limits) (*Grammar, error) { return l.EBNF(ctx, src) })
	})
}
