package server

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestNegativeSuite sends every typed parameter of both endpoints a value
// of each wrong JSON type, and out-of-range values; each must get a 400 in
// OpenAI's shape naming the parameter, and the server must answer the next
// valid request. With TestParamValidation this is well over 200 requests.
func TestNegativeSuite(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	wrong := map[string][]string{
		"number":  {`"1"`, `true`, `{}`, `[1]`},
		"integer": {`"1"`, `true`, `{}`, `[1]`, `1.5`, `1e300`},
		"boolean": {`"true"`, `1`, `{}`, `[true]`},
		"string":  {`1`, `true`, `{}`},
		"object":  {`1`, `"x"`, `true`, `[1]`},
	}
	params := map[string]string{
		"max_tokens": "integer", "max_completion_tokens": "integer", "min_tokens": "integer", "temperature": "number",
		"top_p": "number", "top_k": "integer", "min_p": "number", "typical_p": "number", "n": "integer", "best_of": "integer",
		"seed": "integer", "presence_penalty": "number", "frequency_penalty": "number", "repetition_penalty": "number",
		"logit_bias": "object", "stream": "boolean", "user": "string", "ignore_eos": "boolean", "use_beam_search": "boolean",
		"length_penalty": "number", "model": "string", "stream_options": "object", "response_format": "object",
		"priority": "integer",
	}
	outOfRange := map[string][]string{
		"max_tokens": {"0", "-5", "1000000"}, "temperature": {"-0.1", "2.01", "1e9"}, "top_p": {"0", "-1", "1.01"},
		"top_k": {"-2", "-100"}, "min_p": {"-0.5", "1.5"}, "typical_p": {"0", "2"}, "n": {"0", "-1", "1000"},
		"presence_penalty": {"-2.1", "2.1"}, "frequency_penalty": {"-9", "9"}, "repetition_penalty": {"0", "-1", "11"},
		"min_tokens": {"-1"}, "best_of": {"0"}, "priority": {"2000000000", "-2000000000"},
	}
	type probe struct{ path, body, param string }
	var probes []probe
	for _, path := range []string{"/v1/completions", "/v1/chat/completions"} {
		base := `"prompt":"Once"`
		if strings.Contains(path, "chat") {
			base = `"messages":[{"role":"user","content":"Once"}]`
		}
		for p, kind := range params {
			for _, v := range wrong[kind] {
				probes = append(probes, probe{path, fmt.Sprintf(`{%s, %q: %s}`, base, p, v), p})
			}
		}
		for p, vs := range outOfRange {
			for _, v := range vs {
				probes = append(probes, probe{path, fmt.Sprintf(`{%s, %q: %s}`, base, p, v), p})
			}
		}
	}
	if len(probes) < 200 {
		t.Fatalf("only %d probes", len(probes))
	}
	for _, pr := range probes {
		resp, b := env.do(t, "POST", pr.path, pr.body)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s %s: status %d: %s", pr.path, pr.body, resp.StatusCode, b)
			continue
		}
		if _, _, param, _ := apiError(t, b); param == nil || !strings.HasPrefix(*param, pr.param) {
			t.Errorf("%s %s: param %v, want %s", pr.path, pr.body, param, pr.param)
		}
	}
	if resp, b := env.do(t, "POST", "/v1/completions", `{"prompt":"Once","max_tokens":3}`); resp.StatusCode != 200 {
		t.Fatalf("valid request after the suite: %d %s", resp.StatusCode, b)
	}
	t.Logf("%d malformed requests, each a 400 naming its param", len(probes))
	waitIdle(t, env.engine)
}

// TestConcurrentStreams runs many streaming clients at once over real
// connections: every stream completes (finish_reason, [DONE]), no 5xx.
func TestConcurrentStreams(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	env.listen(t)
	const clients, rounds = 24, 3
	var wg sync.WaitGroup
	errs := make(chan error, clients*rounds)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				path, body := "/v1/completions", `{"prompt":"Once","max_tokens":20,"stream":true}`
				if c%2 == 1 {
					path, body = "/v1/chat/completions", `{"messages":[{"role":"user","content":"Once"}],"max_tokens":20,"stream":true}`
				}
				resp, err := http.Post(env.url+path, "application/json", strings.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				s := readAll(resp)
				resp.Body.Close()
				switch {
				case resp.StatusCode != 200:
					errs <- fmt.Errorf("status %d: %s", resp.StatusCode, s)
				case !strings.HasSuffix(s, "data: [DONE]\n\n") || !strings.Contains(s, `"finish_reason":"length"`):
					errs <- fmt.Errorf("stream cut short: %q", s[max(0, len(s)-200):])
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitIdle(t, env.engine)
}

func readAll(resp *http.Response) string {
	b := new(strings.Builder)
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}
