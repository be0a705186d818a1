package toolcall

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestStreamMatchesParseRandom builds outputs from fragments of markers,
// JSON and Python syntax, valid calls and noise, and checks on each that
// Parse does not panic, every argument is a JSON object, and a randomly
// split stream reassembles to Parse's result. It is what catches a block
// reader that decides too early (before its text is complete).
func TestStreamMatchesParseRandom(t *testing.T) {
	frags := []string{
		"<tool_call>", "</tool_call>", "<tool_", "[TOOL_CALLS]", "[ARGS]", "<|python_tag|>", "<|py",
		`{"name": "f", "arguments": {"a": 1}}`, `{"name": "g", "parameters": {}}`, `[{"name": "h", "arguments": {}}]`,
		`[f(x=1)]`, `g(y='a')`, "f", "{", "}", "[", "]", "(", ")", `"`, `'`, `\`, ":", ",", ";", "=", " ", "\n",
		"name", "arguments", "é", "日", "text ", "True", "1.5",
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, name := range Names() {
		p := mustNew(t, name)
		for range 300 {
			var b strings.Builder
			for range 1 + rng.IntN(10) {
				b.WriteString(frags[rng.IntN(len(frags))])
			}
			in := b.String()
			r := p.Parse(in)
			var want []wantCall
			for _, c := range r.Calls {
				if !strings.HasPrefix(c.Arguments, "{") {
					t.Fatalf("%s %q: arguments %q", name, in, c.Arguments)
				}
				want = append(want, call(c.Name, c.Arguments))
			}
			for _, pieces := range splits(in, rng)[len(in)+1:] { // byte by byte and random cuts
				got := collect(t, p, pieces)
				if got.content != r.Content || !slices.Equal(got.calls, want) {
					t.Fatalf("%s pieces %q:\nstream content %q calls %q\nparse  content %q calls %q",
						name, pieces, got.content, got.calls, r.Content, want)
				}
			}
		}
	}
}
