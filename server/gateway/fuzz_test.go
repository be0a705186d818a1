package gateway

import "testing"

// FuzzRequestAffinity feeds arbitrary bodies to the affinity reader: it
// never panics, a key never exceeds its model plus the character budget,
// and the same body always gives the same affinity.
func FuzzRequestAffinity(f *testing.F) {
	for _, s := range []string{
		`{"prompt":"Once upon a time"}`, `{"prompt":["a","b"]}`, `{"prompt":[1,2,3]}`, `{"prompt":[[1,2],[3]]}`,
		`{"messages":[{"role":"user","content":"hi"}]}`, `{"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`,
		`{"input":[{"role":"user","content":[{"type":"input_text","text":"x"}]}],"instructions":"be brief"}`,
		`{"system":[{"type":"text","text":"sys"}],"messages":[]}`, `{"session_id":3,"prompt":"x"}`, `{"session_id":"3"}`,
		`{"model":"m","prompt":null}`, `[]`, `null`, `{"messages":"x"}`, `{"prompt":{"a":1}}`, "\xff",
	} {
		f.Add([]byte(s), 16)
	}
	f.Fuzz(func(t *testing.T, body []byte, chars int) {
		chars = chars%1024 - 1 // -1 (off) .. 1022
		a := requestAffinity(body, chars)
		b := requestAffinity(body, chars)
		if a != b {
			t.Fatalf("two readings differ: %+v %+v", a, b)
		}
		if chars < 0 && a.key != "" {
			t.Fatalf("affinity off but key %q", a.key)
		}
		if !a.strict && chars >= 0 && len(a.key) > chars+len(body)+1 {
			t.Fatalf("key of %d bytes for a budget of %d", len(a.key), chars)
		}
	})
}

// FuzzParseSample: any line parses or is skipped, never panics.
func FuzzParseSample(f *testing.F) {
	for _, s := range []string{`kiln_num_requests_running 3`, `vllm:num_requests_waiting{model_name="a\"}"} 2 17`, `x{`, `# HELP`, ``, `a{b="}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		name, _, ok := parseSample(line)
		if ok && name == "" {
			t.Fatalf("%q: ok with no name", line)
		}
	})
}
