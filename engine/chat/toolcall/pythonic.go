package toolcall

import "encoding/json"

// pythonicFormat reads a Python list of calls, [f(a=1), g(b="x")], as
// Llama 3.2 (and vLLM's pythonic parser) expect it at the start of the output.
// A '[' anywhere else is ordinary text.
func pythonicFormat() *format {
	return &format{
		name:     "pythonic",
		atGap:    []string{"["},
		gapChars: " \t\r\n",
		block:    pythonicBlock,
		idPrefix: "call_",
		idLen:    24,
	}
}

// pythonicBlock waits for the list's closing bracket (strings respected),
// then parses it whole: any call that is not name(keyword=literal, ...)
// makes the list content.
func pythonicBlock(s, _ string, final bool) outcome {
	e := pyEnd(s)
	if e < 0 {
		if final {
			return bad(len(s))
		}
		return more()
	}
	calls, good := parsePyCalls(s[:e])
	for _, c := range calls {
		good = good && json.Valid([]byte(c.args)) // a converter bug must not emit broken JSON
	}
	if !good {
		return bad(e)
	}
	return ok(e, calls...)
}

// pyEnd returns the index just past the bracket that closes s[0], skipping
// Python string literals, or -1 if s ends first.
func pyEnd(s string) int {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
			continue
		}
		switch c {
		case '\'', '"':
			quote = c
		case '[', '(', '{':
			depth++
		case ']', ')', '}':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}
