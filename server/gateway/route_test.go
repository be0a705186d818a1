package gateway

import (
	"fmt"
	"strings"
	"testing"
)

func TestRequestAffinity(t *testing.T) {
	long := strings.Repeat("You are a helpful assistant. ", 10)
	tests := []struct {
		name       string
		a, b       string // two bodies
		same       bool   // whether they must share a key
		strict     bool   // a's key is a session's
		wantNoneA  bool   // a has no key
		affinChars int
	}{
		{"same prompt start, different ends", `{"prompt":"` + long + `A"}`, `{"prompt":"` + long + `B"}`, true, false, false, 64},
		{"different prompt starts", `{"prompt":"Hello there"}`, `{"prompt":"Goodbye now"}`, false, false, false, 64},
		{"chat: same system prompt", `{"messages":[{"role":"system","content":"` + long + `"},{"role":"user","content":"a"}]}`,
			`{"messages":[{"role":"system","content":"` + long + `"},{"role":"user","content":"b"}]}`, true, false, false, 64},
		{"chat: content parts key as their text", `{"messages":[{"role":"user","content":[{"type":"text","text":"` + long + `"}]}]}`,
			`{"messages":[{"role":"user","content":"` + long + `"}]}`, true, false, false, 64},
		{"model is part of the key", `{"model":"a","prompt":"same"}`, `{"model":"b","prompt":"same"}`, false, false, false, 64},
		{"responses input", `{"input":"` + long + `x"}`, `{"input":"` + long + `y"}`, true, false, false, 64},
		{"session is strict", `{"prompt":"a","session_id":7}`, `{"prompt":"zzz","session_id":7}`, true, true, false, 64},
		{"session -1 is no session", `{"prompt":"abc","session_id":-1}`, `{"prompt":"abc"}`, true, false, false, 64},
		{"token id prompts", `{"prompt":[1,2,3,4]}`, `{"prompt":[1,2,3,5]}`, false, false, false, 64},
		{"no prompt: no key", `{"model":"m"}`, `{"model":"m"}`, true, false, true, 64},
		{"not JSON: no key", `not json`, `{}`, true, false, true, 64},
		{"affinity off", `{"prompt":"x"}`, `{"prompt":"y"}`, true, false, true, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := requestAffinity([]byte(tt.a), tt.affinChars), requestAffinity([]byte(tt.b), tt.affinChars)
			if (a.key == "") != tt.wantNoneA {
				t.Fatalf("key %q, want none: %v", a.key, tt.wantNoneA)
			}
			if (a.key == b.key) != tt.same || a.strict != tt.strict {
				t.Fatalf("keys %q and %q (strict %v), want same %v strict %v", a.key, b.key, a.strict, tt.same, tt.strict)
			}
			if tt.affinChars > 0 && len(a.key) > tt.affinChars+len(`{"model"`) {
				t.Fatalf("key of %d bytes for %d chars", len(a.key), tt.affinChars)
			}
		})
	}
}

// TestPick covers the routing rule on backends with set loads.
func TestPick(t *testing.T) {
	g, err := New(Config{Backends: []string{"http://a:1", "http://b:1", "http://c:1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range g.backends {
		b.healthy.Store(true)
	}
	key := affinity{key: "some prompt"}
	owner, why := g.pick(key, nil)
	if why != routePrefix {
		t.Fatalf("idle backends: route %s", why)
	}
	for range 10 {
		if b, _ := g.pick(key, nil); b != owner {
			t.Fatalf("the key moved from %s to %s", owner.name, b.name)
		}
	}
	owner.inflight.Store(5)
	if b, why := g.pick(key, nil); b == owner || why != routeLoad {
		t.Fatalf("owner 5 requests beyond the others still got it (%s)", why)
	}
	if b, why := g.pick(affinity{key: key.key, strict: true}, nil); b != owner || why != routeSession {
		t.Fatalf("a session left its busy backend for %s (%s)", b.name, why)
	}
	owner.inflight.Store(4)
	if b, _ := g.pick(key, nil); b != owner {
		t.Fatal("owner within the slack lost the key")
	}
	owner.healthy.Store(false)
	if b, _ := g.pick(key, nil); b == owner {
		t.Fatal("an ejected backend was picked")
	}
	owner.healthy.Store(true)
	if b, _ := g.pick(key, map[*backend]bool{owner: true}); b == owner {
		t.Fatal("a tried backend was picked again")
	}
	owner.inflight.Store(0)
	// Distinct keys spread: each backend owns some of 60 keys.
	count := map[*backend]int{}
	for i := range 60 {
		b, _ := g.pick(affinity{key: fmt.Sprintf("prompt %d", i)}, nil)
		count[b]++
	}
	for _, b := range g.backends {
		if count[b] < 8 {
			t.Errorf("backend %s owns %d of 60 keys", b.name, count[b])
		}
	}
	for _, b := range g.backends {
		b.healthy.Store(false)
	}
	if b, _ := g.pick(key, nil); b != nil {
		t.Fatal("picked a backend with all ejected")
	}
}

func TestNewRejects(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
	}{
		{"no backends", Config{}},
		{"path", Config{Backends: []string{"http://a:1/v1"}}},
		{"scheme", Config{Backends: []string{"ftp://a:1"}}},
		{"no host", Config{Backends: []string{"http://"}}},
		{"twice", Config{Backends: []string{"http://a:1", "http://a:1/"}}},
		{"negative interval", Config{Backends: []string{"http://a:1"}, HealthInterval: -1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
