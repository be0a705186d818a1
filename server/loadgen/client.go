package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"time"
)

// client sends one run's requests over a shared keep-alive transport.
type client struct {
	http    *http.Client
	base    string // API root ending in /v1
	o       Options
	timeout time.Duration
}

// newClient sizes the connection pool to the run's in-flight cap, so that
// every request after the first wave reuses a warm connection instead of
// paying a TCP handshake inside its TTFT.
func newClient(o Options, base string) *client {
	conns := o.inFlightCap()
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		// A gzip reader would hold back SSE events until it fills a
		// buffer, which would be timed as the server's latency.
		DisableCompression: true,
	}
	// No http.Client.Timeout: each request carries its own deadline.
	return &client{http: &http.Client{Transport: tr}, base: base, o: o, timeout: o.Timeout}
}

// close drops the idle connections, so a finished run leaves no
// goroutines behind.
func (c *client) close() { c.http.CloseIdleConnections() }

// newRequest builds a request to path under the API root with the
// headers every call carries.
func (c *client) newRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.o.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.o.APIKey)
	}
	return req, nil
}

// firstModel returns the first id GET /v1/models lists: the default
// --model, as a server usually serves one.
func (c *client) firstModel(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, min(c.timeout, time.Minute))
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodGet, "/models", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("GET %s/models (pass --model to skip it): %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s/models (pass --model to skip it): %s", c.base, httpError(resp))
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&list); err != nil {
		return "", fmt.Errorf("GET %s/models: %w", c.base, err)
	}
	if len(list.Data) == 0 || list.Data[0].ID == "" {
		return "", fmt.Errorf("GET %s/models listed no model: pass --model", c.base)
	}
	return list.Data[0].ID, nil
}

// message is a chat message.
type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// requestBody is the union of the two endpoints' request fields that a run
// uses; the endpoint's own input field is set, the other omitted.
type requestBody struct {
	Model         string        `json:"model"`
	Prompt        any           `json:"prompt,omitempty"` // a string or token ids
	Messages      []message     `json:"messages,omitempty"`
	MaxTokens     int           `json:"max_tokens"`
	Temperature   float64       `json:"temperature"`
	Stream        bool          `json:"stream"`
	StreamOptions streamOptions `json:"stream_options"`
	// IgnoreEOS and MinTokens are vLLM's extensions (kiln has them too)
	// that make the server generate exactly max_tokens.
	IgnoreEOS bool `json:"ignore_eos,omitempty"`
	MinTokens int  `json:"min_tokens,omitempty"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// body encodes p as the endpoint's streamed request.
func (c *client) body(model string, p Prompt) ([]byte, string) {
	b := requestBody{Model: model, MaxTokens: p.MaxTokens, Temperature: c.o.Temperature,
		Stream: true, StreamOptions: streamOptions{IncludeUsage: true}}
	if c.o.FixedOutput {
		b.IgnoreEOS, b.MinTokens = true, p.MaxTokens
	}
	path := "/completions"
	if c.o.Endpoint == Chat {
		path = "/chat/completions"
		b.Messages = []message{{Role: "user", Content: p.Text}}
	} else if p.IDs != nil {
		b.Prompt = p.IDs
	} else {
		b.Prompt = p.Text
	}
	data, _ := json.Marshal(b) // strings and numbers: cannot fail
	if len(c.o.ExtraBody) > 0 {
		var m map[string]any
		_ = json.Unmarshal(data, &m) // just marshalled
		for k, v := range c.o.ExtraBody {
			m[k] = v
		}
		data, _ = json.Marshal(m) // decoded JSON values: cannot fail
	}
	return data, path
}

// Result is one request's measurements. Times are from just before the
// request is sent.
type Result struct {
	Sent bool // false: never sent, the run was interrupted first
	// Cancelled is true when the run was interrupted while the request was
	// in flight: it neither succeeded nor failed.
	Cancelled bool
	OK        bool
	Err       string
	TTFT      time.Duration   // to the first chunk carrying text
	ITL       []time.Duration // gaps between successive text chunks
	E2E       time.Duration   // to data: [DONE]
	// PromptTokens and OutputTokens are the server's usage counts or, when
	// it sends no usage (UsageMissing), the prompt's word count and the
	// number of text chunks.
	PromptTokens, OutputTokens int
	UsageMissing               bool
	Chunks                     int // chunks that carried text
	// AcceptedDrafts and RejectedDrafts are the speculative draft tokens
	// the server reports kept and dropped (completion_tokens_details).
	AcceptedDrafts, RejectedDrafts int
	// StreamTokens counts the tokens of those chunks: one each, or as the
	// server's per-chunk counts say (see readStream).
	StreamTokens int
	// Retried is true when the first try failed on a reused connection
	// before any answer and the request was sent again (see send).
	Retried bool
}

// do sends one streamed request and times its chunks.
func (c *client) do(ctx context.Context, model string, p Prompt) Result {
	res := Result{Sent: true}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	fail := func(err error) Result {
		switch {
		case ctx.Err() != nil:
			res.Cancelled = true
		case errors.Is(rctx.Err(), context.DeadlineExceeded):
			res.Err = fmt.Sprintf("timed out after %v (--timeout)", c.timeout)
		default:
			res.Err = err.Error()
		}
		return res
	}
	body, path := c.body(model, p)
	req, err := c.newRequest(rctx, http.MethodPost, path, body)
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	start := time.Now()
	resp, err := c.send(req, &res)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail(errors.New(httpError(resp)))
	}
	st, err := readStream(resp.Body, start)
	if err != nil {
		return fail(err)
	}
	// Read the little that may follow [DONE], so the connection goes back
	// to the pool rather than being closed.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	res.OK, res.TTFT, res.ITL, res.E2E, res.Chunks, res.StreamTokens = true, st.ttft, st.itl, st.e2e, st.chunks, st.tokens
	if st.usage != nil {
		res.PromptTokens, res.OutputTokens = st.usage.PromptTokens, st.usage.CompletionTokens
		if d := st.usage.Details; d != nil {
			res.AcceptedDrafts, res.RejectedDrafts = d.Accepted, d.Rejected
		}
	} else {
		res.UsageMissing = true
		res.PromptTokens, res.OutputTokens = p.Words, st.chunks
	}
	return res
}

// send sends req once more when its first try failed on a kept-alive
// connection before any answer: a server may close an idle connection just
// as the client reuses it (llama-server's keep-alive ends after 5 s, or
// unannounced), and a client library would retry that, not fail the
// request. The retry stays inside the request's timings; res.Retried
// records it. net/http retries this itself only for idempotent methods.
func (c *client) send(req *http.Request, res *Result) (*http.Response, error) {
	var reused bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	resp, err := c.http.Do(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err == nil || !reused || req.Context().Err() != nil || req.GetBody == nil {
		return resp, err
	}
	body, gerr := req.GetBody()
	if gerr != nil {
		return nil, err
	}
	again := req.Clone(req.Context())
	again.Body = body
	res.Retried = true
	return c.http.Do(again)
}

// httpError describes a non-200 answer by its status and, if the body is an
// OpenAI error ({"error":{"message":...}}), its message, or else the start
// of the body.
func httpError(resp *http.Response) string {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := errorMessage(raw)
	if msg == "" {
		msg = strings.TrimSpace(string(raw))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
	}
	if msg == "" {
		return "HTTP " + resp.Status
	}
	return fmt.Sprintf("HTTP %s: %s", resp.Status, msg)
}

// errorMessage extracts the message of an OpenAI error body; it also takes
// {"error": "text"} and FastAPI's {"detail": "text"}, which some servers
// send instead.
func errorMessage(raw []byte) string {
	var body struct {
		Error  json.RawMessage `json:"error"`
		Detail any             `json:"detail"`
	}
	if json.Unmarshal(raw, &body) != nil {
		return ""
	}
	var e struct {
		Message string `json:"message"`
	}
	var s string
	switch {
	case json.Unmarshal(body.Error, &e) == nil && e.Message != "":
		return e.Message
	case json.Unmarshal(body.Error, &s) == nil && s != "":
		return s
	case body.Detail != nil:
		if d, ok := body.Detail.(string); ok {
			return d
		}
		b, _ := json.Marshal(body.Detail)
		return string(b)
	}
	return ""
}
