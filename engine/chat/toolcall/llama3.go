package toolcall

const pythonTag = "<|python_tag|>"

// llama3Format reads Llama 3.1/3.2 JSON tool calls: an optional
// <|python_tag|>, then {"name": ..., "parameters": {...}} objects separated
// by ';'. A bare '{' counts only at the start of the output or after a call,
// so a JSON example in the middle of an answer stays content.
func llama3Format() *format {
	return &format{
		name:     "llama3_json",
		anywhere: []string{pythonTag},
		atGap:    []string{"{"},
		gapChars: " \t\r\n;",
		block:    llama3Block,
		idPrefix: "call_",
		idLen:    24,
	}
}

// llama3Block reads one call object, after the python tag if there is one.
// The object is delimited by bracket balance, so a malformed one is released
// as content as soon as it closes; one that never closes waits for the end.
func llama3Block(s, marker string, final bool) outcome {
	i := 0
	if marker == pythonTag {
		i = skipSpace(s, len(pythonTag))
		if i == len(s) {
			if final {
				return bad(len(s))
			}
			return more()
		}
		if s[i] != '{' {
			return bad(len(pythonTag)) // e.g. code for the code interpreter
		}
	}
	e := jsonEnd(s[i:])
	if e < 0 {
		if final {
			return bad(len(s))
		}
		return more()
	}
	if c, good := decodeCall(s[i : i+e]); good {
		return ok(i+e, c)
	}
	return bad(i + e)
}
