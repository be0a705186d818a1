package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kiln-llm/kiln/control"
)

// stubBackend fails every Submit with err.
type stubBackend struct{ err error }

func (b stubBackend) Submit(context.Context, control.Request) (<-chan control.Event, error) {
	return nil, b.err
}
func (stubBackend) EndSession(string) bool   { return false }
func (stubBackend) Metrics() control.Metrics { return control.Metrics{} }

func TestErrorStatuses(t *testing.T) {
	env := newTestEnv(t, Options{BodyLimit: 1024}, 0)
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"unknown route", "GET", "/v2/nothing", "", 404, "not_found"},
		{"unknown model", "GET", "/v1/models/gpt-4", "", 404, "model_not_found"},
		{"wrong method", "GET", "/v1/completions", "", 405, "method_not_allowed"},
		{"wrong method on models", "POST", "/v1/models", "{}", 405, "method_not_allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := env.do(t, tc.method, tc.path, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if _, _, _, code := apiError(t, b); code == nil || *code != tc.code {
				t.Errorf("code %v, want %s", code, tc.code)
			}
		})
	}
}

func TestBodyTooLarge(t *testing.T) {
	env := newTestEnv(t, Options{BodyLimit: 1024}, 0)
	env.listen(t)
	resp, err := http.Post(env.url+"/v1/completions", "application/json", strings.NewReader(`{"prompt":"`+strings.Repeat("a", 2048)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	if _, _, _, code := apiError(t, b); code == nil || *code != "request_too_large" {
		t.Errorf("code %v", code)
	}
}

func TestSubmitErrorStatuses(t *testing.T) {
	tk := testTokenizer(t)
	cases := []struct {
		err        error
		status     int
		retryAfter string
	}{
		{control.ErrOverloaded, 429, "1"},
		{control.ErrClosed, 503, ""},
		{control.ErrSessionBusy, 409, ""},
		{control.ErrPromptTooLong, 400, ""},
		{errors.Join(control.ErrBadRequest, errors.New("x")), 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.err.Error(), func(t *testing.T) {
			s := New(Options{Logger: slog.New(slog.DiscardHandler)})
			s.SetModel(&Model{ID: "m", ContextLen: 512, Tokenizer: tk, Backend: stubBackend{tc.err}})
			env := &testEnv{srv: s}
			for _, path := range []string{"/v1/completions", "/v1/chat/completions"} {
				resp, b := env.do(t, "POST", path, `{"prompt":"x","messages":[{"role":"user","content":"x"}],"stream":true}`)
				if resp.StatusCode != tc.status || resp.Header.Get("Retry-After") != tc.retryAfter {
					t.Fatalf("%s: status %d retry-after %q: %s", path, resp.StatusCode, resp.Header.Get("Retry-After"), b)
				}
				apiError(t, b)
			}
		})
	}
}

func TestLoading(t *testing.T) {
	s := New(Options{Logger: slog.New(slog.DiscardHandler)})
	env := &testEnv{srv: s}
	for _, path := range []string{"/health", "/v1/models"} {
		resp, b := env.do(t, "GET", path, "")
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s while loading: %d %s", path, resp.StatusCode, b)
		}
		apiError(t, b)
	}
	if resp, _ := env.do(t, "GET", "/metrics", ""); resp.StatusCode != 200 {
		t.Errorf("metrics while loading: %d", resp.StatusCode)
	}
}

func TestAuth(t *testing.T) {
	env := newTestEnv(t, Options{APIKeys: []string{"secret-1", "secret-2"}}, 0)
	cases := []struct {
		name, path, auth string
		status           int
	}{
		{"no key", "/v1/models", "", 401},
		{"wrong key", "/v1/models", "Bearer nope", 401},
		{"not bearer", "/v1/models", "Basic c2VjcmV0LTE=", 401},
		{"prefix of a key", "/v1/models", "Bearer secret-", 401},
		{"first key", "/v1/models", "Bearer secret-1", 200},
		{"second key", "/v1/models", "Bearer secret-2", 200},
		{"scheme in lower case", "/v1/models", "bearer secret-1", 200},
		{"scheme in upper case", "/v1/models", "BEARER secret-2", 200},
		{"no credentials", "/v1/models", "Bearer ", 401},
		{"bearer prefix of another scheme", "/v1/models", "Bearerx secret-1", 401},
		{"health is open", "/health", "", 200},
		{"metrics are open", "/metrics", "", 200},
		{"docs are open", "/docs", "", 200},
		{"version is open", "/version", "", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h []string
			if tc.auth != "" {
				h = []string{"Authorization", tc.auth}
			}
			resp, b := env.do(t, "GET", tc.path, "", h...)
			if resp.StatusCode != tc.status {
				t.Fatalf("%d: %s", resp.StatusCode, b)
			}
			if tc.status == 401 {
				if _, typ, _, _ := apiError(t, b); typ != "authentication_error" {
					t.Errorf("type %s", typ)
				}
			}
		})
	}
}

func TestCORSAndRequestID(t *testing.T) {
	env := newTestEnv(t, Options{CORSOrigins: []string{"https://app.example"}}, 0)
	resp, _ := env.do(t, "OPTIONS", "/v1/chat/completions", "",
		"Origin", "https://app.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	resp, _ = env.do(t, "GET", "/v1/models", "", "Origin", "https://evil.example")
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("disallowed origin got %q", got)
	}
	resp, _ = env.do(t, "GET", "/v1/models", "", "X-Request-Id", "abc-123")
	if got := resp.Header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("request id %q", got)
	}
	resp, _ = env.do(t, "GET", "/v1/models", "")
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("no request id generated")
	}
}

func TestModelsTokenizeDocsMetrics(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	_, b := env.do(t, "GET", "/v1/models", "")
	if !strings.Contains(string(b), `"object":"list"`) || !strings.Contains(string(b), `"id":"stories"`) {
		t.Errorf("models: %s", b)
	}
	if resp, b := env.do(t, "GET", "/v1/models/stories", ""); resp.StatusCode != 200 || !strings.Contains(string(b), `"object":"model"`) {
		t.Errorf("model: %s", b)
	}
	_, b = env.do(t, "POST", "/tokenize", `{"prompt":"Once upon a time"}`)
	var tr struct {
		Count  int
		Tokens []int32
	}
	if err := json.Unmarshal(b, &tr); err != nil || tr.Count != len(tr.Tokens) || tr.Count < 3 {
		t.Fatalf("tokenize: %s", b)
	}
	_, b = env.do(t, "POST", "/detokenize", `{"tokens":`+mustJSON(tr.Tokens)+`}`)
	if !strings.Contains(string(b), `"prompt":"Once upon a time"`) {
		t.Errorf("detokenize: %s", b)
	}
	_, b = env.do(t, "POST", "/tokenize", `{"messages":[{"role":"user","content":"hi"}]}`)
	if err := json.Unmarshal(b, &tr); err != nil || tr.Count < 5 {
		t.Errorf("tokenize messages: %s", b)
	}

	env.do(t, "POST", "/v1/completions", `{"prompt":"Once","max_tokens":3}`)
	_, b = env.do(t, "GET", "/metrics", "")
	for _, want := range []string{`kiln_kv_blocks{state="used"} 0`, "kiln_generation_tokens_total 3", "kiln_time_to_first_token_seconds_count 1",
		`kiln_request_finished_total{finished_reason="length"} 1`, `kiln_http_requests_total{method="POST",route="/v1/completions",status="200"} 1`,
		"kiln_prefix_cache_hit_rate", "kiln_num_requests_running 0", `kiln_http_request_duration_seconds_count{route="/v1/completions"} 1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	resp, b := env.do(t, "GET", "/openapi.json", "")
	var spec map[string]any
	if resp.StatusCode != 200 || json.Unmarshal(b, &spec) != nil || spec["paths"] == nil {
		t.Errorf("openapi: %d", resp.StatusCode)
	}
	if resp, b := env.do(t, "GET", "/docs", ""); resp.StatusCode != 200 || !strings.Contains(string(b), "swagger-ui-bundle.js") {
		t.Errorf("docs: %d", resp.StatusCode)
	}
	resp, b = env.do(t, "GET", "/docs/swagger-ui-bundle.js", "")
	if resp.StatusCode != 200 || len(b) < 1<<20 {
		t.Errorf("bundle: %d, %d bytes", resp.StatusCode, len(b))
	}
	resp, b = env.do(t, "GET", "/docs/swagger-ui.css", "", "Accept-Encoding", "gzip")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || len(b) < 1000 {
		t.Errorf("css: %d %q", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
}

// TestSubmitErrorParam: the param of a 400 is the one control's
// ParamError carries, never cut from its message.
func TestSubmitErrorParam(t *testing.T) {
	for _, tc := range []struct {
		err         error
		param, text string
	}{
		{&control.ParamError{Param: "best_of", Err: errors.New("best_of: 6 sequences at once")}, "best_of", "best_of: 6 sequences at once"},
		{&control.ParamError{Err: errors.New("temperature must be >= 0: got -1")}, "", "temperature must be >= 0: got -1"},
		{fmt.Errorf("%w: the prompt has 600 tokens", control.ErrPromptTooLong), "messages", "the prompt does not fit the context: the prompt has 600 tokens"},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			ae := submitError(tc.err, "messages")
			if ae.Status != 400 || ae.Param != tc.param || ae.Message != tc.text {
				t.Errorf("%d param %q message %q; want 400 %q %q", ae.Status, ae.Param, ae.Message, tc.param, tc.text)
			}
		})
	}
}

// TestMethods: a method a path does not answer is a 405 with Allow, an
// unknown path a 404, both in OpenAI's shape, whether fiber knows the
// method (DELETE) or not (PROPFIND, BREW).
func TestMethods(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"PROPFIND", "/v1/models", 405, "GET, HEAD"},
		{"PROPFIND", "/v1/chat/completions", 405, "POST"},
		{"BREW", "/v1/models/stories", 405, "GET, HEAD"},
		{"MKCOL", "/docs/index.html", 405, "GET, HEAD"},
		{"DELETE", "/v1/completions", 405, "POST"},
		{"PUT", "/V1/Chat/Completions/", 405, "POST"},
		{"GET", "/tokenize", 405, "POST"},
		{"PROPFIND", "/", 405, "GET, HEAD"}, // the chat page
		{"PROPFIND", "/v1/nothing", 404, ""},
		{"DELETE", "/v1/nothing", 404, ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, b := env.do(t, tc.method, tc.path, "")
			if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow {
				t.Fatalf("status %d Allow %q, want %d %q: %s", resp.StatusCode, resp.Header.Get("Allow"), tc.status, tc.allow, b)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			_, typ, _, code := apiError(t, b)
			want := map[int]string{404: "not_found", 405: "method_not_allowed"}[tc.status]
			if typ != "invalid_request_error" || code == nil || *code != want {
				t.Errorf("type %q code %v, want %s", typ, code, want)
			}
		})
	}
}

// TestContentType: a body that says it is not JSON is a 415 in OpenAI's
// shape on every POST endpoint; JSON with parameters, +json types and a
// missing Content-Type are read as JSON.
func TestContentType(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	bodies := map[string]string{
		"/v1/completions":      `{"prompt":"Once","max_tokens":2}`,
		"/v1/chat/completions": `{"messages":[{"role":"user","content":"Once"}],"max_tokens":2}`,
		"/v1/chat/interactive": `{"prompt":"Once","request_output_len":2}`,
		"/tokenize":            `{"prompt":"Once"}`,
		"/detokenize":          `{"tokens":[1,2]}`,
	}
	for path, body := range bodies {
		for _, tc := range []struct {
			ct     string
			status int
		}{
			{"text/plain", 415},
			{"application/x-www-form-urlencoded", 200}, // curl -d's label for the JSON body it sends
			{"multipart/form-data; boundary=x", 415},
			{"not a media type", 415},
			{"application/json", 200},
			{"Application/JSON; charset=utf-8", 200},
			{"application/vnd.kiln+json", 200},
			{"", 200},
		} {
			t.Run(path+" "+tc.ct, func(t *testing.T) {
				req := httptest.NewRequest("POST", path, strings.NewReader(body))
				if tc.ct != "" {
					req.Header.Set("Content-Type", tc.ct)
				}
				resp, err := env.srv.App().Test(req, 10000)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != tc.status {
					t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
				}
				if tc.status == 415 {
					if _, _, _, code := apiError(t, b); code == nil || *code != "unsupported_media_type" {
						t.Errorf("code %v", code)
					}
				}
			})
		}
	}
	// A real form body under the form type stays a 415.
	req := httptest.NewRequest("POST", "/v1/completions", strings.NewReader("prompt=Once&max_tokens=2"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := env.srv.App().Test(req, 10000); err != nil || resp.StatusCode != 415 {
		t.Errorf("form body: %v %v", resp.StatusCode, err)
	}
	waitIdle(t, env.engine)
}

// TestModelsRoot: /v1/models names the model file by its base name, never
// the path it was loaded from.
func TestModelsRoot(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	env.model.Root = "/srv/models/secret-dir/stories260K.gguf"
	for _, path := range []string{"/v1/models", "/v1/models/stories"} {
		_, b := env.do(t, "GET", path, "")
		if !strings.Contains(string(b), `"root":"stories260K.gguf"`) || strings.Contains(string(b), "secret-dir") {
			t.Errorf("%s: %s", path, b)
		}
	}
}

// TestEmbeddingsLimitNamesInputs: the limit on embeddings inputs speaks of
// inputs, under param input.
func TestEmbeddingsLimitNamesInputs(t *testing.T) {
	env := newTestEnv(t, Options{}, 0)
	inputs := strings.TrimSuffix(strings.Repeat(`"a",`, maxPrompts+1), ",")
	resp, b := env.do(t, "POST", "/v1/embeddings", `{"input":[`+inputs+`]}`)
	msg, _, param, _ := apiError(t, b)
	if resp.StatusCode != 400 || param == nil || *param != "input" || !strings.Contains(msg, fmt.Sprintf("%d inputs", maxPrompts+1)) || strings.Contains(msg, "prompt") {
		t.Errorf("%d %s", resp.StatusCode, b)
	}
}
