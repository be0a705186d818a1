package grammar

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// fixtureSchema is one schema of testdata/schemas_pydantic_zod.json:
// models written the way Pydantic v2, zod-to-json-schema and OpenAI's
// strict mode emit them (title, $defs, anyOf with null, default, format,
// exclusiveMinimum, ...).
type fixtureSchema struct {
	Name   string          `json:"name"`
	Schema json.RawMessage `json:"schema"`
}

func loadFixtureSchemas(t *testing.T) []fixtureSchema {
	t.Helper()
	data, err := os.ReadFile("testdata/schemas_pydantic_zod.json")
	if err != nil {
		t.Fatal(err)
	}
	var fs []fixtureSchema
	if err := json.Unmarshal(data, &fs); err != nil {
		t.Fatal(err)
	}
	return fs
}

// independentValidator compiles schema with the jsonschema/v6 validator,
// formats asserted (they are only annotations by default).
func independentValidator(t *testing.T, name string, schema []byte) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	url := "mem://" + name + ".json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	v, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFixtureSchemasRandomWalks compiles each fixture schema and checks 20
// seeded random generations of each against the independent validator:
// every one must be valid.
func TestFixtureSchemasRandomWalks(t *testing.T) {
	m, _ := sharedMasker(t, "models/stories260K.gguf")
	fs := loadFixtureSchemas(t)
	if len(fs) < 50 {
		t.Fatalf("%d fixture schemas, want at least 50", len(fs))
	}
	const walks = 20
	valid := 0
	for _, f := range fs {
		t.Run(f.Name, func(t *testing.T) {
			g, err := CompileSchema(f.Schema)
			if err != nil {
				t.Fatal(err)
			}
			v := independentValidator(t, f.Name, f.Schema)
			for seed := 0; seed < walks; seed++ {
				text, err := randomWalk(m, g, rand.New(rand.NewPCG(uint64(seed), 11)), 20000)
				if err != nil {
					t.Fatalf("seed %d: %v", seed, err)
				}
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(text))
				if err != nil {
					t.Fatalf("seed %d: %q does not parse: %v", seed, text, err)
				}
				if err := v.Validate(inst); err != nil {
					t.Fatalf("seed %d: %s invalid: %v", seed, text, err)
				}
				valid++
			}
		})
	}
	t.Logf("%d of %d generations valid", valid, len(fs)*walks)
}

// TestStepWorkOfFixtureSchemas replays a random generation of each fixture
// schema on the 128k-token Llama 3 vocabulary with an empty mask cache and
// checks that no Mask or Advance comes near the step budget (the same
// bound as TestStepWorkOfOrdinarySchemas). It logs the worst step.
func TestStepWorkOfFixtureSchemas(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("replays 51 generations over a 128k vocabulary (work units, the same with or without -race: run without it)")
	}
	m, _ := sharedMasker(t, "testdata/tiny-llama3-q8_0.gguf")
	allowed := NewBitset(m.VocabSize())
	var worstAll int64
	var worstName string
	for _, f := range loadFixtureSchemas(t) {
		t.Run(f.Name, func(t *testing.T) {
			g, err := CompileSchema(f.Schema)
			if err != nil {
				t.Fatal(err)
			}
			ids := recordWalk(t, m, g, rand.New(rand.NewPCG(5, 6)))
			if g, err = CompileSchema(f.Schema); err != nil {
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
			if worst > worstAll {
				worstAll, worstName = worst, f.Name
			}
			t.Logf("%d tokens, worst step %d units", len(ids), worst)
		})
	}
	t.Logf("worst step of all: %d units (%s); budget %d", worstAll, worstName, DefaultLimits().StepWork)
}
