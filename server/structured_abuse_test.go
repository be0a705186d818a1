package server

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/engine/grammar"
)

// hostileSchemas builds the schemas of the reproducers: nested objects,
// optional properties, $defs chains, nested arrays.
func nestedObjectSchema(n int) string {
	s := `{"type":"integer"}`
	for range n {
		s = `{"type":"object","properties":{"a":` + s + `},"required":["a"]}`
	}
	return s
}

func optionalPropsSchema(n int) string {
	var props []string
	for i := range n {
		props = append(props, fmt.Sprintf(`"p%d":{"type":"integer"}`, i))
	}
	return `{"type":"object","properties":{` + strings.Join(props, ",") + `}}`
}

func defsChainSchema(n int, twice bool) string {
	var defs []string
	for i := range n {
		r := fmt.Sprintf(`{"$ref":"#/$defs/a%d"}`, i+1)
		if twice {
			r = `{"anyOf":[` + r + `,` + r + `]}`
		}
		defs = append(defs, fmt.Sprintf(`"a%d":%s`, i, r))
	}
	defs = append(defs, fmt.Sprintf(`"a%d":{"type":"integer"}`, n))
	return `{"$ref":"#/$defs/a0","$defs":{` + strings.Join(defs, ",") + `}}`
}

func nestedArraySchema(n int) string {
	return strings.Repeat(`{"type":"array","items":`, n) + `{"type":"integer"}` + strings.Repeat(`}`, n)
}

// nestedRulesGBNF is a GBNF grammar of n rules, each wrapping the next in
// brackets (JSON-escaped newlines between rules).
func nestedRulesGBNF(n int) string {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, `r%d ::= \"[\" r%d \"]\"\n`, i, i+1)
	}
	fmt.Fprintf(&sb, `r%d ::= \"x\"\nroot ::= r0`, n)
	return sb.String()
}

// TestHostileGrammarRequests sends each reproducer of a request that used
// to take the server down (gigabytes of grammar, minutes of compilation,
// or a 200 with invalid JSON) and checks it is answered 400
// grammar_too_complex, naming the parameter and the limit, within a
// second, allocating at most a few times the per-grammar budget.
func TestHostileGrammarRequests(t *testing.T) {
	const budget = 16 << 20
	env := newTestEnv(t, Options{GrammarLimits: grammar.Limits{MaxBytes: budget}}, 0)
	const chat, cmpl = "/v1/chat/completions", "/v1/completions"
	msgs := `"messages": [{"role": "user", "content": "x"}], "max_tokens": 1`
	rf := func(schema string) string {
		return `{` + msgs + `, "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": ` + schema + `}}}`
	}
	tests := []struct {
		name, path, body string
		param, limit     string
	}{
		{"3000 nested objects", chat, rf(nestedObjectSchema(3000)), "response_format", "nesting_depth"},
		{"counted repetition of a counted repetition", cmpl, `{"prompt": "x", "max_tokens": 1, "guided_regex": "(.{0,1000}){1000}"}`, "guided_regex", "grammar_max_bytes"},
		{"four nested {1,999}", cmpl, `{"prompt": "x", "max_tokens": 1, "guided_regex": "((((a{1,999}){1,999}){1,999}){1,999})"}`, "guided_regex", "grammar_max_bytes"},
		{"10000 optional properties", cmpl, `{"prompt": "x", "max_tokens": 1, "guided_json": ` + optionalPropsSchema(10000) + `}`, "guided_json", "grammar_max_bytes"},
		{"anyOf $defs chain 300", chat, rf(defsChainSchema(300, true)), "response_format", "nesting_depth"},
		{"$ref chain 127", cmpl, `{"prompt": "x", "max_tokens": 1, "guided_json": ` + defsChainSchema(127, false) + `}`, "guided_json", "nesting_depth"},
		{"300 nested arrays", chat, rf(nestedArraySchema(300)), "response_format", "nesting_depth"},
		{"GBNF counted repetition of a counted repetition", cmpl, `{"prompt": "x", "max_tokens": 1, "grammar": "root ::= ((\"a\"{0,1000}){1000}){1000}"}`, "grammar", "grammar_max_bytes"},
		{"Lark nested ~ repetition", cmpl, `{"prompt": "x", "max_tokens": 1, "guided_grammar": "start: ((\"a\" ~ 0..1000) ~ 1000)"}`, "guided_grammar", "grammar_max_bytes"},
		{"GBNF 300 nested rules", cmpl, `{"prompt": "x", "max_tokens": 1, "grammar": "` + nestedRulesGBNF(300) + `"}`, "grammar", "nesting_depth"},
		{"pattern counted repetition", chat, rf(`{"type":"string","pattern":"^(.{0,1000}){1000}$"}`), "response_format", "grammar_max_bytes"},
		{"tool parameters", chat, `{` + msgs + `, "tools": [{"type": "function", "function": {"name": "f", "parameters": ` + nestedArraySchema(300) + `}}], "tool_choice": "required"}`, "tools", "nesting_depth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			t0 := time.Now()
			resp, b := env.do(t, "POST", tt.path, tt.body)
			took := time.Since(t0)
			runtime.ReadMemStats(&after)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d: %.300s", resp.StatusCode, b)
			}
			msg, typ, param, code := apiError(t, b)
			if typ != "invalid_request_error" || param == nil || *param != tt.param || code == nil || *code != "grammar_too_complex" {
				t.Errorf("type %q param %v code %v, want %q grammar_too_complex: %s", typ, param, code, tt.param, b)
			}
			if !strings.Contains(msg, tt.limit) {
				t.Errorf("message %q does not name the limit %s", msg, tt.limit)
			}
			if took > slowdown*time.Second {
				t.Errorf("answered in %v", took)
			}
			// The request body itself is decoded a few times over; the
			// grammar must not add more than the budget to that.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 4*budget+uint64(40*len(tt.body)) {
				t.Errorf("allocated %d MiB for a %d KiB body and a %d MiB budget", grew>>20, len(tt.body)>>10, budget>>20)
			}
		})
	}
	// The nesting that used to double per level is now linear: 20 nested
	// objects compile and answer.
	resp, b := env.do(t, "POST", chat, rf(nestedObjectSchema(20)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("20 nested objects: status %d: %s", resp.StatusCode, b)
	}
	waitIdle(t, env.engine)
}

// TestHostileGrammarsConcurrently sends one hostile schema from many
// clients at once: they share one compilation (and its refusal), so memory
// stays bounded by the compile slots, not the number of clients.
func TestHostileGrammarsConcurrently(t *testing.T) {
	const budget = 16 << 20
	env := newTestEnv(t, Options{GrammarLimits: grammar.Limits{MaxBytes: budget}}, 0)
	body := `{"prompt": "x", "max_tokens": 1, "guided_json": ` + optionalPropsSchema(10000) + `}`
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	codes := make([]int, 16)
	for i := range codes {
		wg.Go(func() {
			resp, _ := env.do(t, "POST", "/v1/completions", body)
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	for i, c := range codes {
		if c != http.StatusBadRequest {
			t.Errorf("client %d: status %d", i, c)
		}
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > compileSlots*4*budget+uint64(16*40*len(body)) {
		t.Errorf("16 clients allocated %d MiB", grew>>20)
	}
	if n := env.srv.grammars.len(); n != 1 {
		t.Errorf("%d cache entries, want the one refusal", n)
	}
	waitIdle(t, env.engine)
}

// TestGrammarStepOverBudget runs a grammar admitted at compile time whose
// masks cost more than a (deliberately tiny) step budget: the request ends
// with a 400 grammar_too_complex, streamed or not, never a "stop" on a
// half-written output, and the engine goes on serving.
func TestGrammarStepOverBudget(t *testing.T) {
	env := newTestEnv(t, Options{GrammarLimits: grammar.Limits{StepWork: 300}}, 0)
	body := `{"prompt": "x", "max_tokens": 8, "guided_regex": "(.*){10}"}`
	resp, b := env.do(t, "POST", "/v1/completions", body)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if msg, _, _, code := apiError(t, b); code == nil || *code != "grammar_too_complex" || !strings.Contains(msg, "generation step") {
		t.Errorf("code %v message %q", code, msg)
	}
	resp, b = env.do(t, "POST", "/v1/completions", `{"prompt": "x", "max_tokens": 8, "stream": true, "guided_regex": "(.*){10}"}`)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "grammar_too_complex") || strings.Contains(string(b), `"finish_reason":"stop"`) {
		t.Errorf("streamed: status %d: %s", resp.StatusCode, b)
	}
	resp, b = env.do(t, "POST", "/v1/completions", `{"prompt": "x", "max_tokens": 4}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("plain request after: status %d: %s", resp.StatusCode, b)
	}
	waitIdle(t, env.engine)
}
