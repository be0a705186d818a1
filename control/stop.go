package control

import "strings"

// stopMatcher finds stop strings in streamed text that arrives in pieces
// cut anywhere (token boundaries fall inside stop strings). It holds back
// the shortest tail of the text that could still begin a stop string, so
// that text it releases never contains, or ends with the start of, a stop
// string — the stop text is never emitted, even partially.
type stopMatcher struct {
	stops []string
	held  string // text not yet released
}

// add appends piece and returns the text now safe to emit; stopped reports
// that a stop string was found (the text before it is returned, the rest
// dropped).
func (m *stopMatcher) add(piece string) (out string, stopped bool) {
	if len(m.stops) == 0 {
		return piece, false
	}
	m.held += piece
	first := -1
	for _, s := range m.stops {
		if i := strings.Index(m.held, s); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	if first >= 0 {
		out = m.held[:first]
		m.held = ""
		return out, true
	}
	keep := 0
	for _, s := range m.stops {
		keep = max(keep, overlap(m.held, s))
	}
	out = m.held[:len(m.held)-keep]
	m.held = m.held[len(m.held)-keep:]
	return out, false
}

// flush releases the held-back tail (generation ended for another reason).
func (m *stopMatcher) flush() string {
	out := m.held
	m.held = ""
	return out
}

// overlap is the length of the longest proper prefix of stop that text ends with.
func overlap(text, stop string) int {
	for n := min(len(stop)-1, len(text)); n > 0; n-- {
		if strings.HasSuffix(text, stop[:n]) {
			return n
		}
	}
	return 0
}
