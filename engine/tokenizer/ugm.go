package tokenizer

import "math"

// unknownPenalty is how much less than the lowest normal piece's score an
// unknown character scores in the Viterbi search (SentencePiece's
// kUnkPenalty, llama.cpp's unknown_token_score_penalty).
const unknownPenalty = 10

// ugmStep is the best segmentation of a prefix ending at a byte offset: its
// last piece (a token id, or noToken for an unknown character), where that
// piece starts, and the total score.
type ugmStep struct {
	tok   int32
	start int
	score float64
}

// ugmEligible reports whether a token is a piece the Viterbi search may
// use: normal, user-defined and unused tokens, as llama.cpp's token trie
// holds them (control, unknown and byte tokens are not pieces).
func ugmEligible(k TokenType) bool {
	return k == TokenNormal || k == TokenUserDefined || k == TokenUnused
}

// ugmEncode appends the Unigram (SentencePiece "unigram" model) tokens of
// text, spaces already replaced by spaceMarker: the segmentation into
// vocabulary pieces with the highest total score (user-defined pieces
// score 0), found by SentencePiece's Viterbi search over UTF-8 characters
// as llama.cpp's llm_tokenizer_ugm does; a character that no piece covers
// is unknown, scoring the lowest normal score minus unknownPenalty, and a
// run of unknown characters becomes one unknown token, or its bytes'
// "<0xNN>" tokens when the vocabulary falls back to bytes (Hugging Face's
// byte_fallback) and has them all.
func (t *Tokenizer) ugmEncode(out []int32, text string) []int32 {
	if text == "" {
		return out
	}
	best := make([]ugmStep, len(text)+1)
	for i := range best {
		best[i] = ugmStep{tok: noToken, score: math.Inf(-1)}
	}
	best[0].score = 0
	for start := 0; start < len(text); {
		n := min(utf8Len(text[start]), len(text)-start)
		here := best[start].score
		single := false
		for l := 1; l <= min(t.maxTokenLen, len(text)-start); l++ {
			id, ok := t.ids[text[start:start+l]]
			if !ok || !ugmEligible(t.types[id]) {
				continue
			}
			single = single || l == n
			score := float64(t.scores[id])
			if t.types[id] == TokenUserDefined {
				score = 0
			}
			if c := here + score; c > best[start+l].score {
				best[start+l] = ugmStep{tok: id, start: start, score: c}
			}
		}
		if !single {
			if c := here + t.ugmUnknownScore; c > best[start+n].score {
				best[start+n] = ugmStep{tok: noToken, start: start, score: c}
			}
		}
		start += n
	}
	// Backtrack, then emit in order, fusing runs of unknown characters.
	first := len(out)
	for end := len(text); end > 0; {
		st := best[end]
		if st.tok == noToken && len(out) > first && out[len(out)-1] == ugmUnknownMark {
			out[len(out)-3] = int32(st.start) // widen the run already recorded: start, end, mark
		} else if st.tok == noToken {
			out = append(out, int32(st.start), int32(end), ugmUnknownMark)
		} else {
			out = append(out, st.tok)
		}
		end = st.start
	}
	return t.ugmEmit(out, first, text)
}

// ugmUnknownMark tags an unknown run in ugmEncode's reversed scratch
// output: it follows the run's start and end offsets.
const ugmUnknownMark = math.MinInt32

// ugmEmit reverses the backtracked tokens out[first:] into text order and
// replaces each unknown run by the unknown token or its byte tokens.
func (t *Tokenizer) ugmEmit(out []int32, first int, text string) []int32 {
	rev := make([]int32, len(out)-first)
	copy(rev, out[first:])
	out = out[:first]
	for i := len(rev) - 1; i >= 0; i-- {
		if rev[i] != ugmUnknownMark {
			out = append(out, rev[i])
			continue
		}
		// Reversed, a run reads mark, end, start.
		start, end := int(rev[i-2]), int(rev[i-1])
		i -= 2
		out = t.ugmUnknown(out, text[start:end])
	}
	return out
}

// ugmUnknown appends the tokens of a run of characters no piece covers.
func (t *Tokenizer) ugmUnknown(out []int32, run string) []int32 {
	if t.byteFallback {
		ok := true
		for i := 0; i < len(run); i++ {
			ok = ok && t.byteIDs[run[i]] != noToken && t.types[t.byteIDs[run[i]]] == TokenByte
		}
		if ok {
			for i := 0; i < len(run); i++ {
				out = append(out, t.byteIDs[run[i]])
			}
			return out
		}
	}
	return append(out, t.unk)
}
