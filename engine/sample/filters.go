package sample

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
)

// candidate is one token still in the running: its id, its (biased,
// penalized, untempered) logit, its probability or weight p when a step has
// computed one, and a scratch score (typical-p's distance from entropy).
type candidate struct {
	id    int32
	logit float32
	p     float32
	score float32
}

// better is the candidates' total order: higher logit first, lower id on
// ties. Because ids are unique every selection and sort is deterministic.
func better(a, b candidate) bool {
	if a.logit != b.logit {
		return a.logit > b.logit
	}
	return a.id < b.id
}

// compareCand adapts better to slices.SortFunc.
func compareCand(a, b candidate) int {
	switch {
	case better(a, b):
		return -1
	case better(b, a):
		return 1
	}
	return 0
}

// selectTop rearranges c so that c[:k] holds its k best candidates under
// better, in no particular order: an introselect (quickselect with a
// median-of-three pivot, falling back to a sort after 2·log2(n) rounds), so a
// small top-k over a 128k vocabulary costs O(n), not a full sort.
func selectTop(c []candidate, k int) {
	if k <= 0 || k >= len(c) {
		return
	}
	lo, hi := 0, len(c)
	depth := 2 * bits.Len(uint(len(c)))
	for hi-lo > 12 {
		if depth == 0 {
			slices.SortFunc(c[lo:hi], compareCand)
			return
		}
		depth--
		p := lo + partition(c[lo:hi])
		if p == k || p+1 == k {
			return
		}
		if k < p {
			hi = p
		} else {
			lo = p + 1
		}
	}
	insertionSort(c[lo:hi])
}

// partition places a median-of-three pivot at its final position i in c,
// with better candidates before it and worse after, and returns i.
func partition(c []candidate) int {
	n := len(c)
	m := n / 2
	// Order c[0], c[m], c[n-1] so the median lands in c[m].
	if better(c[m], c[0]) {
		c[0], c[m] = c[m], c[0]
	}
	if better(c[n-1], c[m]) {
		c[m], c[n-1] = c[n-1], c[m]
		if better(c[m], c[0]) {
			c[0], c[m] = c[m], c[0]
		}
	}
	c[m], c[n-1] = c[n-1], c[m]
	pivot := c[n-1]
	store := 0
	for i := 0; i < n-1; i++ {
		if better(c[i], pivot) {
			c[i], c[store] = c[store], c[i]
			store++
		}
	}
	c[store], c[n-1] = c[n-1], c[store]
	return store
}

// insertionSort sorts a short slice best-first.
func insertionSort(c []candidate) {
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && better(c[j], c[j-1]); j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
}

// filter is the candidate list between sampling steps. The first sorted
// entries are the best ones, in order, and no later entry beats them, so a
// filter that needs the head of the distribution sorts only as far as it
// reads.
type filter struct {
	cand    []candidate
	sorted  int
	minKeep int
}

// ensureSorted extends the sorted prefix to at least m entries.
func (f *filter) ensureSorted(m int) {
	m = min(m, len(f.cand))
	if f.sorted >= m {
		return
	}
	rest := f.cand[f.sorted:]
	need := m - f.sorted
	if need < len(rest) {
		selectTop(rest, need)
		slices.SortFunc(rest[:need], compareCand)
	} else {
		slices.SortFunc(rest, compareCand)
	}
	f.sorted = m
}

// maxLogit returns the largest logit among the candidates.
func (f *filter) maxLogit() float32 {
	if f.sorted > 0 {
		return f.cand[0].logit
	}
	m := float32(math.Inf(-1))
	for _, c := range f.cand {
		m = max(m, c.logit)
	}
	return m
}

// softmax sets every candidate's p to its probability at temperature 1
// (computed in float64, stored as float32).
func (f *filter) softmax() {
	maxL := float64(f.maxLogit())
	var sum float64
	for i := range f.cand {
		w := math.Exp(float64(f.cand[i].logit) - maxL)
		f.cand[i].p = float32(w)
		sum += w
	}
	inv := 1 / sum
	for i := range f.cand {
		f.cand[i].p = float32(float64(f.cand[i].p) * inv)
	}
}

// topK keeps the k best candidates (llama.cpp's top_k, which ignores
// min_keep); k <= 0 is off.
func (f *filter) topK(k int) {
	if k <= 0 || k >= len(f.cand) {
		return
	}
	f.ensureSorted(k)
	f.cand = f.cand[:k]
}

// topP keeps the smallest best-first prefix whose probability reaches p
// (cumulative >= p), and at least minKeep tokens, as llama.cpp's top_p. It
// sorts the head of the distribution in growing chunks, so a typical p over
// a peaked 128k distribution never sorts the tail.
func (f *filter) topP(p float32) {
	if p >= 1 || len(f.cand) <= 1 {
		return
	}
	f.softmax()
	var cum float64
	i := 0
	for m := 64; ; m *= 4 {
		f.ensureSorted(m)
		lim := min(m, len(f.cand))
		for ; i < lim; i++ {
			cum += float64(f.cand[i].p)
			if cum >= float64(p) && i+1 >= f.minKeep {
				f.cand = f.cand[:i+1]
				f.sorted = min(f.sorted, len(f.cand))
				return
			}
		}
		if lim == len(f.cand) {
			return
		}
	}
}

// minP keeps the candidates whose probability is at least p times the
// largest, i.e. logit >= maxLogit + ln p (llama.cpp's min_p, on untempered
// logits), and at least minKeep of the best. Kept candidates stay in order.
func (f *filter) minP(p float32) {
	if p <= 0 || len(f.cand) <= 1 {
		return
	}
	thr := float64(f.maxLogit()) + math.Log(float64(p))
	n := 0
	for _, c := range f.cand {
		if float64(c.logit) >= thr {
			n++
		}
	}
	if n < f.minKeep {
		f.ensureSorted(f.minKeep)
		f.cand = f.cand[:min(f.minKeep, len(f.cand))]
		f.sorted = len(f.cand)
		return
	}
	kept, keptSorted := 0, 0
	for i, c := range f.cand {
		if float64(c.logit) >= thr {
			if i < f.sorted {
				keptSorted++
			}
			f.cand[kept] = c
			kept++
		}
	}
	f.cand = f.cand[:kept]
	f.sorted = keptSorted
}

// typical is llama.cpp's locally typical sampling: with H the entropy of
// the candidates' distribution, order them by |-ln p - H| ascending and keep
// the shortest prefix whose mass exceeds p (strictly), and at least minKeep.
// The order afterwards is by typicality, so the sorted prefix is lost.
func (f *filter) typical(p float32) {
	if p >= 1 || len(f.cand) <= 1 {
		return
	}
	f.softmax()
	var h float64
	for _, c := range f.cand {
		if c.p > 0 {
			h -= float64(c.p) * math.Log(float64(c.p))
		}
	}
	for i := range f.cand {
		c := &f.cand[i]
		c.score = float32(math.Abs(-math.Log(float64(c.p)) - h)) // +Inf when p underflowed
	}
	slices.SortFunc(f.cand, func(a, b candidate) int {
		if c := cmp.Compare(a.score, b.score); c != 0 {
			return c
		}
		return compareCand(a, b)
	})
	f.sorted = 0
	var cum float64
	for i, c := range f.cand {
		cum += float64(c.p)
		if cum > float64(p) && i+1 >= f.minKeep {
			f.cand = f.cand[:i+1]
			return
		}
	}
}
