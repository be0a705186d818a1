package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/engine/chat"
	"github.com/kiln-llm/kiln/server/openai"
)

// TestResponseStoreBytes: beyond its byte bound the store forgets the
// least recently used responses, but always keeps the newest.
func TestResponseStoreBytes(t *testing.T) {
	s := newResponseStore(100)
	s.maxBytes = 50 << 10
	big := strings.Repeat("x", 20<<10)
	for i := range 5 {
		s.put(&storedResponse{resp: openai.Response{ID: fmt.Sprint(i)}, history: []chat.Message{{Role: "user", Content: big}}})
	}
	if n := s.len(); n != 2 {
		t.Fatalf("%d stored, want 2 (20 KiB each, 50 KiB bound)", n)
	}
	if _, ok := s.get("4"); !ok {
		t.Fatal("the newest was evicted")
	}
	if s.bytes > s.maxBytes {
		t.Fatalf("%d bytes held, bound %d", s.bytes, s.maxBytes)
	}
	s.put(&storedResponse{resp: openai.Response{ID: "huge"}, history: []chat.Message{{Role: "user", Content: strings.Repeat("y", 80<<10)}}})
	if _, ok := s.get("huge"); !ok || s.len() != 1 {
		t.Fatalf("one response larger than the bound: stored %v, %d entries", ok, s.len())
	}
	if !s.delete("huge") || s.delete("huge") || s.bytes != 0 {
		t.Fatalf("delete: %d bytes left", s.bytes)
	}
}
