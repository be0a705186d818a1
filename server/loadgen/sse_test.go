package loadgen

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestReadStream(t *testing.T) {
	for _, tc := range []struct {
		name         string
		body         string
		chunks, itls int
		usage        int // completion tokens; -1 = none
		err          string
	}{
		{name: "completions", chunks: 3, itls: 2, usage: 6, body: `data: {"choices":[{"text":"a"}]}

data: {"choices":[{"text":"b"}]}

data: {"choices":[{"text":"c","finish_reason":"length"}]}

data: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":6}}

data: [DONE]

`},
		{name: "chat role delta and null content skipped", chunks: 2, itls: 1, usage: -1, body: "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\r\n\r\n" +
			"data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\r\n\r\n" +
			"data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hm\"}}]}\r\n\r\n" +
			"data: {\"choices\":[{\"delta\":{\"content\":null},\"finish_reason\":\"stop\"}]}\r\n\r\n" +
			"data:[DONE]\r\n\r\n"},
		{name: "comments and event lines ignored", chunks: 1, usage: -1, body: ": ping\nevent: message\nid: 1\ndata: {\"choices\":[{\"text\":\"x\"}]}\n\ndata: [DONE]\n"},
		{name: "no done", chunks: 1, usage: -1, err: "before data: [DONE]", body: "data: {\"choices\":[{\"text\":\"x\"}]}\n\n"},
		{name: "error event", usage: -1, err: "stream error: overloaded", body: "data: {\"error\":{\"message\":\"overloaded\"}}\n\ndata: [DONE]\n\n"},
		{name: "bad json", usage: -1, err: "bad chunk", body: "data: {\"choices\":\n\n"},
		{name: "empty body", usage: -1, err: "before data: [DONE]", body: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := readStream(strings.NewReader(tc.body), time.Now())
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.chunks != tc.chunks || len(st.itl) != tc.itls {
				t.Errorf("%d text chunks, %d gaps; want %d, %d", st.chunks, len(st.itl), tc.chunks, tc.itls)
			}
			if tc.usage < 0 && st.usage != nil || tc.usage >= 0 && (st.usage == nil || st.usage.CompletionTokens != tc.usage) {
				t.Errorf("usage %+v, want %d", st.usage, tc.usage)
			}
			if st.e2e < st.ttft {
				t.Errorf("e2e %v before ttft %v", st.e2e, st.ttft)
			}
		})
	}
	if _, err := readStream(strings.NewReader(""), time.Now()); !errors.Is(err, errNoDone) {
		t.Errorf("empty stream: %v", err)
	}
}

func TestErrorMessage(t *testing.T) {
	for body, want := range map[string]string{
		`{"error":{"message":"rate limited","type":"rate_limit"}}`: "rate limited",
		`{"error":"plain"}`:          "plain",
		`{"detail":"Not Found"}`:     "Not Found",
		`{"detail":[{"msg":"bad"}]}`: `[{"msg":"bad"}]`,
		`not json`:                   "",
		`{"object":"list"}`:          "",
	} {
		if got := errorMessage([]byte(body)); got != want {
			t.Errorf("errorMessage(%s) = %q, want %q", body, got, want)
		}
	}
}
