package toolcall

import (
	"bytes"
	"encoding/json"
	"strings"
)

// jsonEnd returns the index just past the JSON object or array that opens at
// s[0], or -1 if s ends first. It only balances brackets outside strings;
// validity is checked afterwards by decoding, so a malformed value is still
// delimited and can be released as content without waiting for the end.
func jsonEnd(s string) int {
	depth, inStr, esc := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case inStr && c == '"':
			inStr = false
		case inStr:
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// decodeCall reads one {"name": ..., "arguments"|"parameters": ...} object.
// It rejects anything else: a non-object, a missing or non-string name, or
// arguments that are not an object (or a string holding one, or null).
func decodeCall(text string) (rawCall, bool) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &obj); err != nil || obj == nil {
		return rawCall{}, false
	}
	var name string
	if err := json.Unmarshal(obj["name"], &name); err != nil || strings.TrimSpace(name) == "" {
		return rawCall{}, false
	}
	raw, has := obj["arguments"]
	if !has {
		raw = obj["parameters"]
	}
	args, good := compactArgs(raw)
	if !good {
		return rawCall{}, false
	}
	return rawCall{name: name, args: args}, true
}

// compactArgs turns an arguments value into compact JSON object text, keeping
// the model's key order (a map round trip would sort keys).
func compactArgs(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "{}", true
	}
	if raw[0] == '"' {
		var inner string
		if json.Unmarshal(raw, &inner) != nil {
			return "", false
		}
		raw = bytes.TrimSpace([]byte(inner))
		if len(raw) == 0 {
			return "{}", true
		}
	}
	if raw[0] != '{' || !json.Valid(raw) {
		return "", false
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return "", false
	}
	return b.String(), true
}

// isSpace is JSON's whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the index of the first non-space byte of s at or after i.
func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}
