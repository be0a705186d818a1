package grammar

import (
	"bytes"
	"sort"
)

// trie is a byte trie over token pieces, flattened into arrays: the
// children of a node are contiguous and sorted by byte, so a walk touches
// memory in order and a subtree the grammar refuses is skipped whole.
type trie struct {
	nodes     []tnode
	childByte []byte  // per child slot: its byte
	child     []int32 // per child slot: its node
	toks      []int32 // token ids, grouped per node
	maxDepth  int
}

type tnode struct {
	firstChild, nChild int32
	firstTok, nTok     int32
}

// buildTrie indexes the tokens ids by pieces[id].
func buildTrie(pieces [][]byte, ids []int32) *trie {
	sorted := append([]int32(nil), ids...)
	sort.Slice(sorted, func(i, j int) bool {
		return bytes.Compare(pieces[sorted[i]], pieces[sorted[j]]) < 0
	})
	t := &trie{nodes: []tnode{{}}}
	t.fill(0, pieces, sorted, 0)
	return t
}

// fill builds node n from the sorted tokens that share its depth-byte
// prefix.
func (t *trie) fill(n int32, pieces [][]byte, ids []int32, depth int) {
	if depth > t.maxDepth {
		t.maxDepth = depth
	}
	i := 0
	t.nodes[n].firstTok = int32(len(t.toks))
	for i < len(ids) && len(pieces[ids[i]]) == depth {
		t.toks = append(t.toks, ids[i])
		i++
	}
	t.nodes[n].nTok = int32(len(t.toks)) - t.nodes[n].firstTok
	type group struct {
		b      byte
		lo, hi int
	}
	var groups []group
	for i < len(ids) {
		b := pieces[ids[i]][depth]
		j := i
		for j < len(ids) && pieces[ids[j]][depth] == b {
			j++
		}
		groups = append(groups, group{b, i, j})
		i = j
	}
	first := int32(len(t.child))
	t.nodes[n].firstChild, t.nodes[n].nChild = first, int32(len(groups))
	for _, g := range groups {
		t.nodes = append(t.nodes, tnode{})
		t.childByte = append(t.childByte, g.b)
		t.child = append(t.child, int32(len(t.nodes)-1))
	}
	for k, g := range groups {
		t.fill(t.child[first+int32(k)], pieces, ids[g.lo:g.hi], depth+1)
	}
}
