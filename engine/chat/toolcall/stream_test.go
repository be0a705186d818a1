package toolcall

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// streamed is what a client reassembles from a stream's deltas.
type streamed struct {
	content string
	calls   []wantCall
}

// collect feeds pieces to a fresh stream and reassembles its deltas,
// failing on any delta that breaks OpenAI's ordering: per index, one delta
// with id and name first, then argument fragments only; indexes in order.
func collect(t *testing.T, p Parser, pieces []string) streamed {
	t.Helper()
	s := p.NewStream()
	var out streamed
	var content strings.Builder
	check := func(ds []Delta) {
		for _, d := range ds {
			if !d.IsTool {
				if d.Content == "" || !utf8.ValidString(d.Content) {
					t.Fatalf("bad content delta %q", d.Content)
				}
				content.WriteString(d.Content)
				continue
			}
			switch {
			case d.ID != "" && d.Name != "" && d.ArgumentsFragment == "" && d.ToolIndex == len(out.calls):
				out.calls = append(out.calls, wantCall{name: d.Name})
			case d.ID == "" && d.Name == "" && d.ToolIndex == len(out.calls)-1 && d.ToolIndex >= 0:
				out.calls[d.ToolIndex].args += d.ArgumentsFragment
			default:
				t.Fatalf("out-of-order tool delta %+v after %d calls", d, len(out.calls))
			}
		}
	}
	for _, piece := range pieces {
		check(s.Push(piece))
	}
	check(s.Finish())
	out.content = content.String()
	return out
}

// splits returns ways to cut s: at every byte into two pieces, byte by
// byte, and a few random cuts into many pieces.
func splits(s string, rng *rand.Rand) [][]string {
	var out [][]string
	for i := 0; i <= len(s); i++ {
		out = append(out, []string{s[:i], s[i:]})
	}
	var bytewise []string
	for i := range len(s) {
		bytewise = append(bytewise, s[i:i+1])
	}
	out = append(out, bytewise)
	for range 20 {
		var pieces []string
		for rest := s; rest != ""; {
			n := min(len(rest), 1+rng.IntN(6))
			pieces, rest = append(pieces, rest[:n]), rest[n:]
		}
		out = append(out, pieces)
	}
	return out
}

func TestStreamMatchesParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, tc := range cases() {
		t.Run(tc.parser+"/"+tc.name, func(t *testing.T) {
			p := mustNew(t, tc.parser)
			r := p.Parse(tc.in)
			var want []wantCall
			for _, c := range r.Calls {
				want = append(want, call(c.Name, c.Arguments))
			}
			for _, pieces := range splits(tc.in, rng) {
				got := collect(t, p, pieces)
				if got.content != r.Content || !slices.Equal(got.calls, want) {
					t.Fatalf("pieces %q:\nstream content %q calls %q\nparse  content %q calls %q",
						pieces, got.content, got.calls, r.Content, want)
				}
			}
		})
	}
}

// TestStreamEmitsEarly checks that the stream holds back only what it must:
// text is released before Finish unless it may open a call, and a call is
// emitted as soon as it is complete.
func TestStreamEmitsEarly(t *testing.T) {
	tests := []struct {
		parser      string
		pushes      []string
		wantContent string // content emitted before Finish
		wantCalls   int    // calls emitted before Finish
	}{
		{"hermes", []string{"Hello <tool", "s"}, "Hello <tools", 0},
		{"hermes", []string{"Hi ", "<tool_call>", `{"name": "f"}`}, "Hi ", 0},
		{"hermes", []string{"<tool_call>", `{"name": "f"}`, "</tool_call>"}, "", 1},
		{"hermes", []string{"caf\xc3", "\xa9!"}, "café!", 0},
		{"llama3_json", []string{`{"name": "f", `, `"parameters": {}}`}, "", 1},
		{"llama3_json", []string{"Sunny ", "{today}"}, "Sunny {today}", 0},
		{"mistral", []string{"ok [TOOL_", "CALLS]f{}"}, "ok ", 1},
		{"pythonic", []string{"[f(x=1)", "]"}, "", 1},
		{"pythonic", []string{"No", " [f(x=1)]"}, "No [f(x=1)]", 0},
	}
	for _, tc := range tests {
		t.Run(tc.parser+"/"+strings.Join(tc.pushes, "|"), func(t *testing.T) {
			s := mustNew(t, tc.parser).NewStream()
			var content strings.Builder
			calls := 0
			for _, p := range tc.pushes {
				for _, d := range s.Push(p) {
					content.WriteString(d.Content)
					if d.IsTool && d.Name != "" {
						calls++
					}
				}
			}
			if content.String() != tc.wantContent || calls != tc.wantCalls {
				t.Errorf("before Finish: content %q, %d calls; want %q, %d", content.String(), calls, tc.wantContent, tc.wantCalls)
			}
			s.Finish()
			if ds := s.Push("more"); ds != nil {
				t.Errorf("Push after Finish = %v", ds)
			}
		})
	}
}
