package toolcall

import "strings"

const (
	hermesOpen  = "<tool_call>"
	hermesClose = "</tool_call>"
)

// hermesFormat reads <tool_call>{json}</tool_call> blocks, as Hermes 2 Pro /
// Hermes 3 and Qwen2.5 emit them (Qwen2.5 pads the JSON with newlines, which
// is just whitespace here). Text around the blocks is content.
func hermesFormat(name string) *format {
	return &format{
		name:     name,
		anywhere: []string{hermesOpen},
		gapChars: " \t\r\n",
		block:    hermesBlock,
		idPrefix: "call_",
		idLen:    24,
	}
}

// hermesBlock decides a block at the first closing tag (as vLLM's regex
// does; a closing tag inside a JSON string would cut the call, which then
// fails to decode and stays content). A block with no
// closing tag is decided only at the end of the output: it is a call if what
// follows the opening tag is exactly one valid call (models often stop right
// before the tag, and vLLM accepts that too), content otherwise.
func hermesBlock(s, _ string, final bool) outcome {
	body := s[len(hermesOpen):]
	if e := strings.Index(body, hermesClose); e >= 0 {
		n := len(hermesOpen) + e + len(hermesClose)
		if c, good := decodeCall(body[:e]); good {
			return ok(n, c)
		}
		return bad(n)
	}
	if !final {
		return more()
	}
	if c, good := decodeCall(body); good {
		return ok(len(s), c)
	}
	return bad(len(s))
}
