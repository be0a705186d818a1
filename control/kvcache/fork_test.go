package kvcache

import (
	"fmt"
	"slices"
	"testing"
)

// refs returns the refcounts of blocks bs.
func refs(p *Pool, bs []int32) []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]int32, len(bs))
	for i, b := range bs {
		out[i] = p.blocks[b].ref
	}
	return out
}

func TestForkCopyOnWrite(t *testing.T) {
	tests := []struct {
		name        string
		prompt      int  // tokens prefilled before the fork (BlockSize 4)
		parentFirst bool // the parent appends before the child
		n           int  // slots the first writer appends
		wantCopy    []Copy
		wantTable   []int32 // the first writer's table after its append
	}{
		{"child writes a shared partial block", 6, false, 1, []Copy{{Src: 1, Dst: 2}}, []int32{0, 2}},
		{"parent writes a shared partial block", 6, true, 1, []Copy{{Src: 1, Dst: 2}}, []int32{0, 2}},
		{"append crossing a boundary copies then allocates", 6, false, 5, []Copy{{Src: 1, Dst: 2}}, []int32{0, 2, 3}},
		{"full last block needs no copy", 8, false, 1, nil, []int32{0, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPool(t, Config{NumBlocks: 16, BlockSize: 4, PrefixCaching: true})
			parent, _ := prefill(t, p, seqTokens(0, tt.prompt))
			child := p.Fork(parent)
			if !slices.Equal(child.BlockTable(), parent.BlockTable()) || child.Len() != tt.prompt || child.Computed() != tt.prompt {
				t.Fatalf("child table %v Len %d, parent %v", child.BlockTable(), child.Len(), parent.BlockTable())
			}
			if got := refs(p, parent.BlockTable()); slices.ContainsFunc(got, func(r int32) bool { return r != 2 }) {
				t.Fatalf("refcounts after fork %v, want all 2", got)
			}
			first, second := child, parent
			if tt.parentFirst {
				first, second = parent, child
			}
			copies, err := p.AppendSlots(first, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(copies, tt.wantCopy) || !slices.Equal(first.BlockTable(), tt.wantTable) {
				t.Fatalf("copies %v table %v, want %v %v", copies, first.BlockTable(), tt.wantCopy, tt.wantTable)
			}
			// The other one is now the only holder: it writes in place.
			copies, err = p.AppendSlots(second, 1)
			if err != nil || copies != nil {
				t.Fatalf("second append: %v, %v", copies, err)
			}
			if err := checkPool(p, []*Seq{parent, child}); err != nil {
				t.Fatal(err)
			}
			// Each commits its own continuation; both must then be cached
			// with the right content (the copy carried the shared tokens).
			firstToks := cat(seqTokens(0, tt.prompt), seqTokens(100, tt.n))
			secondToks := cat(seqTokens(0, tt.prompt), []int32{200})
			if err := p.Commit(first, firstToks[tt.prompt:]); err != nil {
				t.Fatal(err)
			}
			if err := p.Commit(second, secondToks[tt.prompt:]); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				s    *Seq
				toks []int32
			}{{first, firstToks}, {second, secondToks}} {
				full := len(c.toks) / 4 * 4
				q := p.NewSeq()
				cached, err := p.AllocatePrompt(q, cat(c.toks[:full], []int32{7}))
				if err != nil || cached != full {
					t.Fatalf("prompt of %v: cached %d, %v; want %d", c.toks, cached, err, full)
				}
				if !slices.Equal(q.BlockTable()[:full/4], c.s.BlockTable()[:full/4]) {
					t.Fatalf("hit blocks %v, want %v", q.BlockTable(), c.s.BlockTable())
				}
				p.Free(q)
			}
		})
	}
}

// permutations returns every ordering of 0..n-1.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			out = append(out, slices.Insert(slices.Clone(p), i, n-1))
		}
	}
	return out
}

func TestFreeForksInAnyOrder(t *testing.T) {
	for _, order := range permutations(4) {
		t.Run(fmt.Sprint(order), func(t *testing.T) {
			p := mustPool(t, Config{NumBlocks: 32, BlockSize: 4, PrefixCaching: true})
			root, _ := prefill(t, p, seqTokens(0, 6))
			seqs := []*Seq{root, p.Fork(root), p.Fork(root)}
			seqs = append(seqs, p.Fork(seqs[1])) // a grandchild
			for i, s := range seqs {
				for j := range 3 + i {
					if _, err := p.AppendSlots(s, 1); err != nil {
						t.Fatal(err)
					}
					if err := p.Commit(s, []int32{int32(100*i + j)}); err != nil {
						t.Fatal(err)
					}
				}
			}
			live := slices.Clone(seqs)
			if err := checkPool(p, live); err != nil {
				t.Fatal(err)
			}
			for _, i := range order {
				p.Free(seqs[i])
				live = slices.DeleteFunc(live, func(s *Seq) bool { return s == seqs[i] })
				if err := checkPool(p, live); err != nil {
					t.Fatalf("after freeing %d: %v", i, err)
				}
			}
			st := p.Stats()
			// Cached: the shared block 0, each seq's own block 1 and the
			// grandchild's block 2 (it appended 6 tokens).
			if st.UsedBlocks != 0 || st.CachedBlocks != 1+4+1 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestForkLeavesUncommittedSlotsToTheParent(t *testing.T) {
	for _, parentFreesFirst := range []bool{false, true} {
		t.Run(fmt.Sprint("parent frees first ", parentFreesFirst), func(t *testing.T) {
			p := mustPool(t, Config{NumBlocks: 16, BlockSize: 4, PrefixCaching: true})
			prompt := seqTokens(0, 10)
			parent := p.NewSeq()
			if _, err := p.AllocatePrompt(parent, prompt); err != nil {
				t.Fatal(err)
			}
			if err := p.Commit(parent, prompt[:6]); err != nil {
				t.Fatal(err)
			}
			child := p.Fork(parent)
			if child.Len() != 6 || child.Computed() != 6 || !slices.Equal(child.BlockTable(), []int32{0, 1}) {
				t.Fatalf("child Len %d Computed %d table %v", child.Len(), child.Computed(), child.BlockTable())
			}
			if got := refs(p, parent.BlockTable()); !slices.Equal(got, []int32{2, 2, 1}) {
				t.Fatalf("refcounts %v, want [2 2 1]", got)
			}
			// The parent fills block 1, shared with the child, which is
			// then registered: the child must copy before writing into it.
			if err := p.Commit(parent, prompt[6:]); err != nil {
				t.Fatal(err)
			}
			if parentFreesFirst {
				p.Free(parent)
			}
			copies, err := p.AppendSlots(child, 1)
			if err != nil || !slices.Equal(copies, []Copy{{Src: 1, Dst: copies[0].Dst}}) || copies[0].Dst == 1 {
				t.Fatalf("copies %v, %v: want a copy of block 1", copies, err)
			}
			if err := p.Commit(child, []int32{77}); err != nil {
				t.Fatal(err)
			}
			// Block 1 still holds the parent's tokens for later prompts.
			if _, c := prefill(t, p, seqTokens(0, 9)); c != 8 {
				t.Fatalf("parent's prefix cached %d, want 8", c)
			}
		})
	}
}

func TestForkOfEmptySeq(t *testing.T) {
	p := mustPool(t, Config{NumBlocks: 4, BlockSize: 4})
	c := p.Fork(p.NewSeq())
	if c == nil || c.Len() != 0 || len(c.BlockTable()) != 0 {
		t.Fatal("fork of an empty seq should be empty")
	}
	if _, err := p.AllocatePrompt(c, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
}
