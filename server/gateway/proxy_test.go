package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestProxyRoutesByPrefixAndLoad(t *testing.T) {
	a := newFakeBackend(t, answer(`{"from":"a"}`))
	b := newFakeBackend(t, answer(`{"from":"b"}`))
	_, url := startGateway(t, Config{}, a.srv.URL, b.srv.URL)
	long := strings.Repeat("Once upon a time, ", 40)
	var first string
	for i := range 6 {
		resp, body := postJSON(t, url+"/v1/completions", fmt.Sprintf(`{"prompt":%q}`, long+fmt.Sprint(i)))
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		got := resp.Header.Get(BackendHeader)
		if first == "" {
			first = got
		}
		if got != first {
			t.Fatalf("request %d went to %s, the prefix's backend is %s", i, got, first)
		}
	}
	for i := range 20 {
		postJSON(t, url+"/v1/completions", fmt.Sprintf(`{"prompt":"story %d"}`, i))
	}
	if a.hits.Load() < 4 || b.hits.Load() < 4 {
		t.Fatalf("distinct prompts: a %d, b %d requests", a.hits.Load(), b.hits.Load())
	}
	// A queue read from /metrics turns the sticky backend down.
	sticky, other := a, b
	if first == b.srv.URL {
		sticky, other = b, a
	}
	sticky.queue.Store(10)
	eventually(t, "the gateway reads the queue", func() bool {
		resp, _ := postJSON(t, url+"/v1/completions", fmt.Sprintf(`{"prompt":%q}`, long+"x"))
		return resp.Header.Get(BackendHeader) == other.srv.URL
	})
}

func TestProxyRetriesBeforeFirstByte(t *testing.T) {
	tests := []struct {
		name   string
		broken http.HandlerFunc
		eject  bool
	}{
		{"connection cut before the response", cutBeforeAnswer, false},
		{"503 while draining", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }, false},
		{"headers then cut before the first byte", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(200)
			http.NewResponseController(w).Flush()
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
		}, false},
		{"connection refused", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good := newFakeBackend(t, answer(`{"ok":true}`))
			badURL := ""
			if tt.broken != nil {
				badURL = newFakeBackend(t, tt.broken).srv.URL
			} else {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				badURL = "http://" + ln.Addr().String()
				ln.Close()
			}
			g, url := startGateway(t, Config{HealthInterval: time.Hour}, badURL, good.srv.URL)
			bad := g.backends[0]
			bad.healthy.Store(true) // as if it had been up: the request is what finds it broken
			for i := range 8 {      // by rotation and prompt some of them go to the broken one first
				resp, body := postJSON(t, url+"/v1/chat/completions", fmt.Sprintf(`{"messages":[{"role":"user","content":"hi %d"}]}`, i))
				if resp.StatusCode != 200 || resp.Header.Get(BackendHeader) != good.srv.URL {
					t.Fatalf("request %d: %d from %q: %s", i, resp.StatusCode, resp.Header.Get(BackendHeader), body)
				}
			}
			if !strings.Contains(scrape(t, url), `kiln_gateway_retries_total{reason="`) {
				t.Fatal("no request met the broken backend: nothing was retried")
			}
			if tt.eject && bad.healthy.Load() {
				t.Fatal("a refusing backend was not ejected")
			}
		})
	}
}

func TestProxyNoBackend(t *testing.T) {
	f := newFakeBackend(t, answer(`{}`))
	f.healthy.Store(false)
	_, url := startGateway(t, Config{}, f.srv.URL)
	resp, body := postJSON(t, url+"/v1/completions", `{"prompt":"x"}`)
	var e struct {
		Error struct{ Message, Type, Code string }
	}
	if resp.StatusCode != 503 || json.Unmarshal([]byte(body), &e) != nil || e.Error.Code != "no_backend" || e.Error.Message == "" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if r, _ := http.Get(url + "/health"); r.StatusCode != 503 {
		t.Fatalf("/health %d with no backend admitted", r.StatusCode)
	}
	f.healthy.Store(true)
	eventually(t, "the backend is admitted again", func() bool {
		r, err := http.Get(url + "/health")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
	if resp, body := postJSON(t, url+"/v1/completions", `{"prompt":"x"}`); resp.StatusCode != 200 {
		t.Fatalf("after re-admission: %d %s", resp.StatusCode, body)
	}
}

func TestProxyBodyTooLarge(t *testing.T) {
	f := newFakeBackend(t, answer(`{}`))
	_, url := startGateway(t, Config{MaxBodyBytes: 100}, f.srv.URL)
	resp, body := postJSON(t, url+"/v1/completions", `{"prompt":"`+strings.Repeat("x", 200)+`"}`)
	if resp.StatusCode != 413 || !strings.Contains(body, `"code":"body_too_large"`) || f.hits.Load() != 0 {
		t.Fatalf("%d %s (backend hits %d)", resp.StatusCode, body, f.hits.Load())
	}
}

// sseServer streams n events, waiting for next before each after the
// first, then cuts the connection if cut is set, else ends with [DONE].
func sseServer(next chan struct{}, n int, cut bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := range n {
			if i > 0 {
				select {
				case <-next:
				case <-r.Context().Done():
					return
				}
			}
			fmt.Fprintf(w, "data: {\"i\":%d}\n\n", i)
			_ = rc.Flush()
		}
		if cut {
			conn, _, _ := rc.Hijack()
			conn.Close()
			return
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}
}

func TestProxyStreams(t *testing.T) {
	next := make(chan struct{})
	f := newFakeBackend(t, sseServer(next, 3, false))
	_, url := startGateway(t, Config{}, f.srv.URL)
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(`{"prompt":"x","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	for i := range 3 {
		// Event i arrives while the backend still holds event i+1: the
		// gateway passes bytes through as they come.
		line, err := rd.ReadString('\n')
		if err != nil || line != fmt.Sprintf("data: {\"i\":%d}\n", i) {
			t.Fatalf("event %d: %q %v", i, line, err)
		}
		_, _ = rd.ReadString('\n')
		if i < 2 {
			next <- struct{}{}
		}
	}
	if rest, _ := io.ReadAll(rd); string(rest) != "data: [DONE]\n\n" {
		t.Fatalf("end of stream %q", rest)
	}
}

func TestProxyStreamCutMidway(t *testing.T) {
	next := make(chan struct{}, 1)
	next <- struct{}{}
	f := newFakeBackend(t, sseServer(next, 2, true))
	g, url := startGateway(t, Config{}, f.srv.URL)
	start := time.Now()
	resp, err := http.Post(url+"/v1/completions", "application/json", strings.NewReader(`{"prompt":"x","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	events := strings.Split(strings.TrimSpace(string(body)), "\n\n")
	if len(events) != 3 || !strings.Contains(events[2], `"code":"backend_failed"`) || strings.Contains(string(body), "[DONE]") {
		t.Fatalf("stream %q: want two events, then an error event and no [DONE]", body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the error took %v", d)
	}
	eventually(t, "the failure is counted", func() bool {
		return strings.Contains(scrape(t, url), `kiln_gateway_backend_failures_midresponse_total{backend="`+g.backends[0].name+`"} 1`)
	})
}

func TestProxyClientDisconnectReachesBackend(t *testing.T) {
	gone := make(chan struct{})
	f := newFakeBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {}\n\n")
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done()
		close(gone)
	})
	_, url := startGateway(t, Config{}, f.srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/completions", strings.NewReader(`{"prompt":"x","stream":true}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the backend never saw the client go away")
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestModelsUnionAndLookup(t *testing.T) {
	models := func(ids ...string) string {
		var data []string
		for _, id := range ids {
			data = append(data, fmt.Sprintf(`{"id":%q,"object":"model"}`, id))
		}
		return `{"object":"list","data":[` + strings.Join(data, ",") + `]}`
	}
	mk := func(list, stored string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/v1/models":
				if r.Header.Get("Authorization") != "Bearer k" {
					w.WriteHeader(401)
					fmt.Fprint(w, `{"error":{"message":"no key"}}`)
					return
				}
				fmt.Fprint(w, list)
			case r.URL.Path == "/v1/responses/"+stored:
				fmt.Fprintf(w, `{"id":%q}`, stored)
			case r.URL.Path == "/v1/chat/completions" || strings.HasPrefix(r.URL.Path, "/v1/models/"):
				var req struct{ Model string }
				_ = json.NewDecoder(r.Body).Decode(&req)
				if m, ok := strings.CutPrefix(r.URL.Path, "/v1/models/"); ok {
					req.Model = m
				}
				if !strings.Contains(list, fmt.Sprintf("%q", req.Model)) {
					w.WriteHeader(404)
					fmt.Fprintf(w, `{"error":{"message":"model %s not found","type":"invalid_request_error","param":"model","code":"model_not_found"}}`, req.Model)
					return
				}
				fmt.Fprintf(w, `{"model":%q}`, req.Model)
			default:
				w.WriteHeader(404)
				fmt.Fprint(w, `{"error":{"message":"not found"}}`)
			}
		}
	}
	a := newFakeBackend(t, mk(models("m1", "m2"), "resp_a"))
	b := newFakeBackend(t, mk(models("m2", "m3"), "resp_b"))
	_, url := startGateway(t, Config{}, a.srv.URL, b.srv.URL)
	get := func(path, key string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, url+path, nil)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	status, body := get("/v1/models", "k")
	var list struct{ Data []struct{ ID string } }
	if status != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list.Data) != 3 {
		t.Fatalf("%d %s", status, body)
	}
	if status, body := get("/v1/models", ""); status != 401 {
		t.Fatalf("without the key: %d %s", status, body)
	}
	for _, id := range []string{"resp_a", "resp_b"} {
		for range 3 {
			if status, body := get("/v1/responses/"+id, ""); status != 200 || !strings.Contains(body, id) {
				t.Fatalf("%s: %d %s", id, status, body)
			}
		}
	}
	if status, _ := get("/v1/responses/none", ""); status != 404 {
		t.Fatalf("an unknown response: %d", status)
	}
	// Backends serving different models: a request reaches one that
	// serves its model; an unknown model gets the backends' 404.
	for _, m := range []string{"m1", "m3", "m1", "m3"} {
		if resp, body := postJSON(t, url+"/v1/chat/completions", fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hi"}]}`, m)); resp.StatusCode != 200 {
			t.Fatalf("model %s: %d %s", m, resp.StatusCode, body)
		}
		if status, body := get("/v1/models/"+m, ""); status != 200 {
			t.Fatalf("GET /v1/models/%s: %d %s", m, status, body)
		}
	}
	if resp, body := postJSON(t, url+"/v1/chat/completions", `{"model":"m9","messages":[]}`); resp.StatusCode != 404 || !strings.Contains(body, "model_not_found") {
		t.Fatalf("unknown model: %d %s", resp.StatusCode, body)
	}
}
