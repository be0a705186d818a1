package server

import (
	"context"
	"encoding/json"
	"errors"
	"math"

	"github.com/kiln-llm/kiln/control"
	"github.com/kiln-llm/kiln/engine/grammar"
	"github.com/kiln-llm/kiln/server/openai"
)

var negInf = float32(math.Inf(-1))

// checkStructured validates the shape of response_format, guided_*, tools
// and tool_choice (the grammar itself is compiled by the endpoint, see
// outputGrammar and planTools). It runs for both endpoints, from
// parseSampling.
func checkStructured(p *openai.Sampling) error {
	if rf := p.ResponseFormat; rf != nil {
		switch rf.Type {
		case "text", "json_object":
		case "json_schema":
			if isNull(rf.JSONSchema) {
				return badParam("response_format.json_schema", "response_format.json_schema: required when type is json_schema")
			}
		default:
			return badParam("response_format.type", "response_format.type: %q; want text, json_object or json_schema", rf.Type)
		}
	}
	var set []string
	if rf := p.ResponseFormat; rf != nil && rf.Type != "text" {
		set = append(set, "response_format")
	}
	for _, g := range []struct {
		name string
		raw  json.RawMessage
	}{{"guided_json", p.GuidedJSON}, {"guided_regex", p.GuidedRegex}, {"guided_choice", p.GuidedChoice},
		{"guided_grammar", p.GuidedGrammar}, {"grammar", p.Grammar}} {
		if !isNull(g.raw) {
			set = append(set, g.name)
		}
	}
	if len(set) > 1 {
		return badParam(set[1], "%s and %s: at most one of response_format (json_object or json_schema), guided_json, guided_regex, guided_choice, guided_grammar and grammar may be given", set[0], set[1])
	}
	for i, t := range p.Tools {
		if t.Type != "function" {
			return badParam("tools", "tools[%d].type: %q; want function", i, t.Type)
		}
		if t.Function == nil || t.Function.Name == "" {
			return badParam("tools", "tools[%d].function.name: required", i)
		}
		if prm := t.Function.Parameters; !isNull(prm) {
			var obj map[string]json.RawMessage
			if json.Unmarshal(prm, &obj) != nil {
				return badParam("tools", "tools[%d].function.parameters: wrong type: want a JSON schema object", i)
			}
		}
	}
	_, _, err := parseToolChoice(p.ToolChoice)
	return err
}

// outputGrammar compiles the request's response_format or guided_* into a
// grammar; nil when the output is free text. An unsupported schema keyword
// is a 400 naming it, with the parameter it came from; a grammar over a
// limit is a 400 grammar_too_complex naming the limit.
func (s *Server) outputGrammar(p *openai.Sampling) (*grammar.Grammar, error) {
	if rf := p.ResponseFormat; rf != nil {
		switch rf.Type {
		case "json_object":
			return s.jsonObjectGrammar()
		case "json_schema":
			var js struct {
				Name   string          `json:"name"`
				Schema json.RawMessage `json:"schema"`
				Strict *bool           `json:"strict"`
			}
			if err := json.Unmarshal(rf.JSONSchema, &js); err != nil {
				return nil, badParam("response_format", "response_format.json_schema: wrong type: want an object with name, schema and strict")
			}
			if isNull(js.Schema) {
				// OpenAI's schema is optional: then any JSON object.
				return s.jsonObjectGrammar()
			}
			return s.compileGrammar("schema", js.Schema, "response_format", "response_format.json_schema.schema",
				func(ctx context.Context, l grammar.Limits) (*grammar.Grammar, error) {
					return l.CompileSchema(ctx, js.Schema)
				})
		}
	}
	if !isNull(p.GuidedJSON) {
		schema := []byte(p.GuidedJSON)
		var text string
		if json.Unmarshal(p.GuidedJSON, &text) == nil {
			schema = []byte(text) // vLLM takes the schema as a string too
		}
		return s.compileGrammar("schema", schema, "guided_json", "guided_json",
			func(ctx context.Context, l grammar.Limits) (*grammar.Grammar, error) {
				return l.CompileSchema(ctx, schema)
			})
	}
	if !isNull(p.GuidedRegex) {
		var re string
		if json.Unmarshal(p.GuidedRegex, &re) != nil {
			return nil, badParam("guided_regex", "guided_regex: wrong type: want a string")
		}
		return s.compileGrammar("regex", []byte(re), "guided_regex", "guided_regex",
			func(ctx context.Context, l grammar.Limits) (*grammar.Grammar, error) { return l.Regex(ctx, re) })
	}
	if !isNull(p.GuidedChoice) {
		var opts []string
		if json.Unmarshal(p.GuidedChoice, &opts) != nil {
			return nil, badParam("guided_choice", "guided_choice: wrong type: want an array of strings")
		}
		if len(opts) == 0 {
			return nil, badParam("guided_choice", "guided_choice: empty; want at least one string")
		}
		return s.compileGrammar("choice", p.GuidedChoice, "guided_choice", "guided_choice",
			func(ctx context.Context, l grammar.Limits) (*grammar.Grammar, error) { return l.Choice(ctx, opts) })
	}
	for _, g := range []struct {
		name    string
		raw     json.RawMessage
		compile func(grammar.Limits, context.Context, string) (*grammar.Grammar, error)
	}{
		{"guided_grammar", p.GuidedGrammar, grammar.Limits.EBNF},
		{"grammar", p.Grammar, grammar.Limits.GBNF},
	} {
		if isNull(g.raw) {
			continue
		}
		var src string
		if json.Unmarshal(g.raw, &src) != nil {
			return nil, badParam(g.name, "%s: wrong type: want a string", g.name)
		}
		if src == "" {
			return nil, badParam(g.name, "%s: empty; want a grammar", g.name)
		}
		return s.compileGrammar(g.name, []byte(src), g.name, g.name,
			func(ctx context.Context, l grammar.Limits) (*grammar.Grammar, error) { return g.compile(l, ctx, src) })
	}
	return nil, nil
}

// jsonObjectGrammar is the grammar of any JSON object, kept in the cache
// like the others so that its generations share their masks.
func (s *Server) jsonObjectGrammar() (*grammar.Grammar, error) {
	return s.compileGrammar("json_object", nil, "response_format", "response_format",
		func(context.Context, grammar.Limits) (*grammar.Grammar, error) { return grammar.JSONObject(), nil })
}

// compileGrammar returns the cached grammar of (kind, src), compiling it
// with compile under the server's grammar limits, off the step loop, until
// the request's timeout or the server's shutdown. Errors are 400s for
// param, the message starting with what: a *grammar.LimitError is code
// grammar_too_complex, a *grammar.SchemaError with a keyword
// unsupported_schema_keyword.
func (s *Server) compileGrammar(kind string, src []byte, param, what string, compile func(context.Context, grammar.Limits) (*grammar.Grammar, error)) (*grammar.Grammar, error) {
	ctx, cancel := s.requestContext()
	defer cancel()
	g, err := s.grammars.get(ctx, kind, src, compile)
	if err == nil {
		return g, nil
	}
	var le *grammar.LimitError
	var se *grammar.SchemaError
	var ge *grammar.GrammarError
	switch {
	case errors.As(err, &ge):
		e := badParam(param, "%s: %v", what, ge)
		e.Code = "invalid_grammar"
		return nil, e
	case errors.As(err, &le):
		e := badParam(param, "%s: %v", what, le)
		e.Code = "grammar_too_complex"
		return nil, e
	case errors.As(err, &se):
		e := badParam(param, "%s: %v", what, se)
		if se.Keyword != "" {
			e.Code = "unsupported_schema_keyword"
		}
		return nil, e
	case isContextError(err):
		return nil, finishError(ctx, s.base, nil)
	}
	return nil, badParam(param, "%s: %v", what, err)
}

// constrain gives every request of reqs its own constraint over g (nil g:
// none). Each sequence needs its own grammar position, so requests expanded
// from one template (n, best_of, several prompts) must not share one.
func (s *Server) constrain(reqs []control.Request, m *Model, g *grammar.Grammar) {
	if g == nil {
		return
	}
	mk := s.grammars.masker(m.Tokenizer)
	for i := range reqs {
		reqs[i].Constraint = newGrammarConstraint(mk, g, reqs[i].StopTokens)
	}
}

// errConflict is the 400 for a constrained output combined with a forced
// tool call, which is a grammar of its own.
func errConflict(param string) error {
	return badParam(param, "%s: cannot be combined with tool_choice required or a named function, which constrains the output to a tool call", param)
}

// describeGrammarParam names the parameter that set a grammar, for errors.
func describeGrammarParam(p *openai.Sampling) string {
	switch {
	case p.ResponseFormat != nil && p.ResponseFormat.Type != "text":
		return "response_format"
	case !isNull(p.GuidedJSON):
		return "guided_json"
	case !isNull(p.GuidedRegex):
		return "guided_regex"
	case !isNull(p.GuidedChoice):
		return "guided_choice"
	case !isNull(p.GuidedGrammar):
		return "guided_grammar"
	case !isNull(p.Grammar):
		return "grammar"
	}
	return ""
}
