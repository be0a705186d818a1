package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode"
)

// curlRequest is what a documented curl command sends.
type curlRequest struct {
	method, url string
	header      http.Header
	body        string
}

// parseCurl reads a curl command as a shell would split it (backslash-
// newline continuations, single and double quotes) up to an unquoted pipe
// (`| python -m json.tool` only pretty-prints), and returns its request:
// the URL, -H headers, -d/--data body (POST when given), -X method.
func parseCurl(cmd string) (curlRequest, error) {
	words, err := shellWords(cmd)
	if err != nil {
		return curlRequest{}, err
	}
	if len(words) == 0 || words[0] != "curl" {
		return curlRequest{}, fmt.Errorf("not a curl command: %q", cmd)
	}
	r := curlRequest{method: "GET", header: http.Header{}}
	for i := 1; i < len(words); i++ {
		w := words[i]
		next := func() (string, error) {
			if i+1 >= len(words) {
				return "", fmt.Errorf("%s needs a value", w)
			}
			i++
			return words[i], nil
		}
		switch w {
		case "-H", "--header":
			h, err := next()
			if err != nil {
				return r, err
			}
			k, v, _ := strings.Cut(h, ":")
			r.header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		case "-d", "--data", "--data-raw":
			d, err := next()
			if err != nil {
				return r, err
			}
			r.body = d
			if r.method == "GET" {
				r.method = "POST"
			}
		case "-X", "--request":
			m, err := next()
			if err != nil {
				return r, err
			}
			r.method = m
		case "-s", "-N", "-sN", "--output", "-":
		default:
			if strings.HasPrefix(w, "http") {
				r.url = w
			} else if strings.HasPrefix(w, "-") {
				return r, fmt.Errorf("unknown curl option %s", w)
			}
		}
	}
	if r.url == "" {
		return r, fmt.Errorf("no URL in %q", cmd)
	}
	return r, nil
}

// shellWords splits s as sh does for these examples.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '\\' && i+1 < len(rs) && rs[i+1] == '\n':
			i++ // a continuation
		case c == '\\' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			inWord = true
		case c == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unclosed ' in %q", s)
			}
			cur.WriteString(string(rs[i+1 : j]))
			i = j
			inWord = true
		case c == '"':
			i++
			for ; i < len(rs) && rs[i] != '"'; i++ {
				if rs[i] == '\\' && i+1 < len(rs) && strings.ContainsRune(`"\$`+"`", rs[i+1]) {
					i++
				}
				cur.WriteRune(rs[i])
			}
			if i >= len(rs) {
				return nil, fmt.Errorf(`unclosed " in %q`, s)
			}
			inWord = true
		case c == '|':
			if inWord {
				words = append(words, cur.String())
			}
			return words, nil
		case unicode.IsSpace(c):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// runCurl sends a documented curl command to base instead of the
// document's host (every "http://host:port" prefix is replaced) and
// returns the status and body.
func runCurl(t *testing.T, base, cmd string) (int, string) {
	t.Helper()
	r, err := parseCurl(cmd)
	if err != nil {
		t.Fatal(err)
	}
	u := r.url
	if i := strings.Index(u[len("http://"):], "/"); i >= 0 {
		u = base + u[len("http://")+i:]
	}
	req, err := http.NewRequest(r.method, u, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = r.header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// mustJSON decodes a 200 answer into v, failing the test otherwise.
func mustJSON(t *testing.T, status int, body string, v any) {
	t.Helper()
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
}

func TestParseCurl(t *testing.T) {
	cases := []struct {
		name, cmd, method, url, ctype, body string
	}{
		{"get", `curl http://localhost:8000/v1/models`, "GET", "http://localhost:8000/v1/models", "", ""},
		{"continued post piped", "curl http://localhost:8000/v1/chat/completions \\\n    -H \"Content-Type: application/json\" \\\n    -d '{\n    \"model\": \"EMPTY\"\n    }' \\\n    | python -m json.tool",
			"POST", "http://localhost:8000/v1/chat/completions", "application/json", "{\n    \"model\": \"EMPTY\"\n    }"},
		{"-X and single-quoted header", `curl -X 'POST' 'http://h:1/x' -H 'accept: application/json' -d '{}' --output -`, "POST", "http://h:1/x", "", "{}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseCurl(tc.cmd)
			if err != nil {
				t.Fatal(err)
			}
			if r.method != tc.method || r.url != tc.url || r.header.Get("Content-Type") != tc.ctype || r.body != tc.body {
				t.Errorf("got %s %s %q %q", r.method, r.url, r.header.Get("Content-Type"), r.body)
			}
		})
	}
}
