package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
)

// BackendHeader names, in every proxied response, the backend that
// answered it: for tracing a request through the gateway.
const BackendHeader = "X-Kiln-Backend"

// hopHeaders are per-connection headers a proxy must not forward (RFC 9110
// 7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// ServeHTTP implements http.Handler: the gateway's own /health, /metrics
// and /v1/models, and every other path proxied to a backend.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/health" && r.Method == http.MethodGet:
		g.handleHealth(w)
	case r.URL.Path == "/metrics" && r.Method == http.MethodGet:
		g.handleMetrics(w, r)
	case r.URL.Path == "/v1/models" && r.Method == http.MethodGet:
		g.handleModels(w, r)
	default:
		g.proxy(w, r)
	}
}

// handleHealth answers 200 while at least one backend is admitted.
func (g *Gateway) handleHealth(w http.ResponseWriter) {
	type state struct {
		URL     string `json:"url"`
		Healthy bool   `json:"healthy"`
		Load    int64  `json:"load"`
	}
	out := struct {
		Status   string  `json:"status"`
		Backends []state `json:"backends"`
	}{Status: "ok"}
	for _, b := range g.backends {
		out.Backends = append(out.Backends, state{b.name, b.healthy.Load(), b.load()})
	}
	status := http.StatusOK
	if g.healthyCount() == 0 {
		out.Status, status = "no healthy backend", http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(out)
}

// writeError answers in OpenAI's error shape.
func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}})
}

// outcome is what one attempt on a backend came to.
type outcome int

const (
	answered outcome = iota // the client got a response (or went away)
	retry                   // nothing reached the client: try another backend
)

// proxy sends r to a backend chosen by pick, and to the next one while an
// attempt fails before any byte reached the client. Its body is held in
// memory for that (MaxBodyBytes).
func (g *Gateway) proxy(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", "body_too_large",
				fmt.Sprintf("the request body exceeds the gateway's limit of %d bytes", tooBig.Limit))
			return
		}
		writeError(w, http.StatusBadRequest, "invalid_request_error", "bad_body", "reading the request body: "+err.Error())
		return
	}
	a := affinity{}
	if r.Method == http.MethodPost {
		a = requestAffinity(body, g.cfg.AffinityChars)
	}
	// A stored response (GET/DELETE /v1/responses/{id}) lives on one
	// backend, and a model (GET /v1/models/{id}) may be served by some
	// only: ask each until one knows it.
	lookup := r.Method != http.MethodPost && (strings.HasPrefix(r.URL.Path, "/v1/responses/") || strings.HasPrefix(r.URL.Path, "/v1/models/"))
	tried := map[*backend]bool{}
	var lastErr error
	for {
		b, why := g.pick(a, tried)
		if b == nil {
			break
		}
		tried[b] = true
		g.met.routed.WithLabelValues(b.name, string(why)).Inc()
		var res outcome
		res, lastErr = g.attempt(w, r, body, b, tried, lookup)
		if res == answered {
			g.cfg.Log.Debug("gateway: proxied", "method", r.Method, "path", r.URL.Path, "backend", b.name, "route", string(why), "attempts", len(tried))
			return
		}
	}
	if r.Context().Err() != nil {
		return
	}
	if lastErr == nil {
		writeError(w, http.StatusServiceUnavailable, "server_error", "no_backend",
			fmt.Sprintf("no healthy backend (%d configured, all ejected); retry later", len(g.backends)))
		return
	}
	writeError(w, http.StatusBadGateway, "server_error", "backend_unavailable",
		fmt.Sprintf("no backend could take the request; the last one failed: %v", lastErr))
}

// attempt forwards r to b. It retries (returns retry) when b could not be
// reached or failed before sending any byte of its body, and when b
// answered what elsewhere says another backend may do better (a 503, a
// model it does not serve) while another admitted backend is untried;
// otherwise it streams b's response to the client, flushing as
// bytes arrive. A failure after bytes reached the client ends a stream
// with an error event, or cuts a plain response short.
func (g *Gateway) attempt(w http.ResponseWriter, r *http.Request, body []byte, b *backend, tried map[*backend]bool, lookup bool) (outcome, error) {
	ctx := r.Context()
	out, err := http.NewRequestWithContext(ctx, r.Method, b.name+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return retry, err
	}
	out.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		out.Header.Set("X-Forwarded-For", strings.TrimLeft(out.Header.Get("X-Forwarded-For")+", "+ip, ", "))
	}
	b.inflight.Add(1)
	defer b.inflight.Add(-1)
	resp, err := g.client.Do(out)
	if err != nil {
		if ctx.Err() != nil {
			g.met.requests.WithLabelValues(b.name, "499").Inc()
			return answered, nil
		}
		g.met.requests.WithLabelValues(b.name, "error").Inc()
		reason := "reset"
		if isConnectError(err) {
			reason = "connect"
			g.eject(b, "connect", err)
		} else {
			b.askRecheck()
		}
		g.met.retries.WithLabelValues(reason).Inc()
		g.cfg.Log.Warn("gateway: backend failed before answering", "backend", b.name, "path", r.URL.Path, "err", err)
		return retry, fmt.Errorf("%s: %w", b.name, err)
	}
	defer resp.Body.Close()
	// Nothing is committed to the client until the backend's first body
	// bytes arrive: a stream accepted by a backend that dies before its
	// first token is still retried elsewhere.
	buf := make([]byte, 32<<10)
	n, err := io.ReadAtLeast(resp.Body, buf, 1)
	if err == nil && resp.StatusCode == http.StatusNotFound {
		// A 404 is short: read it whole to tell "not on this backend".
		var more int
		more, err = io.ReadFull(resp.Body, buf[n:])
		n += more
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
	}
	if elsewhere(resp.StatusCode, buf[:n], lookup) && g.untried(tried) {
		g.met.requests.WithLabelValues(b.name, strconv.Itoa(resp.StatusCode)).Inc()
		if resp.StatusCode == http.StatusServiceUnavailable {
			g.met.retries.WithLabelValues("unavailable").Inc()
		}
		return retry, fmt.Errorf("%s: status %d", b.name, resp.StatusCode)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		if ctx.Err() != nil {
			g.met.requests.WithLabelValues(b.name, "499").Inc()
			return answered, nil
		}
		g.met.requests.WithLabelValues(b.name, "error").Inc()
		g.met.retries.WithLabelValues("reset").Inc()
		b.askRecheck()
		g.cfg.Log.Warn("gateway: backend failed before its first byte", "backend", b.name, "path", r.URL.Path, "err", err)
		return retry, fmt.Errorf("%s: %w", b.name, err)
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	for _, h := range hopHeaders {
		w.Header().Del(h)
	}
	w.Header().Set(BackendHeader, b.name)
	w.WriteHeader(resp.StatusCode)
	g.met.requests.WithLabelValues(b.name, strconv.Itoa(resp.StatusCode)).Inc()
	flusher, _ := w.(http.Flusher)
	for {
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return answered, nil // the client went away; ctx cancels the upstream request
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err != nil {
			break
		}
		n, err = resp.Body.Read(buf)
	}
	if err == nil || errors.Is(err, io.EOF) || ctx.Err() != nil {
		return answered, nil
	}
	g.midResponseFailure(w, b, r, resp, err)
	return answered, nil
}

// elsewhere reports whether a backend's answer (status and the start of its
// body) says another backend may do better: 503 (draining, loading,
// overloaded); a 404 for a model it does not serve (backends may serve
// different models); any 404 to a lookup of a stored object.
func elsewhere(status int, body []byte, lookup bool) bool {
	switch {
	case status == http.StatusServiceUnavailable:
		return true
	case status != http.StatusNotFound:
		return false
	case lookup:
		return true
	}
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	return json.Unmarshal(body, &e) == nil && e.Error.Code == "model_not_found"
}

// midResponseFailure handles a backend that failed after part of its
// response reached the client: nothing can be retried, so the client must
// learn it clearly and at once. A stream gets an error event in OpenAI's
// shape (and no [DONE]); a plain response is cut off, which its client
// sees as a truncated body.
func (g *Gateway) midResponseFailure(w http.ResponseWriter, b *backend, r *http.Request, resp *http.Response, err error) {
	g.met.midFailure.WithLabelValues(b.name).Inc()
	b.askRecheck()
	g.cfg.Log.Warn("gateway: backend failed mid-response", "backend", b.name, "path", r.URL.Path, "err", err)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		panic(http.ErrAbortHandler)
	}
	ev, _ := json.Marshal(map[string]any{"error": map[string]any{
		"message": fmt.Sprintf("the backend %s failed in the middle of this response (%v); the output is incomplete", b.name, err),
		"type":    "server_error", "param": nil, "code": "backend_failed",
	}})
	_, _ = fmt.Fprintf(w, "data: %s\n\n", ev)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// untried reports whether an admitted backend is not in tried.
func (g *Gateway) untried(tried map[*backend]bool) bool {
	for _, b := range g.backends {
		if !tried[b] && b.healthy.Load() {
			return true
		}
	}
	return false
}

// isConnectError reports whether err means the backend could not be
// reached at all (refused, unreachable, connect timeout): a dead or
// partitioned backend, ejected at once. Other failures (a connection
// reset mid-request) may be one bad connection, so the health check
// decides.
func isConnectError(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}
