package toolcall

import (
	"encoding/json"
	"strings"
)

const (
	mistralTag  = "[TOOL_CALLS]"
	mistralArgs = "[ARGS]"
)

// mistralFormat reads Mistral's tool calls: [TOOL_CALLS] followed by a JSON
// array of {"name", "arguments"} objects (tokenizer v3, e.g. Nemo, 7B v0.3),
// or followed by name{json} / name[ARGS]{json}, one call per [TOOL_CALLS]
// (tokenizer v11+, e.g. Mistral Small 3.2, Magistral). IDs are 9
// alphanumerics: Mistral's templates raise on any other tool_call id.
func mistralFormat() *format {
	return &format{
		name:     "mistral",
		anywhere: []string{mistralTag},
		gapChars: " \t\r\n",
		block:    mistralBlock,
		idLen:    9,
	}
}

func mistralBlock(s, _ string, final bool) outcome {
	i := skipSpace(s, len(mistralTag))
	if i == len(s) {
		if final {
			return bad(len(s))
		}
		return more()
	}
	if s[i] == '[' {
		return mistralArray(s, i, final)
	}
	return mistralNamed(s, i, final)
}

// mistralArray reads the v3 form; one malformed element makes the whole
// array content, since the model's intent can no longer be trusted.
func mistralArray(s string, i int, final bool) outcome {
	e := jsonEnd(s[i:])
	if e < 0 {
		if final {
			return bad(len(s))
		}
		return more()
	}
	n := i + e
	var items []json.RawMessage
	if json.Unmarshal([]byte(s[i:n]), &items) != nil || len(items) == 0 {
		return bad(n)
	}
	calls := make([]rawCall, 0, len(items))
	for _, it := range items {
		c, good := decodeCall(string(it))
		if !good {
			return bad(n)
		}
		calls = append(calls, c)
	}
	return ok(n, calls...)
}

// mistralNamed reads the v11 form: a function name, an optional [ARGS]
// marker, then the arguments object.
func mistralNamed(s string, i int, final bool) outcome {
	start := i
	for i < len(s) && isNameByte(s[i]) {
		i++
	}
	if i == start {
		return bad(start)
	}
	name := s[start:i]
	if i == len(s) {
		if final {
			return bad(len(s))
		}
		return more()
	}
	if rest := s[i:]; strings.HasPrefix(rest, mistralArgs) {
		i += len(mistralArgs)
	} else if len(rest) < len(mistralArgs) && strings.HasPrefix(mistralArgs, rest) {
		if final {
			return bad(len(s))
		}
		return more()
	}
	i = skipSpace(s, i)
	if i == len(s) {
		if final {
			return bad(len(s))
		}
		return more()
	}
	if s[i] != '{' {
		return bad(i)
	}
	e := jsonEnd(s[i:])
	if e < 0 {
		if final {
			return bad(len(s))
		}
		return more()
	}
	args, good := compactArgs(json.RawMessage(s[i : i+e]))
	if !good {
		return bad(i + e)
	}
	return ok(i+e, rawCall{name: name, args: args})
}

func isNameByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
