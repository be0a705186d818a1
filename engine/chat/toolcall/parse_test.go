package toolcall

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func mustNew(t *testing.T, name string) Parser {
	t.Helper()
	p, err := NewSeeded(name, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParse(t *testing.T) {
	for _, tc := range cases() {
		t.Run(tc.parser+"/"+tc.name, func(t *testing.T) {
			r := mustNew(t, tc.parser).Parse(tc.in)
			if r.Content != tc.content {
				t.Errorf("content = %q, want %q", r.Content, tc.content)
			}
			var got []wantCall
			for _, c := range r.Calls {
				got = append(got, call(c.Name, c.Arguments))
				if !json.Valid([]byte(c.Arguments)) || !strings.HasPrefix(c.Arguments, "{") {
					t.Errorf("arguments %q are not a JSON object", c.Arguments)
				}
			}
			if !slices.Equal(got, tc.calls) {
				t.Errorf("calls = %q, want %q", got, tc.calls)
			}
		})
	}
}

func TestNew(t *testing.T) {
	want := []string{"hermes", "llama3_json", "mistral", "pythonic", "qwen2.5"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, n := range want {
		p, err := New(n)
		if err != nil || p.Name() != n {
			t.Errorf("New(%q) = %v, %v", n, p, err)
		}
	}
	_, err := New("llama4")
	if err == nil || !strings.Contains(err.Error(), `"llama4"`) || !strings.Contains(err.Error(), "hermes, llama3_json, mistral, pythonic, qwen2.5") {
		t.Errorf("New(unknown) error = %v", err)
	}
}

func TestIDs(t *testing.T) {
	tests := []struct {
		parser, in string
		re         *regexp.Regexp
	}{
		{"hermes", `<tool_call>{"name": "f"}</tool_call>`, regexp.MustCompile(`^call_[A-Za-z0-9]{24}$`)},
		{"mistral", `[TOOL_CALLS]f{}`, regexp.MustCompile(`^[A-Za-z0-9]{9}$`)},
	}
	for _, tc := range tests {
		t.Run(tc.parser, func(t *testing.T) {
			a := mustNew(t, tc.parser).Parse(tc.in + tc.in)
			b := mustNew(t, tc.parser).Parse(tc.in + tc.in)
			if len(a.Calls) != 2 || !tc.re.MatchString(a.Calls[0].ID) {
				t.Fatalf("calls %+v", a.Calls)
			}
			if a.Calls[0].ID == a.Calls[1].ID {
				t.Errorf("repeated id %q", a.Calls[0].ID)
			}
			if a.Calls[0].ID != b.Calls[0].ID {
				t.Errorf("same seed, different ids: %q %q", a.Calls[0].ID, b.Calls[0].ID)
			}
		})
	}
}

// TestConcurrentUse shares one parser between goroutines, as the server
// does across requests; run with -race.
func TestConcurrentUse(t *testing.T) {
	p := mustNew(t, "hermes")
	in := `Hi <tool_call>{"name": "f", "arguments": {"a": 1}}</tool_call>`
	done := make(chan Result)
	for range 8 {
		go func() {
			s := p.NewStream()
			s.Push(in)
			s.Finish()
			done <- p.Parse(in)
		}()
	}
	seen := map[string]bool{}
	for range 8 {
		r := <-done
		if r.Content != "Hi " || len(r.Calls) != 1 || seen[r.Calls[0].ID] {
			t.Errorf("result %+v (ids seen %v)", r, seen)
		}
		seen[r.Calls[0].ID] = true
	}
}
