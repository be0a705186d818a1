package chat

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
)

// Template is a parsed chat template, safe for concurrent Render calls.
type Template struct {
	name string
	tpl  *exec.Template
	reg  *orderRegistry
	// objectArgs: the template wants tool call arguments as a dict (args.go).
	objectArgs bool
}

// RenderOptions are the variables HF transformers' apply_chat_template passes
// to a template.
type RenderOptions struct {
	Messages []Message
	// Tools are OpenAI-style tool definitions ({"type": "function",
	// "function": {...}}): structs, maps or json.RawMessage. Raw JSON and
	// structs keep their key order in tojson; Go maps come out sorted.
	Tools []any
	// Documents are RAG documents for templates that take them.
	Documents           []any
	AddGenerationPrompt bool
	BOSToken, EOSToken  string
	// ExtraVars are further template variables (chat_template_kwargs in
	// vLLM), e.g. date_string, tools_in_user_message, enable_thinking.
	ExtraVars map[string]any
	// Now is the clock of strftime_now; time.Now when nil.
	Now func() time.Time
}

// ParseError reports a template that does not parse.
type ParseError struct {
	Template string
	Err      error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("chat template %q does not parse: %v", e.Template, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// RaiseError is raised by the template itself through raise_exception, usually
// because the conversation is not one the model supports (e.g. roles not
// alternating). The server reports it as a client error.
type RaiseError struct {
	Template string
	Message  string
}

func (e *RaiseError) Error() string {
	return fmt.Sprintf("chat template %q: %s", e.Template, e.Message)
}

// RenderError is any other failure while rendering.
type RenderError struct {
	Template string
	Err      error
}

func (e *RenderError) Error() string {
	return fmt.Sprintf("chat template %q failed to render: %v", e.Template, e.Err)
}

func (e *RenderError) Unwrap() error { return e.Err }

// Parse compiles a Jinja2 chat template configured as HF transformers does:
// trim_blocks and lstrip_blocks on, a single trailing newline of the source
// dropped (Jinja's keep_trailing_newline=False).
func Parse(name, source string) (tpl *Template, err error) {
	defer func() { // the engine's parser may panic on malformed input
		if r := recover(); r != nil {
			tpl, err = nil, &ParseError{Template: name, Err: fmt.Errorf("%v", r)}
		}
	}()
	source = protectInlineBlocks(strings.TrimSuffix(source, "\n"))
	cfg := config.New()
	cfg.TrimBlocks = true
	cfg.LeftStripBlocks = true
	// The memory loader wants absolute paths; the name is only a label.
	id := "/" + strings.TrimLeft(name, "/")
	loader, err := loaders.NewMemoryLoader(map[string]string{id: source})
	if err != nil {
		return nil, &ParseError{Template: name, Err: err}
	}
	reg := &orderRegistry{}
	t, err := exec.NewTemplate(id, cfg, loader, newEnvironment(reg))
	if err != nil {
		// gonja quotes the whole source before the problem; keep the problem.
		msg := strings.TrimPrefix(err.Error(), "failed to parse template '"+source+"': ")
		return nil, &ParseError{Template: name, Err: errors.New(msg)}
	}
	tpl = &Template{name: name, tpl: t, reg: reg}
	tpl.objectArgs = tpl.probeObjectArguments()
	return tpl, nil
}

// Name is the name the template was parsed under.
func (t *Template) Name() string { return t.name }

// Render produces the prompt text for a conversation.
func (t *Template) Render(opts RenderOptions) (string, error) {
	return t.render(opts, t.objectArgs)
}

func (t *Template) render(opts RenderOptions, objectArgs bool) (out string, err error) {
	order := keyOrder{}
	msgs := make(pyList, len(opts.Messages))
	for i, m := range opts.Messages {
		v, err := order.messageValue(m, objectArgs)
		if err != nil {
			return "", &RenderError{Template: t.name, Err: err}
		}
		msgs[i] = v
	}
	st := &renderState{now: opts.Now}
	data := map[string]any{
		"messages":              msgs,
		"add_generation_prompt": opts.AddGenerationPrompt,
		"bos_token":             opts.BOSToken,
		"eos_token":             opts.EOSToken,
		"raise_exception":       st.raiseException,
		"strftime_now":          st.strftimeNow,
	}
	for _, k := range order.keys(opts.ExtraVars) {
		v, err := order.normalize(opts.ExtraVars[k])
		if err != nil {
			return "", &RenderError{Template: t.name, Err: fmt.Errorf("variable %q: %w", k, err)}
		}
		data[k] = v
	}
	// transformers passes tools=None and documents=None when absent; gonja
	// does not tell none from undefined, so leaving them out is the same to
	// templates (`tools is not none`, `tools is defined`).
	if opts.Tools != nil {
		v, err := order.normalize(opts.Tools)
		if err != nil {
			return "", &RenderError{Template: t.name, Err: fmt.Errorf("tools: %w", err)}
		}
		data["tools"] = v
	}
	if opts.Documents != nil {
		v, err := order.normalize(opts.Documents)
		if err != nil {
			return "", &RenderError{Template: t.name, Err: fmt.Errorf("documents: %w", err)}
		}
		data["documents"] = v
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = "", &RenderError{Template: t.name, Err: fmt.Errorf("%v", r)}
		}
	}()
	// Registered only now: from here on the order table is read-only, so
	// concurrent renders may consult it.
	t.reg.add(&order)
	defer t.reg.remove(&order)
	s, err := t.tpl.ExecuteToString(exec.NewContext(data))
	if st.raised != nil {
		return "", &RaiseError{Template: t.name, Message: *st.raised}
	}
	if err != nil {
		return "", &RenderError{Template: t.name, Err: cleanError(err)}
	}
	return s, nil
}

// cleanError keeps the engine's message but drops its generic outer wrapper.
func cleanError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "unable to execute template: ")
	return errors.New(msg)
}
