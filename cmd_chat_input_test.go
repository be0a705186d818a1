package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestChatReadMessage: one line, continued lines, and """ blocks each
// make one message; EOF ends the input.
func TestChatReadMessage(t *testing.T) {
	cases := []struct {
		name, input string
		want        []string
	}{
		{"lines", "hello\nworld\n", []string{"hello", "world"}},
		{"backslash", "first \\\nsecond\nthird\n", []string{"first \nsecond", "third"}},
		{"block", "\"\"\"\na\n\nb\n\"\"\"\nnext\n", []string{"a\n\nb", "next"}},
		{"block on the quote lines", "\"\"\"a\nb\"\"\"\n", []string{"a\nb"}},
		{"one-line block", "\"\"\"just this\"\"\"\n", []string{"just this"}},
		{"crlf", "hi\r\n", []string{"hi"}},
		{"unterminated block at EOF", "\"\"\"\na\n", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			c := newChatClient(chatOptions{}, &out)
			lines := readLines(strings.NewReader(tc.input))
			var got []string
			for {
				msg, ok := c.readMessage(lines, make(chan os.Signal))
				if !ok {
					break
				}
				got = append(got, msg)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("messages %q, want %q", got, tc.want)
			}
		})
	}
}

func TestChatParseValue(t *testing.T) {
	cases := []struct {
		in   string
		want any
	}{
		{"0.7", 0.7}, {"true", true}, {`"\n\n"`, "\n\n"}, {"END", "END"}, {"1e3", 1000.0},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			if got := parseValue(tc.in); got != tc.want {
				t.Errorf("parseValue(%q) = %#v, want %#v", tc.in, got, tc.want)
			}
		})
	}
}
