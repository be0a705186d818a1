package server

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/control/kvcache"
	"github.com/kiln-llm/kiln/engine/gguf"
	"github.com/kiln-llm/kiln/engine/tokenizer"
)

// storiesModel is the tiny real model whose tokenizer the tests use.
const storiesModel = "../../shared/models/stories260K.gguf"

var (
	tokOnce sync.Once
	tok     *tokenizer.Tokenizer
	tokErr  error
)

// testTokenizer is stories260K's tokenizer (SentencePiece, 512 tokens).
func testTokenizer(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	tokOnce.Do(func() {
		f, err := gguf.Open(storiesModel)
		if err != nil {
			tokErr = err
			return
		}
		tok, tokErr = tokenizer.FromGGUF(f)
	})
	if tokErr != nil {
		t.Skipf("stories260K tokenizer: %v", tokErr)
	}
	return tok
}

// fakeExec is a control.Executor without a model: the logits of a row put
// all mass on a token that depends on the row's input token, never an
// end-of-generation token, so every request runs to max_tokens; delay
// slows each step (streams that a client can abandon mid-way).
type fakeExec struct {
	vocab, blocks, blockSize, ctxLen int
	delay                            time.Duration
}

func (f *fakeExec) VocabSize() int                    { return f.vocab }
func (f *fakeExec) MaxBatchTokens() int               { return 256 }
func (f *fakeExec) ContextLen() int                   { return f.ctxLen }
func (f *fakeExec) NumBlocks() int                    { return f.blocks }
func (f *fakeExec) BlockSize() int                    { return f.blockSize }
func (f *fakeExec) CopyBlocks(c []kvcache.Copy) error { return nil }
func (f *fakeExec) Forward(s *control.Step, logits []float32) error {
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	for j, row := range s.Outputs {
		l := logits[j*f.vocab : (j+1)*f.vocab]
		for i := range l {
			l[i] = 0
		}
		in := int(s.Tokens[row])
		l[300+(in*7+3)%200] = 20 // ordinary pieces of stories260K's vocabulary
	}
	return nil
}

// testEnv is a server over a real control.Engine on a fakeExec.
type testEnv struct {
	srv    *Server
	engine *control.Engine
	model  *Model
	url    string // of an httptest server, when started
}

// newTestEnv builds a ready server; opts may set keys, CORS, limits.
func newTestEnv(t testing.TB, opts Options, delay time.Duration) *testEnv {
	t.Helper()
	tk := testTokenizer(t)
	exec := &fakeExec{vocab: tk.VocabSize(), blocks: 256, blockSize: 16, ctxLen: 512, delay: delay}
	e, err := control.New(exec, tk, control.Config{MaxNumSeqs: 8, MaxQueue: 64, PrefixCaching: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := New(opts)
	m := &Model{ID: "stories", StrictName: true, Root: storiesModel, Created: 1, ContextLen: e.Config().SessionLen, Tokenizer: tk, Backend: e}
	s.SetModel(m)
	return &testEnv{srv: s, engine: e, model: m}
}

// do sends a request through fiber's in-process test hook.
func (e *testEnv) do(t *testing.T, method, path, body string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.srv.App().Test(req, 10000)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// apiError parses an OpenAI error body, failing the test if it is not one.
func apiError(t *testing.T, b []byte) (msg, typ string, param, code *string) {
	t.Helper()
	var e struct {
		Error *struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Error == nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error body: %s", b)
	}
	return e.Error.Message, e.Error.Type, e.Error.Param, e.Error.Code
}

// sseEvents splits an event stream into its data payloads.
func sseEvents(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("not an SSE data line: %q", line)
		}
		out = append(out, data)
	}
	return out
}

// waitIdle waits until the engine runs nothing and holds no K/V blocks
// (but those of kept sessions).
func waitIdle(t *testing.T, e *control.Engine) control.Metrics {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m := e.Metrics()
		if m.Running == 0 && m.Waiting == 0 && (m.KV.UsedBlocks == 0 || m.Sessions > 0) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("engine not idle: running %d waiting %d used blocks %d", m.Running, m.Waiting, m.KV.UsedBlocks)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
