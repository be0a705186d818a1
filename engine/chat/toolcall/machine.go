package toolcall

import "strings"

// format describes one dialect to the machine.
type format struct {
	name string
	// anywhere are markers that open a call wherever they appear.
	anywhere []string
	// atGap are markers that open a call only at the start of the output or
	// right after a call (llama3_json's '{', pythonic's '['): anywhere else
	// they are ordinary text.
	atGap []string
	// gapChars may sit between calls (and before the first); they are
	// dropped when a call follows and kept as content otherwise.
	gapChars string
	// block reads the call that starts with marker at s[0]. It must be
	// prefix-stable: once it decides on s with final false, it decides the
	// same on every extension of s and on s itself with final true.
	block func(s, marker string, final bool) outcome
	// idPrefix and idLen shape call IDs.
	idPrefix string
	idLen    int
}

type outcomeKind int

const (
	needMore outcomeKind = iota // cannot decide yet (only when not final)
	isCall                      // s[:n] is one or more valid calls
	notCall                     // s[:n] is not a call after all: content
)

type outcome struct {
	kind  outcomeKind
	n     int
	calls []rawCall
}

func more() outcome                  { return outcome{kind: needMore} }
func bad(n int) outcome              { return outcome{kind: notCall, n: max(n, 1)} }
func ok(n int, c ...rawCall) outcome { return outcome{kind: isCall, n: n, calls: c} }

// rawCall is a call before it gets an ID.
type rawCall struct{ name, args string }

// piece is the machine's output: content text, or one call.
type piece struct {
	content string
	call    *rawCall
}

// machine splits text into content and calls. Parse runs it once with final
// set; a Stream runs it after every push on the text not yet consumed, so
// both see the same decisions in the same order.
type machine struct {
	f   *format
	buf string // text received but not yet decided
	gap bool   // at the start of the output or right after a call
}

// run decides as much of buf as it can and returns the decided pieces.
func (m *machine) run(final bool) []piece {
	var out []piece
	for m.buf != "" {
		if m.gap {
			j := strings.IndexFunc(m.buf, func(r rune) bool { return !strings.ContainsRune(m.f.gapChars, r) })
			if j < 0 {
				if final {
					m.buf = ""
				}
				return out
			}
			rest := m.buf[j:]
			mk, partial := matchPrefix(rest, m.f.anywhere, m.f.atGap)
			if partial && !final {
				return out
			}
			if mk == "" {
				m.gap = false // the gap text is ordinary content
				continue
			}
			o := m.f.block(rest, mk, final)
			if o.kind == needMore {
				return out
			}
			if o.kind == isCall {
				m.buf = rest[o.n:]
				for i := range o.calls {
					out = append(out, piece{call: &o.calls[i]})
				}
				continue
			}
			out = append(out, piece{content: m.buf[:j+o.n]})
			m.buf, m.gap = rest[o.n:], false
			continue
		}
		i, mk := firstMarker(m.buf, m.f.anywhere)
		limit := len(m.buf)
		if !final {
			limit -= partialSuffix(m.buf, m.f.anywhere)
			limit = runeBoundary(m.buf, limit)
		}
		if i < 0 || i > limit {
			if limit > 0 {
				out = append(out, piece{content: m.buf[:limit]})
				m.buf = m.buf[limit:]
			}
			return out
		}
		if i > 0 {
			out = append(out, piece{content: m.buf[:i]})
			m.buf = m.buf[i:]
		}
		o := m.f.block(m.buf, mk, final)
		switch o.kind {
		case needMore:
			return out
		case isCall:
			for i := range o.calls {
				out = append(out, piece{call: &o.calls[i]})
			}
			m.gap = true
		case notCall:
			out = append(out, piece{content: m.buf[:o.n]})
		}
		m.buf = m.buf[o.n:]
	}
	return out
}

// matchPrefix reports which marker s starts with, or whether s is a proper
// prefix of one (more text could make it a marker).
func matchPrefix(s string, lists ...[]string) (marker string, partial bool) {
	for _, l := range lists {
		for _, mk := range l {
			if strings.HasPrefix(s, mk) {
				return mk, false
			}
			if len(s) < len(mk) && strings.HasPrefix(mk, s) {
				partial = true
			}
		}
	}
	return "", partial
}

// firstMarker finds the earliest complete marker in s.
func firstMarker(s string, markers []string) (int, string) {
	best, mk := -1, ""
	for _, m := range markers {
		if i := strings.Index(s, m); i >= 0 && (best < 0 || i < best) {
			best, mk = i, m
		}
	}
	return best, mk
}

// partialSuffix is the length of the longest suffix of s that is a proper
// prefix of a marker: text that must be held back in case it completes.
func partialSuffix(s string, markers []string) int {
	n := 0
	for _, m := range markers {
		for k := min(len(m)-1, len(s)); k > n; k-- {
			if strings.HasSuffix(s, m[:k]) {
				n = k
				break
			}
		}
	}
	return n
}

// runeBoundary moves limit back to the start of a UTF-8 sequence that is cut
// off by the end of s, so that content deltas are always whole characters
// even when the generator hands over a character's bytes in separate pushes.
func runeBoundary(s string, limit int) int {
	if limit < len(s) {
		return limit // what follows is held anyway; s[:limit] ends before a marker
	}
	for k := 1; k <= 3 && k <= limit; k++ {
		c := s[limit-k]
		if c < 0x80 {
			return limit
		}
		if c >= 0xC0 { // a lead byte: complete if its sequence fits
			need := 2
			if c >= 0xF0 {
				need = 4
			} else if c >= 0xE0 {
				need = 3
			}
			if k < need {
				return limit - k
			}
			return limit
		}
	}
	return limit
}
