package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

func newChatCommand() *cobra.Command {
	var o chatOptions
	cmd := &cobra.Command{
		Use:   "chat [URL]",
		Short: "Chat with a served model in the console (any OpenAI-compatible server)",
		Long: `Chat with a served model in the console, like ollama run or LMDeploy's
api_client: answers stream as they are generated, the conversation is kept,
Ctrl-C stops an answer (not the program), Ctrl-D or /bye quits.

Input: Enter sends; end a line with \ to continue it, or wrap several
lines in """ ... """. Commands: /system TEXT, /set NAME VALUE (any request
parameter: temperature 0.7, max_tokens 64, seed 1, stop "\n\n", ...),
/set alone lists them, /unset NAME, /clear, /save FILE, /help, /bye.

With --session the history lives on the server (LMDeploy's
/v1/chat/interactive): each turn sends and prefills only the new message.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.url = args[0]
			}
			o.url = strings.TrimRight(o.url, "/")
			sigs := make(chan os.Signal, 1)
			signal.Notify(sigs, os.Interrupt)
			defer signal.Stop(sigs)
			c := newChatClient(o, cmd.OutOrStdout())
			return c.repl(cmd.Context(), cmd.InOrStdin(), sigs)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.url, "url", envOr("KILN_URL", "http://localhost:8000"), "server base URL ($KILN_URL)")
	fs.StringVar(&o.model, "model", "", "model name (default: the server's first model)")
	fs.BoolVar(&o.session, "session", false, "keep the history on the server (/v1/chat/interactive): only the new turn is prefilled")
	fs.StringVar(&o.apiKey, "api-key", os.Getenv("KILN_API_KEY"), "API key sent as a Bearer token ($KILN_API_KEY)")
	fs.StringVar(&o.system, "system", "", "system prompt")
	return cmd
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// chatOptions are kiln chat's flags.
type chatOptions struct {
	url, model, apiKey, system string
	session                    bool
}

// chatMessage is one turn of the transcript (also what /save writes).
type chatMessage struct {
	Role      string     `json:"role"`
	Content   string     `json:"content"`
	Stopped   bool       `json:"stopped,omitempty"` // the answer was stopped with Ctrl-C
	ToolCalls []toolCall `json:"tool_calls,omitempty"`
}

// toolCall is a function call in an answer.
type toolCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// chatClient is one console conversation.
type chatClient struct {
	chatOptions
	out       io.Writer
	http      *http.Client
	params    map[string]any // /set values, sent with every request
	history   []chatMessage
	sessionID int64
	sentSys   bool // --session: the system prompt went with the first turn
}

func newChatClient(o chatOptions, out io.Writer) *chatClient {
	return &chatClient{chatOptions: o, out: out, http: &http.Client{}, params: map[string]any{},
		sessionID: rand.Int64N(1 << 31)}
}

// repl reads messages and commands until EOF or /bye. sigs delivers
// Ctrl-C: during an answer it stops the answer; at the prompt it says how
// to quit.
func (c *chatClient) repl(ctx context.Context, in io.Reader, sigs <-chan os.Signal) error {
	if c.model == "" {
		c.model = c.firstModel(ctx)
	}
	mode := "chat completions"
	if c.session {
		mode = fmt.Sprintf("interactive session %d", c.sessionID)
	}
	fmt.Fprintf(c.out, "kiln chat: %s at %s (%s). /help for commands, Ctrl-D or /bye to quit.\n", orDash(c.model), c.url, mode)
	lines := readLines(in)
	for {
		text, ok := c.readMessage(lines, sigs)
		if !ok {
			fmt.Fprintln(c.out)
			c.endSession(ctx)
			return nil
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		if strings.HasPrefix(text, "/") && !strings.Contains(text, "\n") {
			quit, err := c.command(ctx, text)
			if err != nil {
				fmt.Fprintln(c.out, "error:", err)
			}
			if quit {
				c.endSession(ctx)
				return nil
			}
			continue
		}
		c.turn(ctx, text, sigs)
	}
}

// readLines delivers in's lines on a channel, closed at EOF.
func readLines(in io.Reader) <-chan string {
	ch := make(chan string)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			ch <- strings.TrimRight(sc.Text(), "\r")
		}
	}()
	return ch
}

// readMessage reads one message: a line; lines joined while they end in
// a backslash; or everything between two """ lines. ok is false at EOF.
func (c *chatClient) readMessage(lines <-chan string, sigs <-chan os.Signal) (string, bool) {
	var parts []string
	block := false
	prompt := ">>> "
	for {
		fmt.Fprint(c.out, prompt)
		var line string
		select {
		case l, ok := <-lines:
			if !ok {
				return "", false
			}
			line = l
		case <-sigs:
			fmt.Fprintln(c.out, "\n(Ctrl-D or /bye quits)")
			parts, block, prompt = nil, false, ">>> "
			continue
		}
		switch {
		case !block && len(parts) == 0 && strings.HasPrefix(strings.TrimSpace(line), `"""`):
			rest := strings.TrimPrefix(strings.TrimSpace(line), `"""`)
			if before, found := strings.CutSuffix(rest, `"""`); found && rest != "" {
				return before, true // """one line"""
			}
			block = true
			if rest != "" {
				parts = append(parts, rest)
			}
		case block:
			if before, found := strings.CutSuffix(strings.TrimRight(line, " "), `"""`); found {
				if before != "" {
					parts = append(parts, before)
				}
				return strings.Join(parts, "\n"), true
			}
			parts = append(parts, line)
		case strings.HasSuffix(line, `\`):
			parts = append(parts, strings.TrimSuffix(line, `\`))
		default:
			return strings.Join(append(parts, line), "\n"), true
		}
		prompt = "... "
	}
}

// command runs a /command; quit reports /bye.
func (c *chatClient) command(ctx context.Context, line string) (quit bool, err error) {
	name, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case "/bye", "/exit", "/quit":
		return true, nil
	case "/help", "/?":
		fmt.Fprintln(c.out, `  /system TEXT      set the system prompt (/system alone shows it)
  /set NAME VALUE   set a request parameter (temperature 0.7, max_tokens 64, stop "END", ...)
  /set              list the parameters set
  /unset NAME       remove a parameter
  /clear            forget the conversation (and end the server's session)
  /save FILE        write the conversation as JSON
  /bye              quit (or Ctrl-D); Ctrl-C stops an answer
  """ ... """       a message of several lines (or end lines with \)`)
	case "/system":
		if arg == "" {
			fmt.Fprintf(c.out, "system prompt: %q\n", c.system)
			return false, nil
		}
		if c.session && c.sentSys {
			c.endSession(ctx)
			c.history, c.sentSys = nil, false
			fmt.Fprintln(c.out, "(the session restarts with the new system prompt)")
		}
		c.system = arg
		fmt.Fprintln(c.out, "system prompt set")
	case "/set":
		if arg == "" {
			keys := make([]string, 0, len(c.params))
			for k := range c.params {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				b, _ := json.Marshal(c.params[k])
				fmt.Fprintf(c.out, "  %s = %s\n", k, b)
			}
			return false, nil
		}
		k, v, ok := strings.Cut(arg, " ")
		if !ok || strings.TrimSpace(v) == "" {
			return false, errors.New("usage: /set NAME VALUE")
		}
		c.params[k] = parseValue(strings.TrimSpace(v))
		b, _ := json.Marshal(c.params[k])
		fmt.Fprintf(c.out, "set %s = %s\n", k, b)
		if _, ok := interactiveParam(k); c.session && !ok {
			fmt.Fprintf(c.out, "note: /v1/chat/interactive has no %s; it is not sent in this --session chat\n", k)
		}
	case "/unset":
		delete(c.params, arg)
		fmt.Fprintf(c.out, "unset %s\n", arg)
	case "/clear":
		c.endSession(ctx)
		c.history, c.sentSys = nil, false
		fmt.Fprintln(c.out, "conversation cleared")
	case "/save":
		if arg == "" {
			return false, errors.New("usage: /save FILE")
		}
		b, _ := json.MarshalIndent(map[string]any{"url": c.url, "model": c.model, "system": c.system, "params": c.params, "messages": c.history}, "", "  ")
		if err := os.WriteFile(arg, append(b, '\n'), 0o644); err != nil {
			return false, fmt.Errorf("save: %w", err)
		}
		fmt.Fprintf(c.out, "saved %d messages to %s\n", len(c.history), arg)
	default:
		return false, fmt.Errorf("unknown command %s (/help lists them)", name)
	}
	return false, nil
}

// parseValue reads a /set value: JSON (numbers, true, "quoted", [lists])
// when it parses, else the text itself.
func parseValue(s string) any {
	var v any
	if json.Unmarshal([]byte(s), &v) == nil {
		return v
	}
	return s
}

// turn sends one user message and streams the answer; Ctrl-C cancels it,
// keeping what arrived (marked stopped).
func (c *chatClient) turn(ctx context.Context, text string, sigs <-chan os.Signal) {
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			close(stopped)
			cancel()
		case <-actx.Done():
		}
	}()
	c.history = append(c.history, chatMessage{Role: "user", Content: text})
	start := time.Now()
	ans, st, err := c.stream(actx, text)
	fmt.Fprintln(c.out)
	select {
	case <-stopped:
		ans.Stopped = true
		fmt.Fprintln(c.out, "(stopped)")
		err = nil
	default:
	}
	if err != nil {
		c.history = c.history[:len(c.history)-1] // the turn did not happen
		fmt.Fprintln(c.out, "error:", err)
		return
	}
	c.history = append(c.history, ans)
	fmt.Fprintln(c.out, st.line(time.Since(start)))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// firstModel is the server's first model, "" if it lists none.
func (c *chatClient) firstModel(ctx context.Context) string {
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := c.getJSON(ctx, "/v1/models", &list); err != nil || len(list.Data) == 0 {
		if err != nil {
			fmt.Fprintln(c.out, "warning: listing models:", err)
		}
		return ""
	}
	return list.Data[0].ID
}

// answerStats are what the line after an answer reports.
type answerStats struct {
	tokens, history, input int
	ttft                   time.Duration
	decode                 time.Duration // first token to last
	finish                 string
}

func (s answerStats) line(total time.Duration) string {
	parts := []string{strconv.Itoa(s.tokens) + " tokens"}
	if s.tokens > 1 && s.decode > 0 {
		parts = append(parts, fmt.Sprintf("%.1f tok/s", float64(s.tokens-1)/s.decode.Seconds()))
	}
	if s.ttft > 0 {
		parts = append(parts, "TTFT "+s.ttft.Round(time.Millisecond).String())
	}
	if s.history > 0 || s.input > 0 {
		parts = append(parts, fmt.Sprintf("prefilled %d new tokens after %d of history", s.input, s.history))
	}
	if s.finish != "" {
		parts = append(parts, s.finish)
	}
	return "[" + strings.Join(parts, " · ") + "]"
}
