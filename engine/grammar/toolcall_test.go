package grammar

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

var weatherTools = []Tool{
	{Name: "get_weather", Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"},"unit":{"enum":["c","f"]}},"required":["city"]}`)},
	{Name: "lookup", Parameters: json.RawMessage(`{"$defs":{"id":{"type":"integer"}},"type":"object","properties":{"ids":{"type":"array","items":{"$ref":"#/$defs/id"},"minItems":1,"maxItems":3}},"required":["ids"]}`)},
	{Name: "ping"},
}

func TestToolCallMatch(t *testing.T) {
	g, err := ToolCall(weatherTools, ToolCallFormat{Prefix: "<tool_call>", Suffix: "</tool_call>"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`<tool_call>{"name":"get_weather","arguments":{"city":"Paris"}}</tool_call>`,
		`<tool_call>{"name":"get_weather","arguments":{"city":"Paris","unit":"c"}}</tool_call>`,
		`<tool_call>{"name":"lookup","arguments":{"ids":[1,2]}}</tool_call>`,
		`<tool_call>{"name":"ping","arguments":{"x":[true]}}</tool_call>`,
	} {
		if !g.Match([]byte(s)) {
			t.Errorf("rejects %s", s)
		}
	}
	for _, s := range []string{
		`{"name":"get_weather","arguments":{"city":"Paris"}}`,
		`<tool_call>{"name":"get_weather","arguments":{"ids":[1]}}</tool_call>`,
		`<tool_call>{"name":"other","arguments":{}}</tool_call>`,
		`<tool_call>{"name":"lookup","arguments":{"ids":[]}}</tool_call>`,
	} {
		if g.Match([]byte(s)) {
			t.Errorf("accepts %s", s)
		}
	}
	_, err = ToolCall([]Tool{{Name: "f", Parameters: json.RawMessage(`{"type":"string","format":"idn-hostname"}`)}}, ToolCallFormat{})
	var se *SchemaError
	if !errors.As(err, &se) || se.Keyword != "format" || !strings.Contains(err.Error(), `"f"`) {
		t.Errorf("err = %v, want a format error naming tool f", err)
	}
}

// TestRandomWalkToolCall: tool_choice required yields a parseable call with
// schema-valid arguments in 100 of 100 seeded runs.
func TestRandomWalkToolCall(t *testing.T) {
	m, _ := sharedMasker(t, "models/stories260K.gguf")
	g, err := ToolCall(weatherTools, ToolCallFormat{ArgsKey: "parameters"})
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]map[string]any{}
	for _, tool := range weatherTools {
		var s map[string]any
		if len(tool.Parameters) > 0 {
			if err := json.Unmarshal(tool.Parameters, &s); err != nil {
				t.Fatal(err)
			}
		}
		schemas[tool.Name] = s
	}
	for seed := 0; seed < 100; seed++ {
		text, err := randomWalk(m, g, rand.New(rand.NewPCG(uint64(seed), 11)), 20000)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		var call struct {
			Name       string         `json:"name"`
			Parameters map[string]any `json:"parameters"`
		}
		if err := json.Unmarshal(text, &call); err != nil {
			t.Fatalf("seed %d: %q: %v", seed, text, err)
		}
		s, ok := schemas[call.Name]
		if !ok {
			t.Fatalf("seed %d: unknown tool %q", seed, call.Name)
		}
		if s != nil {
			if err := validate(call.Parameters, s, s); err != nil {
				t.Fatalf("seed %d: %q: %v", seed, text, err)
			}
		}
	}
}

// TestToolCallParallel: up to MaxCalls calls, separated and wrapped as the
// format says; more, or a dangling separator, are refused.
func TestToolCallParallel(t *testing.T) {
	g, err := ToolCall(weatherTools, ToolCallFormat{Open: "[TOOL_CALLS][", Close: "]", Sep: ",", MaxCalls: 3})
	if err != nil {
		t.Fatal(err)
	}
	call := `{"name":"ping","arguments":{}}`
	for n, want := range []bool{false, true, true, true, false} {
		s := "[TOOL_CALLS][" + strings.Repeat(call+",", max(n-1, 0)) + strings.Repeat(call, min(n, 1)) + "]"
		if got := g.Match([]byte(s)); got != want {
			t.Errorf("%d calls: match %v, want %v (%s)", n, got, want, s)
		}
	}
	if g.Match([]byte("[TOOL_CALLS][" + call + ",]")) {
		t.Error("accepts a dangling separator")
	}
	h, err := ToolCall(weatherTools, ToolCallFormat{Prefix: "<tool_call>\n", Suffix: "\n</tool_call>", Sep: "\n", MaxCalls: 2})
	if err != nil {
		t.Fatal(err)
	}
	one := "<tool_call>\n" + call + "\n</tool_call>"
	if !h.Match([]byte(one)) || !h.Match([]byte(one+"\n"+one)) || h.Match([]byte(one+"\n"+one+"\n"+one)) {
		t.Error("hermes: want 1 or 2 blocks separated by a newline, not 3")
	}
}

// TestToolCallSchemaKeywords: tool parameters get the same keywords as
// response_format: ranges, formats and patterns hold inside the call.
func TestToolCallSchemaKeywords(t *testing.T) {
	g, err := ToolCall([]Tool{{Name: "book", Parameters: json.RawMessage(`{"type":"object","properties":{
		"day":{"type":"string","format":"date"},"guests":{"type":"integer","minimum":1,"maximum":12},"code":{"type":"string","pattern":"^[A-Z]{3}$"}},
		"required":["day","guests","code"]}`)}}, ToolCallFormat{})
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{
		`{"name":"book","arguments":{"day":"2024-02-29","guests":12,"code":"ABC"}}`: true,
		`{"name":"book","arguments":{"day":"2023-02-29","guests":12,"code":"ABC"}}`: false,
		`{"name":"book","arguments":{"day":"2024-02-29","guests":13,"code":"ABC"}}`: false,
		`{"name":"book","arguments":{"day":"2024-02-29","guests":0,"code":"ABC"}}`:  false,
		`{"name":"book","arguments":{"day":"2024-02-29","guests":2,"code":"ABCD"}}`: false,
	} {
		if got := g.Match([]byte(s)); got != want {
			t.Errorf("%s: match %v, want %v", s, got, want)
		}
	}
}
