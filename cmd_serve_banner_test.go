package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

func TestLocalURL(t *testing.T) {
	cases := []struct{ addr, want string }{
		{"0.0.0.0:8000", "http://localhost:8000"},
		{"[::]:8000", "http://localhost:8000"},
		{"127.0.0.1:9000", "http://127.0.0.1:9000"},
		{"[::1]:9000", "http://[::1]:9000"},
		{"10.1.2.3:80", "http://10.1.2.3:80"},
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			a, err := net.ResolveTCPAddr("tcp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			if got := localURL(a); got != tc.want {
				t.Errorf("localURL(%s) = %s, want %s", tc.addr, got, tc.want)
			}
		})
	}
}

// TestBanner: the banner names the model and gives the page, /docs, the
// console client and a curl to paste.
func TestBanner(t *testing.T) {
	var b bytes.Buffer
	printBanner(&b, "http://localhost:8000", "stories260K", true)
	for _, want := range []string{"stories260K (built in", "http://localhost:8000/\n", "http://localhost:8000/docs\n",
		"kiln chat --url http://localhost:8000\n", `curl http://localhost:8000/v1/completions -H 'Content-Type: application/json' -d '{"prompt": "Once upon a time", "max_tokens": 32}'`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, b.String())
		}
	}
}
