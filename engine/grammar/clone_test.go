package grammar

import (
	"slices"
	"testing"
)

// TestStateClone checks that a clone starts where its original is and that
// the two then move independently: advancing one changes neither the
// other's mask nor its acceptance.
func TestStateClone(t *testing.T) {
	m, _ := sharedMasker(t, "models/stories260K.gguf")
	g, err := CompileSchema([]byte(`{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["a","b"]}`))
	if err != nil {
		t.Fatal(err)
	}
	orig := m.NewState(g)
	if err := orig.AdvanceBytes([]byte(`{"a":"x`)); err != nil {
		t.Fatal(err)
	}
	clone := orig.Clone()
	mask := func(s *State) Bitset {
		b := NewBitset(m.VocabSize())
		s.Mask(b)
		return b
	}
	if !slices.Equal(mask(orig), mask(clone)) {
		t.Fatal("a fresh clone allows other tokens than its original")
	}
	before := mask(orig)
	if err := clone.AdvanceBytes([]byte(`","b":12}`)); err != nil {
		t.Fatal(err)
	}
	if !clone.Accepting() || orig.Accepting() {
		t.Fatalf("accepting: clone %v (want true), original %v (want false)", clone.Accepting(), orig.Accepting())
	}
	if !slices.Equal(mask(orig), before) {
		t.Fatal("advancing the clone changed the original's mask")
	}
	// The original still continues on its own path, which the clone's
	// position no longer allows.
	if err := orig.AdvanceBytes([]byte(`yz","b":3}`)); err != nil {
		t.Fatalf("original after the clone moved: %v", err)
	}
	if clone.AdvanceBytes([]byte(`yz`)) == nil {
		t.Fatal("the clone accepted text after its complete object")
	}
	for _, id := range m.eog {
		if err := clone.Advance(id); err != nil {
			t.Fatal(err)
		}
		break
	}
	if !clone.Done() || orig.Done() {
		t.Fatalf("done: clone %v, original %v", clone.Done(), orig.Done())
	}
	if c2 := clone.Clone(); !c2.Done() {
		t.Fatal("a clone of a finished state is not done")
	}
}
