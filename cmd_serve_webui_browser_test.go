package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/kiln-llm/kiln/configs"
)

// findChromium is the browser for the page's test: $KILN_CHROMIUM, else
// Debian's chromium (or another Chromium/Chrome on PATH); "" when none.
func findChromium() string {
	if p := os.Getenv("KILN_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// throttledProxy forwards to upstream and paces streams, one server-sent
// event (or newline-delimited JSON line) per delay, as a larger model on a slower machine would send them (the
// tiny test model answers faster than a person can press Stop). aborted
// counts streams the client closed before their end.
func throttledProxy(t *testing.T, upstream string, delay time.Duration) (url string, aborted *atomic.Int32) {
	aborted = new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), r.Method, upstream+r.URL.RequestURI(), r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			if r.Context().Err() == nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
			}
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		ct := resp.Header.Get("Content-Type")
		sse, ndjson := strings.HasPrefix(ct, "text/event-stream"), strings.HasPrefix(ct, "application/x-ndjson")
		if !sse && !ndjson {
			_, _ = io.Copy(w, resp.Body)
			return
		}
		br := bufio.NewReader(resp.Body)
		for {
			line, err := br.ReadBytes('\n')
			if _, werr := w.Write(line); werr != nil {
				aborted.Add(1)
				return
			}
			if ndjson || string(line) == "\n" { // the end of an event
				w.(http.Flusher).Flush()
				select {
				case <-time.After(delay):
				case <-r.Context().Done():
					aborted.Add(1)
					return
				}
			}
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, aborted
}

// TestWebUIInChromium drives the chat page in headless Chromium against a
// real kiln serve: it types a prompt, watches the answer grow as tokens
// stream in, presses Stop mid-answer, gets a complete second answer with
// its tokens/s and TTFT, checks that the conversation survives a reload
// (localStorage), that Copy and Regenerate work, that a JSON schema shapes
// the answer and a forced tool call is shown as a call, and keeps
// screenshots (webui.png, webui-tools.png in $KILN_ARTIFACTS, else in the
// test's artifact directory: go test -artifacts keeps it).
// Outside CI it skips when no Chromium is installed; with CI=true it runs.
func TestWebUIInChromium(t *testing.T) {
	chrome := findChromium()
	if chrome == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but no Chromium found (apt-get install -y chromium, or set KILN_CHROMIUM)")
		}
		t.Skip("no Chromium (apt-get install -y chromium, or set KILN_CHROMIUM)")
	}
	upstream := startServe(t, func(c *configs.Config) { c.SessionLen = 2048 }) // room for tools in the prompt
	url, aborted := throttledProxy(t, upstream, 40*time.Millisecond)

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 860),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	ctx, cancel := context.WithTimeout(ctx, 150*time.Second)
	defer cancel()

	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	evalBool := func(js string) bool { t.Helper(); return evaluate[bool](ctx, t, js) }
	evalInt := func(js string) int { t.Helper(); return evaluate[int](ctx, t, js) }
	evalString := func(js string) string { t.Helper(); return evaluate[string](ctx, t, js) }
	// waitFor polls js (a boolean expression) until it is true.
	waitFor := func(what, js string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			if evalBool(js) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (%s)", what, js)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	answerLen := `(document.querySelector(".msg.assistant:last-child .content") || {textContent: ""}).textContent.length`

	run("open the page", chromedp.Navigate(url+"/"))
	waitFor("the model list", `document.getElementById("model").value === "stories260K" && document.getElementById("status").textContent === "ready"`, 60*time.Second)
	run("settings", chromedp.SetValue(chromedp.CSS("#max_tokens"), "400"), chromedp.SetValue(chromedp.CSS("#seed"), "7"),
		chromedp.SetValue(chromedp.CSS("#system"), "You tell short stories."))

	// First answer: it streams (grows while the Stop button shows), then
	// Stop ends it mid-way.
	run("type a prompt", chromedp.SendKeys(chromedp.CSS("#prompt"), "Tell me a story about a cat\r"))
	waitFor("the first token", `document.querySelector(".msg.assistant.streaming") !== null && `+answerLen+` > 0`, 20*time.Second)
	first := evalInt(answerLen)
	waitFor("more tokens", `document.querySelector(".msg.assistant.streaming") !== null && `+answerLen+` > `+strconv.Itoa(first+20), 20*time.Second)
	later := evalInt(answerLen)
	t.Logf("answer streamed: %d then %d characters", first, later)
	run("press Stop", chromedp.Click(chromedp.CSS("#stop")))
	waitFor("the stop", `document.querySelector(".msg.streaming") === null && !document.getElementById("send").hidden`, 10*time.Second)
	stats := evalString(`document.querySelector(".msg.assistant:last-child .stats").textContent`)
	if !strings.Contains(stats, "stopped") || !strings.Contains(stats, "TTFT") {
		t.Errorf("stopped answer's stats %q: want stopped and TTFT", stats)
	}
	stopped := evalInt(answerLen)
	time.Sleep(300 * time.Millisecond)
	afterStop := evalInt(answerLen)
	if afterStop != stopped {
		t.Errorf("the answer kept growing after Stop: %d then %d", stopped, afterStop)
	}
	deadline := time.Now().Add(5 * time.Second)
	for aborted.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if aborted.Load() < 1 {
		t.Error("the browser never closed the stopped stream")
	}

	// Second answer, complete: the finish reason, tokens/s and TTFT show.
	run("settings", chromedp.SetValue(chromedp.CSS("#max_tokens"), "24"))
	run("second prompt", chromedp.SendKeys(chromedp.CSS("#prompt"), "And then?\r"))
	waitFor("the second answer", `document.querySelectorAll(".msg.assistant").length === 2 && document.querySelector(".msg.streaming") === null`, 30*time.Second)
	stats = evalString(`document.querySelector(".msg.assistant:last-child .stats").textContent`)
	if !strings.Contains(stats, "24 tokens") || !strings.Contains(stats, "tok/s") || !strings.Contains(stats, "TTFT") || !strings.Contains(stats, "length") {
		t.Errorf("second answer's stats %q: want 24 tokens, tok/s, TTFT, length", stats)
	}
	if evalInt(`document.querySelectorAll(".msg .error").length`) != 0 {
		t.Errorf("error shown: %s", evalString(`document.querySelector(".msg .error").textContent`))
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv("KILN_ARTIFACTS")
	if dir == "" {
		dir = t.ArtifactDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "webui.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))

	// Copy, then Regenerate: the last answer is replaced, not added to.
	run("copy", chromedp.Click(chromedp.CSS(".msg.assistant:last-child button.copy")))
	waitFor("the copy note", `document.querySelector(".msg.assistant:last-child .footer").textContent.includes("copied")`, 5*time.Second)
	run("regenerate", chromedp.Click(chromedp.CSS(".msg.assistant:last-child button.regenerate")))
	waitFor("the regenerated answer", `document.querySelectorAll(".msg.assistant").length === 2 && document.querySelector(".msg.streaming") === null && document.querySelector(".msg.assistant:last-child .stats").textContent.includes("24 tokens")`, 30*time.Second)

	// The conversation is kept in the browser: a reload shows it again.
	run("reload", chromedp.Reload())
	waitFor("the kept conversation", `document.querySelectorAll(".msg").length === 4 && document.querySelectorAll("#conversations li").length === 1`, 10*time.Second)

	// A new chat with a JSON schema: the answer is JSON of that shape.
	run("new chat", chromedp.Click(chromedp.CSS("#new-chat")), chromedp.SetValue(chromedp.CSS("#max_tokens"), "64"),
		chromedp.SetValue(chromedp.CSS("#schema"), `{"type": "object", "properties": {"name": {"type": "string", "maxLength": 8}}, "required": ["name"]}`))
	run("schema prompt", chromedp.SendKeys(chromedp.CSS("#prompt"), "Give me a name\r"))
	waitFor("the JSON answer", `document.querySelectorAll(".msg.assistant").length === 1 && document.querySelector(".msg.streaming") === null`, 30*time.Second)
	if !evalBool(`(() => { try { const v = JSON.parse(document.querySelector(".msg.assistant .content").textContent); return typeof v.name === "string"; } catch (e) { return false; } })()`) {
		t.Errorf("schema answer is not {name}: %q", evalString(`document.querySelector(".msg.assistant .content").textContent`))
	}

	// Tools with tool_choice required: the call is shown as a call.
	setField := func(id, value string) {
		t.Helper()
		b, _ := json.Marshal(value)
		evalBool(`(() => { const e = document.getElementById("` + id + `"); e.value = ` + string(b) + `; e.dispatchEvent(new Event("change")); return true; })()`)
	}
	setField("schema", "")
	setField("tools", `[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}}, "required": ["city"]}}}]`)
	setField("tool_choice", "required")
	setField("max_tokens", "200")
	run("tool prompt", chromedp.SendKeys(chromedp.CSS("#prompt"), "Weather in Paris?\r"))
	waitFor("the tool call", `document.querySelectorAll(".msg.assistant").length === 2 && document.querySelector(".msg.streaming") === null`, 30*time.Second)
	if call := evalString(`(document.querySelector(".msg.assistant:last-child .tool-call") || {textContent: ""}).textContent`); !strings.Contains(call, "tool call: get_weather") || !strings.Contains(call, `"city"`) {
		t.Errorf("tool call shown as %q; answer %q", call, evalString(`document.querySelector(".msg.assistant:last-child").textContent`))
	}
	png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "webui-tools.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// evaluate runs js in the page and returns its value as T.
func evaluate[T any](ctx context.Context, t *testing.T, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}
