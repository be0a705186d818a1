package sample

// history is the penalty window: the last lastN accepted tokens (all of
// them when lastN is -1), prompt and generated alike, and how often each
// token occurs in it, counted twice over: among all tokens (for the
// repetition penalty) and among generated tokens only (for the presence and
// frequency penalties). Counts are kept incrementally so a penalty pass
// costs O(distinct tokens in the window), not O(vocabulary).
type history struct {
	lastN  int             // window length; -1 = unbounded, 0 = nothing kept
	ring   []int32         // [min(accepted, lastN)] window; a prompt token t is stored as ^t (< 0)
	head   int             // next slot to overwrite once ring is full
	all    map[int32]int32 // token -> occurrences in the window, no zero entries
	gen    map[int32]int32 // token -> generated occurrences in the window, no zero entries
	hasGen bool            // whether gen may be non-empty (skips a map pass otherwise)
}

// newHistory returns an empty window of lastN tokens.
func newHistory(lastN int) history {
	return history{lastN: lastN, all: make(map[int32]int32), gen: make(map[int32]int32)}
}

// accept appends tok (>= 0) to the window, evicting the oldest token when
// full; prompt tokens count only for the repetition penalty.
func (h *history) accept(tok int32, prompt bool) {
	if h.lastN == 0 || tok < 0 {
		return
	}
	slot := tok
	if prompt {
		slot = ^tok
	}
	switch {
	case h.lastN < 0:
	case len(h.ring) < h.lastN:
		h.ring = append(h.ring, slot)
	default:
		old := h.ring[h.head]
		if old < 0 {
			decrement(h.all, ^old)
		} else {
			decrement(h.all, old)
			decrement(h.gen, old)
		}
		h.ring[h.head] = slot
		h.head = (h.head + 1) % h.lastN
	}
	h.all[tok]++
	if !prompt {
		h.gen[tok]++
		h.hasGen = true
	}
}

// decrement lowers m[k] by one, deleting it at zero.
func decrement(m map[int32]int32, k int32) {
	if c := m[k] - 1; c > 0 {
		m[k] = c
	} else {
		delete(m, k)
	}
}

// reset empties the window, keeping its storage.
func (h *history) reset() {
	h.ring = h.ring[:0]
	h.head = 0
	clear(h.all)
	clear(h.gen)
	h.hasGen = false
}

// apply applies llama.cpp's penalties sampler to logits indexed by token
// id: for every token in the window
//
//	logit = logit <= 0 ? logit*repeat : logit/repeat
//
// (llama.cpp's repetition penalty: dividing a negative logit would raise
// it), then for every generated token in the window, with n its count,
//
//	logit -= n*frequency + presence
//
// (OpenAI's frequency and presence penalties). Tokens are independent, so
// the maps' iteration order does not affect the result.
func (h *history) apply(logits []float32, repeat, frequency, presence float32) {
	if repeat != 1 {
		for id := range h.all {
			if int(id) >= len(logits) {
				continue
			}
			if l := logits[id]; l <= 0 {
				logits[id] = l * repeat
			} else {
				logits[id] = l / repeat
			}
		}
	}
	if (frequency != 0 || presence != 0) && h.hasGen {
		for id, n := range h.gen {
			if int(id) >= len(logits) {
				continue
			}
			logits[id] -= float32(n)*frequency + presence
		}
	}
}
