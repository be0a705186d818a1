package grammar

import (
	"context"
	"encoding/json"
	"fmt"
)

// Tool is a function a constrained tool call may name; Parameters is its
// JSON schema (empty: any object).
type Tool struct {
	Name       string
	Parameters json.RawMessage
}

// ToolCallFormat is how a chat format writes its calls: Open, then each
// call as Prefix {"name":"<tool>","<ArgsKey>":<arguments>} Suffix, calls
// separated by Sep, then Close. Hermes writes Prefix "<tool_call>", Suffix
// "</tool_call>", Sep "\n"; Mistral Open "[TOOL_CALLS][", Sep ",", Close
// "]"; llama3_json ArgsKey "parameters", Sep ";". MaxCalls bounds the calls
// (0 or 1: exactly one), so a weak model cannot chain calls forever.
type ToolCallFormat struct {
	Open, Close    string
	Prefix, Suffix string
	Sep            string
	ArgsKey        string
	MaxCalls       int
}

// ToolCall compiles the grammar of one call (up to f.MaxCalls) of tools, for
// tool_choice "required" (every tool) or a named function (one tool). Each
// tool's schema keeps its own $defs: a $ref resolves against the tool's
// parameters, not against the wrapper, which is why the schemas are not
// simply pasted into one bigger schema.
func ToolCall(tools []Tool, f ToolCallFormat) (*Grammar, error) {
	return DefaultLimits().ToolCall(context.Background(), tools, f)
}

// ToolCall compiles a tool call grammar under l, stopping early when ctx is
// done.
func (l Limits) ToolCall(ctx context.Context, tools []Tool, f ToolCallFormat) (*Grammar, error) {
	if len(tools) == 0 {
		return nil, fmt.Errorf("grammar: a tool call needs at least one tool")
	}
	if f.ArgsKey == "" {
		f.ArgsKey = "arguments"
	}
	b := newBuilder(ctx, l)
	var calls []*expr
	for _, t := range tools {
		c := newCompiler(b)
		var args *expr
		if len(t.Parameters) == 0 {
			args = c.anyObject(ref(c.anyValue()))
		} else {
			v, err := parseOrdered(t.Parameters)
			if err != nil {
				return nil, &SchemaError{Path: "#", Msg: fmt.Sprintf("tool %q parameters are not valid JSON: %v", t.Name, err)}
			}
			c.root = v
			if args, err = c.schema(v, "#"); err != nil {
				if se, ok := err.(*SchemaError); ok {
					se.Msg = fmt.Sprintf("%s (tool %q)", se.Msg, t.Name)
				}
				return nil, err
			}
		}
		head := `{"name":` + string(appendString(nil, t.Name)) + `,` + string(appendString(nil, f.ArgsKey)) + `:`
		calls = append(calls, seq(lit(head), args, lit("}")))
	}
	one := b.newRule()
	b.define(one, seq(lit(f.Prefix), alt(calls...), lit(f.Suffix)))
	r := b.newRule()
	b.define(r, seq(lit(f.Open), ref(one), upTo(seq(lit(f.Sep), ref(one)), max(f.MaxCalls, 1)-1), lit(f.Close)))
	return b.finish(r)
}
