package chat

import (
	"encoding/json"
	"fmt"
)

// Message is one chat turn in the OpenAI shape. The server maps its request
// types onto it; Render hands it to the template as the dict HF transformers
// would see ({"role", "content", ...}), omitting empty optional fields so that
// templates testing `message.tool_calls is defined` behave as with HF.
type Message struct {
	Role string
	// Content is a string, a []ContentPart (OpenAI's multi-part content), or
	// nil (an assistant turn that only calls tools). Other JSON-like values
	// are passed through as they are.
	Content    any
	Name       string
	ToolCalls  []ToolCall
	ToolCallID string
	// Extra holds further keys a template may read (e.g. "reasoning_content");
	// they are added after the standard ones.
	Extra map[string]any
}

// ContentPart is one element of a multi-part message content.
type ContentPart struct {
	Type     string // "text", "image_url", ...
	Text     string
	ImageURL string // for Type "image_url"
}

// ToolCall is an assistant's call of a tool, as in OpenAI's tool_calls.
type ToolCall struct {
	ID       string
	Type     string // "function" when empty
	Function FunctionCall
}

// FunctionCall names the function and its arguments. Arguments is the JSON
// string OpenAI sends, or an already-decoded value (passed as it is). A string
// holding a JSON object is decoded for templates that want a dict and kept for
// those that want a string (see args.go).
type FunctionCall struct {
	Name      string
	Arguments any
}

// toValue builds the template-side dict of m with its key order recorded.
func (o keyOrder) messageValue(m Message, objectArgs bool) (map[string]any, error) {
	content, err := o.contentValue(m.Content)
	if err != nil {
		return nil, fmt.Errorf("message %q content: %w", m.Role, err)
	}
	pairs := []any{"role", m.Role, "content", content}
	if m.Name != "" {
		pairs = append(pairs, "name", m.Name)
	}
	if len(m.ToolCalls) > 0 {
		calls := make(pyList, len(m.ToolCalls))
		for i, tc := range m.ToolCalls {
			c, err := o.toolCallValue(tc, objectArgs)
			if err != nil {
				return nil, fmt.Errorf("message %q tool call %d: %w", m.Role, i, err)
			}
			calls[i] = c
		}
		pairs = append(pairs, "tool_calls", calls)
	}
	if m.ToolCallID != "" {
		pairs = append(pairs, "tool_call_id", m.ToolCallID)
	}
	for _, k := range o.keys(m.Extra) {
		v, err := o.normalize(m.Extra[k])
		if err != nil {
			return nil, fmt.Errorf("message %q field %q: %w", m.Role, k, err)
		}
		pairs = append(pairs, k, v)
	}
	return o.newMap(pairs...), nil
}

func (o keyOrder) contentValue(c any) (any, error) {
	switch x := c.(type) {
	case nil:
		return nil, nil
	case string:
		return x, nil
	case []ContentPart:
		parts := make(pyList, len(x))
		for i, p := range x {
			switch {
			case p.Type == "image_url" || p.ImageURL != "":
				typ := p.Type
				if typ == "" {
					typ = "image_url"
				}
				parts[i] = o.newMap("type", typ, "image_url", o.newMap("url", p.ImageURL))
			default:
				typ := p.Type
				if typ == "" {
					typ = "text"
				}
				parts[i] = o.newMap("type", typ, "text", p.Text)
			}
		}
		return parts, nil
	default:
		return o.normalize(c)
	}
}

func (o keyOrder) toolCallValue(tc ToolCall, objectArgs bool) (map[string]any, error) {
	typ := tc.Type
	if typ == "" {
		typ = "function"
	}
	var args any
	switch a := tc.Function.Arguments.(type) {
	case string:
		args = a
		if !objectArgs {
			break
		}
		if v, err := o.decode([]byte(a)); err == nil {
			if _, isObj := v.(map[string]any); isObj {
				args = v
			}
		}
	case json.RawMessage:
		v, err := o.decode(a)
		if err != nil {
			return nil, fmt.Errorf("arguments: %w", err)
		}
		args = v
	default:
		v, err := o.normalize(a)
		if err != nil {
			return nil, fmt.Errorf("arguments: %w", err)
		}
		args = v
	}
	fn := o.newMap("name", tc.Function.Name, "arguments", args)
	pairs := []any{}
	if tc.ID != "" {
		pairs = append(pairs, "id", tc.ID)
	}
	pairs = append(pairs, "type", typ, "function", fn)
	return o.newMap(pairs...), nil
}
