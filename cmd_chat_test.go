package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// TestChatHelperProcess is not a test: it is `kiln chat` with the
// arguments in $KILN_CHAT_ARGS (separated by newlines), run by TestChat in
// a pseudo-terminal so that Ctrl-C is a real SIGINT from a real terminal.
func TestChatHelperProcess(t *testing.T) {
	if os.Getenv("KILN_CHAT_HELPER") != "1" {
		return
	}
	root := newRootCommand()
	root.SetArgs(append([]string{"chat"}, strings.Split(os.Getenv("KILN_CHAT_ARGS"), "\n")...))
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "kiln:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// console is kiln chat running in a pseudo-terminal.
type console struct {
	t    *testing.T
	cmd  *exec.Cmd
	ptm  *os.File
	mu   sync.Mutex
	out  bytes.Buffer // everything the terminal showed, \r\n as \n
	mark int          // expect looks after this offset
	done chan error
}

func startConsole(t *testing.T, args ...string) *console {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChatHelperProcess$")
	cmd.Env = append(os.Environ(), "KILN_CHAT_HELPER=1", "KILN_CHAT_ARGS="+strings.Join(args, "\n"))
	ptm, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	if err != nil {
		t.Fatal(err)
	}
	c := &console{t: t, cmd: cmd, ptm: ptm, done: make(chan error, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptm.Read(buf)
			c.mu.Lock()
			c.out.Write(bytes.ReplaceAll(buf[:n], []byte("\r\n"), []byte("\n")))
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		ptm.Close()
		if t.Failed() {
			c.mu.Lock()
			t.Logf("terminal:\n%s", c.out.String())
			c.mu.Unlock()
		}
	})
	return c
}

func (c *console) send(s string) {
	c.t.Helper()
	if _, err := c.ptm.WriteString(s); err != nil {
		c.t.Fatal(err)
	}
}

// expect waits for s after the mark and returns the text up to and
// including it; the mark moves past it.
func (c *console) expect(s string, within time.Duration) string {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		c.mu.Lock()
		text := c.out.String()[c.mark:]
		if i := strings.Index(text, s); i >= 0 {
			c.mark += i + len(s)
			c.mu.Unlock()
			return text[:i+len(s)]
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			c.t.Fatalf("no %q within %v; after the mark:\n%s", s, within, text)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitOutput waits until n bytes follow the mark.
func (c *console) waitOutput(n int, within time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		c.mu.Lock()
		got := c.out.Len() - c.mark
		c.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("only %d bytes of output within %v", got, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitExit waits for the program to end and checks its status.
func (c *console) waitExit(within time.Duration) {
	c.t.Helper()
	select {
	case err := <-c.done:
		if err != nil {
			c.t.Fatalf("kiln chat exited with %v", err)
		}
	case <-time.After(within):
		c.t.Fatalf("kiln chat did not exit within %v", within)
	}
}

var statsLine = regexp.MustCompile(`\[(\d+) tokens[^\]]*\]`)

// TestChat drives kiln chat in a pseudo-terminal against a real kiln serve
// (behind a proxy that paces the stream, so Ctrl-C lands mid-answer): the
// answer streamed to the console is the API's answer to the same
// conversation; multi-line input, /system, /set, /save, /clear work;
// Ctrl-C stops an answer and the program goes on; /bye quits.
func TestChat(t *testing.T) {
	url := startServe(t, nil)
	proxy, aborted := throttledProxy(t, url, 20*time.Millisecond)
	c := startConsole(t, "--url", proxy)
	c.expect("kiln chat: stories260K at "+proxy+" (chat completions)", 20*time.Second)
	c.expect(">>> ", 10*time.Second)
	for _, cmd := range []struct{ in, want string }{
		{"/set temperature 0", "set temperature = 0"},
		{"/set max_tokens 16", "set max_tokens = 16"},
		{`/set stop ["\n\n\n"]`, `set stop = ["\n\n\n"]`},
		{"/system You tell stories.", "system prompt set"},
		{"/set", "max_tokens = 16"},
		{"/nope", "unknown command /nope"},
	} {
		c.send(cmd.in + "\r")
		c.expect(cmd.want, 5*time.Second)
		c.expect(">>> ", 10*time.Second)
	}

	// One turn: what the console shows is the API's answer.
	c.send("Once upon a time\r")
	c.expect("Once upon a time\n", 5*time.Second) // the echo
	shown := c.expect("tokens", 20*time.Second)
	c.expect(">>> ", 10*time.Second)
	status, body := post(t, url+"/v1/chat/completions", `{"messages": [{"role": "system", "content": "You tell stories."},
		{"role": "user", "content": "Once upon a time"}], "temperature": 0, "max_tokens": 16, "stop": ["\n\n\n"]}`)
	var want struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &want) != nil || len(want.Choices) != 1 {
		t.Fatalf("API: %d %s", status, body)
	}
	if !strings.Contains(shown, want.Choices[0].Message.Content+"\n[16 tokens") {
		t.Errorf("console showed %q; the API answers %q", shown, want.Choices[0].Message.Content)
	}

	// Multi-line input, both ways.
	c.send("\"\"\"\rline one\rline two\r\"\"\"\r")
	c.expect("tokens", 20*time.Second)
	c.expect(">>> ", 10*time.Second)
	c.send("first \\\rsecond\r")
	c.expect("... ", 5*time.Second)
	c.expect("tokens", 20*time.Second)
	c.expect(">>> ", 10*time.Second)

	// Ctrl-C stops a long answer; the program stays.
	c.send("/set max_tokens 150\r")
	c.expect(">>> ", 10*time.Second)
	c.send("/set ignore_eos true\r")
	c.expect(">>> ", 10*time.Second)
	c.send("Go on\r")
	c.expect("Go on\n", 5*time.Second)
	c.waitOutput(20, 20*time.Second) // some tokens arrive
	c.send("\x03")
	stoppedText := c.expect("(stopped)", 5*time.Second)
	c.expect(">>> ", 10*time.Second)
	if len(strings.TrimSpace(strings.TrimSuffix(stoppedText, "(stopped)"))) == 0 {
		t.Errorf("nothing streamed before Ctrl-C: %q", stoppedText)
	}
	waitUntil(t, "the proxy sees the stream closed", func() bool { return aborted.Load() >= 1 })

	// /save writes the conversation; Ctrl-C at the prompt only explains.
	file := filepath.Join(t.TempDir(), "chat.json")
	c.send("/save " + file + "\r")
	c.expect("saved 8 messages to "+file, 5*time.Second)
	var saved struct {
		System   string
		Params   map[string]any
		Messages []chatMessage
	}
	b, err := os.ReadFile(file)
	if err != nil || json.Unmarshal(b, &saved) != nil {
		t.Fatalf("saved file: %v %s", err, b)
	}
	wantUser := []string{"Once upon a time", "line one\nline two", "first \nsecond", "Go on"}
	for i, m := range saved.Messages {
		if i%2 == 0 && (m.Role != "user" || m.Content != wantUser[i/2]) {
			t.Errorf("message %d: %+v, want user %q", i, m, wantUser[i/2])
		}
		if i%2 == 1 && (m.Role != "assistant" || m.Stopped != (i == 7)) {
			t.Errorf("message %d: %+v (stopped only the last)", i, m)
		}
	}
	if saved.System != "You tell stories." || saved.Params["max_tokens"] != 150.0 {
		t.Errorf("saved system %q params %v", saved.System, saved.Params)
	}
	c.send("\x03")
	c.expect("(Ctrl-D or /bye quits)", 5*time.Second)
	c.send("/clear\r")
	c.expect("conversation cleared", 5*time.Second)
	c.send("/bye\r")
	c.waitExit(10 * time.Second)
}

// TestChatSession: with --session each turn sends only the new message to
// /v1/chat/interactive; the server reports prefilling only it after the
// kept history, and Ctrl-D ends the session (its K/V freed).
func TestChatSession(t *testing.T) {
	url := startServe(t, nil)
	proxy, _ := throttledProxy(t, url, 10*time.Millisecond)
	c := startConsole(t, "--url", proxy, "--session", "--system", "You tell stories.")
	c.expect("(interactive session ", 20*time.Second)
	c.expect(">>> ", 10*time.Second)
	c.send("/set temperature 0\r")
	c.expect(">>> ", 10*time.Second)
	c.send("/set max_tokens 8\r")
	c.expect(">>> ", 10*time.Second)
	prefill := regexp.MustCompile(`prefilled (\d+) new tokens after (\d+) of history`)
	var turns [][2]int
	for _, msg := range []string{"Hello there", "Tell me more"} {
		c.send(msg + "\r")
		line := c.expect("]", 20*time.Second)
		c.expect(">>> ", 10*time.Second)
		m := prefill.FindStringSubmatch(line)
		if m == nil || statsLine.FindString(line) == "" {
			t.Fatalf("no stats line in %q", line)
		}
		in, _ := strconv.Atoi(m[1])
		hist, _ := strconv.Atoi(m[2])
		turns = append(turns, [2]int{in, hist})
	}
	if turns[0][1] != 0 || turns[1][1] < turns[0][0]+8 || turns[1][0] >= turns[1][1] {
		t.Errorf("turns (new, history) %v: want the second turn to follow the first's %d+8 tokens of history and prefill only its own", turns, turns[0][0])
	}
	if got := metric(t, url, "kiln_sessions"); got != 1 {
		t.Errorf("sessions %v during the chat, want 1", got)
	}
	c.send("\x04") // Ctrl-D
	c.waitExit(10 * time.Second)
	if got := metric(t, url, "kiln_sessions"); got != 0 {
		t.Errorf("sessions %v after Ctrl-D, want 0", got)
	}
}

// waitUntil polls cond for up to 5 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
