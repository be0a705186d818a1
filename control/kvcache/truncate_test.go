package kvcache

import "testing"

// TestTruncate reserves draft slots, commits some of them and drops the
// rest: the blocks past the kept length go back to the pool, the committed
// prefix (and its cache registration) is untouched, and a later prompt still
// hits the full blocks that were committed.
func TestTruncate(t *testing.T) {
	tests := []struct {
		name                 string
		prompt, draft, keep  int // keep: draft slots committed before truncating
		wantBlocks, wantFree int
	}{
		{"all rejected inside the last block", 5, 2, 0, 2, 6},
		{"all rejected across blocks", 5, 8, 0, 2, 6},
		{"some accepted across blocks", 5, 8, 4, 3, 5},
		{"all accepted", 5, 3, 3, 2, 6},
		{"from a full block", 8, 5, 1, 3, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPool(t, Config{NumBlocks: 8, BlockSize: 4, PrefixCaching: true})
			s, _ := prefill(t, p, seqTokens(0, tt.prompt))
			if _, err := p.AppendSlots(s, tt.draft); err != nil {
				t.Fatal(err)
			}
			if err := p.Commit(s, seqTokens(tt.prompt, tt.keep)); err != nil {
				t.Fatal(err)
			}
			n := tt.prompt + tt.keep
			if err := p.Truncate(s, n); err != nil {
				t.Fatal(err)
			}
			if s.Len() != n || s.Computed() != n || len(s.BlockTable()) != tt.wantBlocks {
				t.Fatalf("Len %d Computed %d blocks %d, want %d %d %d", s.Len(), s.Computed(), len(s.BlockTable()), n, n, tt.wantBlocks)
			}
			wantStats(t, p, tt.wantFree, 0, tt.wantBlocks)
			if err := checkPool(p, []*Seq{s}); err != nil {
				t.Fatal(err)
			}
			// The sequence goes on: a slot for the next token, committed.
			if _, err := p.AppendSlots(s, 1); err != nil {
				t.Fatal(err)
			}
			if err := p.Commit(s, seqTokens(n, 1)); err != nil {
				t.Fatal(err)
			}
			p.Free(s)
			full := (n + 1) / 4 * 4
			probe := seqTokens(0, full+1)
			s2 := p.NewSeq()
			cached, err := p.AllocatePrompt(s2, probe)
			if err != nil || cached != full {
				t.Fatalf("AllocatePrompt after truncate: cached %d, %v; want %d", cached, err, full)
			}
		})
	}
}

func TestTruncateRefusesCommittedOrUnreserved(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 8, BlockSize: 4})
	s, _ := prefill(t, p, seqTokens(0, 6))
	if _, err := p.AppendSlots(s, 3); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{5, 10, -1} {
		if err := p.Truncate(s, n); err == nil {
			t.Errorf("Truncate(%d) with Computed 6, Len 9: no error", n)
		}
	}
	if s.Len() != 9 || s.Computed() != 6 {
		t.Fatalf("a refused Truncate changed the sequence: Len %d Computed %d", s.Len(), s.Computed())
	}
	if err := p.Truncate(nil, 0); err == nil {
		t.Error("Truncate(nil): no error")
	}
}
