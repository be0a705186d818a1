package grammar

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// nestedObjects is n objects each holding the next as its required
// property "a", an integer innermost.
func nestedObjects(n int) string {
	s := `{"type":"integer"}`
	for range n {
		s = `{"type":"object","properties":{"a":` + s + `},"required":["a"]}`
	}
	return s
}

// nestedArrays is n arrays of arrays of integers.
func nestedArrays(n int) string {
	s := `{"type":"integer"}`
	for range n {
		s = `{"type":"array","items":` + s + `}`
	}
	return s
}

// refChain is $defs a0 .. a{n-1} where a_i is anyOf twice a_{i+1}; a_n is
// an integer. Each level reaches the next by two paths.
func refChain(n int, twice bool) string {
	var defs []string
	for i := range n {
		r := fmt.Sprintf(`{"$ref":"#/$defs/a%d"}`, i+1)
		if twice {
			defs = append(defs, fmt.Sprintf(`"a%d":{"anyOf":[%s,%s]}`, i, r, r))
		} else {
			defs = append(defs, fmt.Sprintf(`"a%d":%s`, i, r))
		}
	}
	defs = append(defs, fmt.Sprintf(`"a%d":{"type":"integer"}`, n))
	return `{"$ref":"#/$defs/a0","$defs":{` + strings.Join(defs, ",") + `}}`
}

// manyOptional is an object of n optional integer properties.
func manyOptional(n int) string {
	var props []string
	for i := range n {
		props = append(props, fmt.Sprintf(`"p%d":{"type":"integer"}`, i))
	}
	return `{"type":"object","properties":{` + strings.Join(props, ",") + `}}`
}

// heapGrowth runs f and returns how much the live heap grew at its peak, as
// well as can be told from outside: the total allocated while it ran.
func heapGrowth(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestHostileGrammars compiles the reproducers of grammars that used to
// take the server down (gigabytes, minutes, or invalid output) and checks
// that each is either refused with a *LimitError naming the limit, or
// compiled within its budget, in well under a second, allocating less
// than a small multiple of the byte budget.
func TestHostileGrammars(t *testing.T) {
	lim := Limits{MaxBytes: 16 << 20, StepWork: 1 << 20}
	cases := []struct {
		name    string
		compile func(context.Context, Limits) (*Grammar, error)
		limit   string // "" when the grammar is admitted
	}{
		{"20 nested objects", schemaOf(nestedObjects(20)), ""},
		{"3000 nested objects", schemaOf(nestedObjects(3000)), "nesting_depth"},
		{"120 nested objects", schemaOf(nestedObjects(120)), ""},
		{"counted repetition of a counted repetition", regexOf(`(.{0,1000}){1000}`), "grammar_max_bytes"},
		{"four nested {1,999}", regexOf(`((((a{1,999}){1,999}){1,999}){1,999})`), "grammar_max_bytes"},
		{"ambiguous stars", regexOf(`(.*){30}`), ""},
		{"10000 optional properties", schemaOf(manyOptional(10000)), "grammar_max_bytes"},
		{"600 optional properties", schemaOf(manyOptional(600)), ""},
		{"anyOf chain 60 deep", schemaOf(refChain(60, true)), ""},
		{"anyOf chain 300 deep", schemaOf(refChain(300, true)), "nesting_depth"},
		{"$ref chain 127", schemaOf(refChain(127, false)), "nesting_depth"},
		{"$ref chain 100", schemaOf(refChain(100, false)), ""},
		{"300 nested arrays", schemaOf(nestedArrays(300)), "nesting_depth"},
		{"100 nested arrays", schemaOf(nestedArrays(100)), ""},
		{"300 nested arrays of any value", schemaOf(strings.Repeat(`{"type":"array","items":`, 300) + `{}` + strings.Repeat(`}`, 300)), "nesting_depth"},
		{"100 nested arrays of a recursive tree", schemaOf(`{"$defs":{"t":{"type":"array","items":{"$ref":"#/$defs/t"}}},"type":"array","items":` +
			strings.Repeat(`{"type":"array","items":`, 99) + `{"$ref":"#/$defs/t"}` + strings.Repeat(`}`, 100)), ""},
		{"recursion with no end", schemaOf(`{"type":"object","properties":{"a":{"$ref":"#"}},"required":["a"]}`), "nesting_depth"},
		{"maxItems 1024 nested", schemaOf(strings.Repeat(`{"type":"array","minItems":1024,"maxItems":1024,"items":`, 8) + `{}` + strings.Repeat(`}`, 8)), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var g *Grammar
			var err error
			t0 := time.Now()
			grew := heapGrowth(func() { g, err = tc.compile(context.Background(), lim) })
			took := time.Since(t0)
			if took > 2*time.Second {
				t.Errorf("took %v", took)
			}
			if grew > uint64(4*lim.MaxBytes) {
				t.Errorf("allocated %d MiB for a budget of %d MiB", grew>>20, lim.MaxBytes>>20)
			}
			var le *LimitError
			switch {
			case tc.limit == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.limit == "":
				if g.Size() > lim.MaxBytes {
					t.Errorf("size %d over the budget %d", g.Size(), lim.MaxBytes)
				}
			case !errors.As(err, &le):
				t.Fatalf("err = %v, want a *LimitError", err)
			case le.Limit != tc.limit:
				t.Fatalf("limit %q (%v), want %q", le.Limit, err, tc.limit)
			}
			t.Logf("%v, %d KiB allocated, err %v", took, grew>>10, err)
		})
	}
}

func schemaOf(s string) func(context.Context, Limits) (*Grammar, error) {
	return func(ctx context.Context, l Limits) (*Grammar, error) { return l.CompileSchema(ctx, []byte(s)) }
}

func regexOf(p string) func(context.Context, Limits) (*Grammar, error) {
	return func(ctx context.Context, l Limits) (*Grammar, error) { return l.Regex(ctx, p) }
}

// TestCompileStopsWithItsContext compiles a large grammar under a context
// that is already done: compilation stops early with the context's error,
// which is how a client gone or a server stopping ends it.
func TestCompileStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, compile := range map[string]func(context.Context, Limits) (*Grammar, error){
		"schema": schemaOf(manyOptional(1000)),
		"regex":  regexOf(`(a|b|c|d){1000}`),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := compile(ctx, DefaultLimits()); !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			if _, err := compile(context.Background(), DefaultLimits()); err != nil {
				t.Fatalf("without cancellation: %v", err)
			}
		})
	}
}
