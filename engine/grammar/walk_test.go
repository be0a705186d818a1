package grammar

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// walkSchemas are the schemas the random-walk test generates from: between
// them nested objects, arrays with bounds, enums, required and optional
// properties, numbers, strings (escapes come from the walk itself), anyOf
// and recursive $refs.
var walkSchemas = []struct{ name, schema string }{
	{"person", `{"type":"object","properties":{
		"name":{"type":"string"},
		"age":{"type":"integer"},
		"height":{"type":"number"},
		"role":{"enum":["admin","user","guest"]},
		"active":{"type":"boolean"},
		"nick":{"type":["string","null"]}},
		"required":["name","age","role"],"additionalProperties":false}`},
	{"nested", `{"type":"object","properties":{
		"id":{"type":"integer"},
		"address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"},"geo":{"type":"array","items":{"type":"number"},"minItems":2,"maxItems":2}},"required":["city","geo"]},
		"tags":{"type":"array","items":{"enum":["a","b","c"]},"maxItems":4},
		"scores":{"type":"array","items":{"type":"object","properties":{"k":{"type":"string"},"v":{"type":"integer"}},"required":["k","v"]},"minItems":1,"maxItems":3}},
		"required":["id","address","scores"]}`},
	{"anyOf and refs", `{"$defs":{"leaf":{"type":"object","properties":{"n":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/leaf"},"maxItems":2}},"required":["n"]}},
		"type":"object","properties":{
		"root":{"$ref":"#/$defs/leaf"},
		"value":{"anyOf":[{"type":"string"},{"type":"integer"},{"type":"null"}]},
		"flag":{"const":true}},
		"required":["root","value","flag"]}`},
	{"string lengths", `{"type":"object","properties":{"code":{"type":"string","minLength":2,"maxLength":4},"note":{"type":"string","maxLength":6}},"required":["code","note"]}`},
	{"top-level array", `{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":3}`},
}

// walk generates one text: a random allowed token at each step, until an
// end-of-generation token is allowed and chosen.
func randomWalk(m *Masker, g *Grammar, rng *rand.Rand, maxTokens int) ([]byte, error) {
	s := m.NewState(g)
	allowed := NewBitset(m.VocabSize())
	var out []byte
	var cands []int32
	for step := 0; step < maxTokens; step++ {
		if err := s.Mask(allowed); err != nil {
			return out, err
		}
		cands = cands[:0]
		eog := false
		for id := int32(0); id < int32(m.VocabSize()); id++ {
			if allowed.Has(id) {
				if m.pieces[id] == nil {
					eog = true
					continue
				}
				cands = append(cands, id)
			}
		}
		if eog && (len(cands) == 0 || rng.IntN(4) == 0) {
			if err := s.Advance(m.eog[0]); err != nil {
				return out, err
			}
			return out, nil
		}
		if len(cands) == 0 {
			return out, fmt.Errorf("dead end after %q", out)
		}
		id := cands[rng.IntN(len(cands))]
		if err := s.Advance(id); err != nil {
			return out, fmt.Errorf("masked token %d %q rejected: %w", id, m.pieces[id], err)
		}
		out = append(out, m.pieces[id]...)
	}
	return out, fmt.Errorf("no end after %d tokens: %q", maxTokens, out)
}

func TestRandomWalk(t *testing.T) {
	vocabs := []struct {
		file string
		runs int
	}{
		{"models/stories260K.gguf", 100},
		// The 128k vocabulary makes each step ~250x dearer under -race: a
		// couple of runs check the fast string path on a real BPE vocabulary.
		{"testdata/tiny-llama3-q8_0.gguf", 1},
	}
	if testing.Short() {
		vocabs[0].runs = 10
	}
	for _, v := range vocabs {
		for _, ws := range walkSchemas {
			t.Run(v.file+"/"+ws.name, func(t *testing.T) {
				m, _ := sharedMasker(t, v.file)
				g, err := CompileSchema([]byte(ws.schema))
				if err != nil {
					t.Fatal(err)
				}
				var schema map[string]any
				if err := json.Unmarshal([]byte(ws.schema), &schema); err != nil {
					t.Fatal(err)
				}
				for seed := 0; seed < v.runs; seed++ {
					rng := rand.New(rand.NewPCG(uint64(seed), 7))
					text, err := randomWalk(m, g, rng, 20000)
					if err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
					var val any
					if err := json.Unmarshal(text, &val); err != nil {
						t.Fatalf("seed %d: %q does not parse: %v", seed, text, err)
					}
					if err := validate(val, schema, schema); err != nil {
						t.Fatalf("seed %d: %q invalid: %v", seed, text, err)
					}
					if !g.Match(text) {
						t.Fatalf("seed %d: grammar rejects its own %q", seed, text)
					}
				}
			})
		}
	}
}

// TestMaskAgreesWithAdvance checks, token by token, that Mask allows
// exactly the tokens Advance accepts, including on the string fast path.
func TestMaskAgreesWithAdvance(t *testing.T) {
	bounded := `{"type":"object","properties":{"a":{"type":"string","maxLength":3},"b":{"type":"string","minLength":2}},"required":["a","b"]}`
	ambiguous := `{"anyOf":[{"type":"string","maxLength":2},{"type":"string","minLength":4,"maxLength":20},{"enum":["abcdef"]}]}`
	tests := []struct {
		schema   string
		prefixes []string
	}{
		{walkSchemas[0].schema, []string{``, `{"name":"`, `{"name":"a\`, `{"name":"ab","age":1`, `{"name":"\u00`, "{\"name\":\"\xc3"}},
		{bounded, []string{`{"a":"`, `{"a":"x`, `{"a":"xyz`, `{"a":"x","b":"`, `{"a":"x","b":"yy`}},
		{ambiguous, []string{`"`, `"a`, `"ab`, `"abc`}},
	}
	for _, vocab := range []string{"models/stories260K.gguf", "testdata/tiny-llama3-q8_0.gguf"} {
		m, _ := sharedMasker(t, vocab)
		allowed := NewBitset(m.VocabSize())
		for _, tt := range tests {
			g, err := CompileSchema([]byte(tt.schema))
			if err != nil {
				t.Fatal(err)
			}
			for _, prefix := range tt.prefixes {
				s := m.NewState(g)
				if err := s.AdvanceBytes([]byte(prefix)); err != nil {
					t.Fatalf("%q: %v", prefix, err)
				}
				s.Mask(allowed)
				probe := m.NewState(g)
				for id := int32(0); id < int32(m.VocabSize()); id++ {
					if m.pieces[id] == nil {
						continue
					}
					probe.cur.copyFrom(&s.cur)
					ok := probe.Advance(id) == nil
					if ok != allowed.Has(id) {
						t.Errorf("%s prefix %q token %d %q: mask %v, advance %v", vocab, prefix, id, m.pieces[id], allowed.Has(id), ok)
					}
				}
			}
		}
	}
}

// TestRandomWalkChoiceRegex generates from guided_choice and guided_regex
// grammars and checks every text is one the grammar describes.
func TestRandomWalkChoiceRegex(t *testing.T) {
	m, _ := sharedMasker(t, "models/stories260K.gguf")
	options := []string{"Once upon a time", "The end", "yes", "no"}
	choice, err := Choice(options)
	if err != nil {
		t.Fatal(err)
	}
	re, err := Regex(`[A-Z][a-z]{1,8}( [a-z]+){0,3}\.`)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []*Grammar{choice, re} {
		for seed := 0; seed < 30; seed++ {
			text, err := randomWalk(m, g, rand.New(rand.NewPCG(uint64(seed), 3)), 5000)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			if !g.Match(text) {
				t.Fatalf("seed %d: %q does not match", seed, text)
			}
			if g == choice && !slices.Contains(options, string(text)) {
				t.Fatalf("seed %d: %q is not an option", seed, text)
			}
		}
	}
}

// TestConcurrentStates shares one Masker and one Grammar between
// generations running at once (run with -race).
func TestConcurrentStates(t *testing.T) {
	m, _ := sharedMasker(t, "models/stories260K.gguf")
	g, err := CompileSchema([]byte(walkSchemas[0].schema))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for w := 0; w < 4; w++ {
		go func() {
			_, err := randomWalk(m, g, rand.New(rand.NewPCG(uint64(w), 9)), 20000)
			errs <- err
		}()
	}
	for w := 0; w < 4; w++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestBitsetFilter(t *testing.T) {
	b := NewBitset(70)
	b.set(1)
	b.set(69)
	logits := make([]float32, 70)
	b.Filter(logits)
	for i, l := range logits {
		if want := i == 1 || i == 69; want != (l == 0) {
			t.Errorf("logit %d = %v", i, l)
		}
	}
}

// TestRandomWalkJSONObject generates from response_format json_object:
// every text must decode as a JSON object.
func TestRandomWalkJSONObject(t *testing.T) {
	m, _ := sharedMasker(t, "models/stories260K.gguf")
	g := JSONObject()
	for seed := 0; seed < 100; seed++ {
		text, err := randomWalk(m, g, rand.New(rand.NewPCG(uint64(seed), 5)), 20000)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		var v map[string]any
		if err := json.Unmarshal(text, &v); err != nil {
			t.Fatalf("seed %d: %q: %v", seed, text, err)
		}
	}
}
