package grammar

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// maxUnroll bounds minItems/maxItems: bounded repetition is unrolled into
// NFA states, so a huge bound would be a huge grammar.
const maxUnroll = 1024

// annotations are schema keywords that do not constrain the text.
var annotations = []string{
	"title", "description", "$schema", "$id", "$comment", "default",
	"examples", "deprecated", "readOnly", "writeOnly", "$defs", "definitions",
	"discriminator", "contentEncoding", "contentMediaType",
}

// supported are the keywords the compiler enforces; any other keyword is an
// error rather than silently ignored, since a schema half-enforced is output
// that fails the caller's validation later.
var supported = []string{
	"type", "properties", "required", "additionalProperties", "enum", "const",
	"items", "minItems", "maxItems", "minLength", "maxLength", "anyOf", "oneOf", "allOf", "$ref", "nullable",
	"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "pattern", "format",
	"prefixItems", "additionalItems", "uniqueItems", "patternProperties", "minProperties", "maxProperties",
	"propertyNames",
}

// SchemaError is a schema the compiler cannot enforce. Keyword names the
// offending keyword when there is one; the server answers 400 with Error().
type SchemaError struct {
	Path    string // JSON pointer of the sub-schema, "#" for the root
	Keyword string
	Msg     string
}

func (e *SchemaError) Error() string {
	if e.Keyword != "" {
		return fmt.Sprintf("json schema %s: keyword %q: %s", e.Path, e.Keyword, e.Msg)
	}
	return fmt.Sprintf("json schema %s: %s", e.Path, e.Msg)
}

// compiler turns a parsed schema into rules of one builder.
type compiler struct {
	b         *builder
	root      any
	refs      map[string]int32
	depth     int // sub-schemas open, see maxSchemaDepth
	valueRule int32
	numRule   int32
	intRule   int32
	// merging holds the $refs whose targets are merged into the schema
	// being compiled (allOf, keywords beside $ref); followed collects the
	// ones a merge follows.
	merging  map[string]bool
	followed []string
	// patterns holds the rule of each pattern and format met, by source.
	patterns map[string]patternRule
}

// newCompiler starts a compiler on b; one builder may hold several
// schemas, each with its own compiler (its own root for $refs).
func newCompiler(b *builder) *compiler {
	return &compiler{b: b, refs: map[string]int32{}, valueRule: -1, numRule: -1, intRule: -1}
}

// CompileSchema compiles a JSON schema into a Grammar of the compact JSON
// texts valid for it, under DefaultLimits. Objects are written with their
// properties in schema order, optional ones possibly left out, and no other
// properties.
func CompileSchema(schema []byte) (*Grammar, error) {
	return DefaultLimits().CompileSchema(context.Background(), schema)
}

// CompileSchema compiles a JSON schema under l, stopping early when ctx is
// done. Over a limit the error is a *LimitError; a schema it cannot enforce
// is a *SchemaError.
func (l Limits) CompileSchema(ctx context.Context, schema []byte) (*Grammar, error) {
	v, err := parseOrdered(schema)
	if err != nil {
		return nil, &SchemaError{Path: "#", Msg: "not valid JSON: " + err.Error()}
	}
	c := newCompiler(newBuilder(ctx, l))
	c.root = v
	e, err := c.schema(v, "#")
	if err != nil {
		return nil, err
	}
	r := c.b.newRule()
	c.b.define(r, e)
	return c.b.finish(r)
}

// JSONObject returns the grammar of response_format {"type":"json_object"}:
// any JSON object.
func JSONObject() *Grammar {
	c := newCompiler(newBuilder(nil, DefaultLimits()))
	r := c.b.newRule()
	c.b.define(r, c.anyObject(ref(c.anyValue())))
	g, err := c.b.finish(r)
	if err != nil {
		panic("grammar: the JSON object grammar does not compile: " + err.Error())
	}
	return g
}

// Choice returns the grammar of exactly one of options (vLLM's
// guided_choice) under DefaultLimits; the texts are matched byte for byte.
func Choice(options []string) (*Grammar, error) {
	return DefaultLimits().Choice(context.Background(), options)
}

// Choice compiles guided_choice under l.
func (l Limits) Choice(ctx context.Context, options []string) (*Grammar, error) {
	if len(options) == 0 {
		return nil, fmt.Errorf("grammar: guided_choice needs at least one option")
	}
	b := newBuilder(ctx, l)
	opts := make([][]byte, len(options))
	for i, o := range options {
		opts[i] = []byte(o)
	}
	r := b.newRule()
	b.define(r, litAlt(opts))
	return b.finish(r)
}

// maxSchemaDepth bounds the nesting of sub-schemas (properties, items,
// anyOf, ... and $refs to definitions not yet compiled): deeper schemas are
// refused before the compiler recurses that deep.
const maxSchemaDepth = 4 * maxStack

func (c *compiler) schema(v any, path string) (*expr, error) {
	if c.depth++; c.depth > maxSchemaDepth {
		return nil, &LimitError{Limit: "nesting_depth", Value: maxSchemaDepth,
			Msg: fmt.Sprintf("sub-schemas nest more than %d deep at %s", maxSchemaDepth, truncate(path, 200))}
	}
	defer func() { c.depth-- }()
	switch s := v.(type) {
	case bool:
		if s {
			return ref(c.anyValue()), nil
		}
		return nil, &SchemaError{Path: path, Msg: "schema false matches nothing"}
	case *oobject:
		return c.object(s, path)
	}
	return nil, &SchemaError{Path: path, Msg: "a schema must be an object or a boolean"}
}

func (c *compiler) object(s *oobject, path string) (*expr, error) {
	for _, k := range s.keys {
		if !slices.Contains(supported, k) && !slices.Contains(annotations, k) {
			return nil, &SchemaError{Path: path, Keyword: k, Msg: "not supported"}
		}
	}
	e, err := c.constraint(s, path)
	if err != nil {
		return nil, err
	}
	if n, ok := s.get("nullable"); ok && n == true {
		e = alt(e, lit("null"))
	}
	return e, nil
}

// constraint compiles the keywords of s other than nullable.
func (c *compiler) constraint(s *oobject, path string) (*expr, error) {
	if _, ok := s.get("allOf"); ok {
		if v, _ := s.get("allOf"); !hasConstraints(s, "allOf") {
			if subs, ok := v.([]any); ok && len(subs) == 1 {
				return c.schema(subs[0], path+"/allOf/0") // keeps a $ref a shared rule
			}
		}
		return c.mergedSchema(s, path)
	}
	if r, ok := s.get("$ref"); ok {
		if hasConstraints(s, "$ref") {
			// Keywords beside a $ref constrain too: their conjunction.
			return c.mergedSchema(s, path)
		}
		return c.ref(r, path)
	}
	if v, ok := s.get("const"); ok {
		if !ofTypes(s, v) {
			return nil, &SchemaError{Path: path, Keyword: "const", Msg: "is not of the schema's type"}
		}
		return litBytes(appendCompact(nil, v)), nil
	}
	if v, ok := s.get("enum"); ok {
		vals, ok := v.([]any)
		if !ok || len(vals) == 0 {
			return nil, &SchemaError{Path: path, Keyword: "enum", Msg: "must be a non-empty array"}
		}
		var opts [][]byte
		for _, x := range vals {
			if ofTypes(s, x) { // values of another type are not valid
				opts = append(opts, appendCompact(nil, x))
			}
		}
		if len(opts) == 0 {
			return nil, &SchemaError{Path: path, Keyword: "enum", Msg: "has no value of the schema's type"}
		}
		return litAlt(opts), nil
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		v, ok := s.get(k)
		if !ok {
			continue
		}
		subs, ok := v.([]any)
		if !ok || len(subs) == 0 {
			return nil, &SchemaError{Path: path, Keyword: k, Msg: "must be a non-empty array"}
		}
		// Keywords beside anyOf apply to every branch.
		rest := without(s, k)
		if hasConstraints(rest, "nullable") {
			subs = slices.Clone(subs) // the parsed schema stays as it was
			for i, sub := range subs {
				subs[i] = &oobject{keys: []string{"allOf"}, vals: map[string]any{"allOf": []any{sub, without(rest, "nullable")}}}
			}
		}
		// oneOf is enforced as anyOf: texts matching two branches are rare
		// for the schemas people write, and excluding them needs intersection.
		var alts []*expr
		for i, sub := range subs {
			e, err := c.schema(sub, fmt.Sprintf("%s/%s/%d", path, k, i))
			if err != nil {
				return nil, err
			}
			alts = append(alts, e)
		}
		return alt(alts...), nil
	}
	types, err := typesOf(s, path)
	if err != nil {
		return nil, err
	}
	var alts []*expr
	for _, t := range types {
		e, err := c.typed(s, t, path)
		if err != nil {
			return nil, err
		}
		alts = append(alts, e)
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return alt(alts...), nil
}

// ofTypes reports whether the JSON value v is of a type s's "type" allows
// (any, when s has none).
func ofTypes(s *oobject, v any) bool {
	t, ok := s.get("type")
	if !ok {
		return true
	}
	for _, x := range typeList(t) {
		switch x {
		case "null":
			if v == nil {
				return true
			}
		case "boolean":
			if _, ok := v.(bool); ok {
				return true
			}
		case "string":
			if _, ok := v.(string); ok {
				return true
			}
		case "number":
			if _, ok := v.(json.Number); ok {
				return true
			}
		case "integer":
			if n, ok := v.(json.Number); ok {
				if f, err := n.Float64(); err == nil && f == math.Trunc(f) {
					return true
				}
			}
		case "object":
			if _, ok := v.(*oobject); ok {
				return true
			}
		case "array":
			if _, ok := v.([]any); ok {
				return true
			}
		}
	}
	return false
}

// typesOf returns the types s allows: its "type", or the one its other
// keywords imply, or every type.
func typesOf(s *oobject, path string) ([]string, error) {
	v, ok := s.get("type")
	if !ok {
		// Without a type, keywords of a type constrain only values of
		// that type; the grammar writes only the types whose keywords
		// appear, which is stricter but never admits an invalid value.
		var implied []string
		for _, k := range []struct{ t, keys string }{
			{"object", "properties additionalProperties patternProperties minProperties maxProperties required propertyNames"},
			{"array", "items prefixItems minItems maxItems uniqueItems additionalItems"},
			{"string", "pattern format minLength maxLength"},
			{"number", "minimum maximum exclusiveMinimum exclusiveMaximum multipleOf"},
		} {
			for _, key := range strings.Fields(k.keys) {
				if _, ok := s.get(key); ok {
					implied = append(implied, k.t)
					break
				}
			}
		}
		if len(implied) == 0 {
			return []string{"any"}, nil
		}
		return implied, nil
	}
	var types []string
	switch t := v.(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			str, ok := x.(string)
			if !ok {
				return nil, &SchemaError{Path: path, Keyword: "type", Msg: "must be a string or an array of strings"}
			}
			types = append(types, str)
		}
	default:
		return nil, &SchemaError{Path: path, Keyword: "type", Msg: "must be a string or an array of strings"}
	}
	if len(types) == 0 {
		return nil, &SchemaError{Path: path, Keyword: "type", Msg: "must not be empty"}
	}
	return types, nil
}

func (c *compiler) typed(s *oobject, t, path string) (*expr, error) {
	switch t {
	case "any":
		return ref(c.anyValue()), nil
	case "string":
		_, hasPattern := s.get("pattern")
		_, hasFormat := s.get("format")
		if hasPattern || hasFormat {
			return c.patternString(s, path)
		}
		return c.stringType(s, path)
	case "number":
		return c.numberSchema(s, path)
	case "integer":
		return c.integerSchema(s, path)
	case "boolean":
		return alt(lit("true"), lit("false")), nil
	case "null":
		return lit("null"), nil
	case "object":
		return c.objectType(s, path)
	case "array":
		return c.arrayType(s, path)
	}
	return nil, &SchemaError{Path: path, Keyword: "type", Msg: fmt.Sprintf("unknown type %q", t)}
}

// stringType is the shared string rule, or with minLength/maxLength a
// string of that many characters (code points; an escape is one, so a
// surrogate pair written as two escapes counts two).
func (c *compiler) stringType(s *oobject, path string) (*expr, error) {
	_, hasMin := s.get("minLength")
	_, hasMax := s.get("maxLength")
	if !hasMin && !hasMax {
		return ref(strRule), nil
	}
	lo, err := count(s, "minLength", 0, path)
	if err != nil {
		return nil, err
	}
	hi, err := count(s, "maxLength", -1, path)
	if err != nil {
		return nil, err
	}
	if hi >= 0 && hi < lo {
		return nil, &SchemaError{Path: path, Keyword: "maxLength", Msg: "is below minLength"}
	}
	return &expr{kind: eStr, lo: lo, hi: hi}, nil
}

// count reads a non-negative integer keyword, def when absent; it may be at
// most maxUnroll, since bounds are unrolled into states.
func count(s *oobject, k string, def int, path string) (int, error) {
	return countUpTo(s, k, def, maxUnroll, path)
}

// countUpTo reads a non-negative integer keyword of at most limit.
func countUpTo(s *oobject, k string, def, limit int, path string) (int, error) {
	v, ok := s.get(k)
	if !ok {
		return def, nil
	}
	n, ok := v.(json.Number)
	var i int64
	var err error
	if ok {
		i, err = n.Int64()
	}
	if !ok || err != nil || i < 0 {
		return 0, &SchemaError{Path: path, Keyword: k, Msg: "must be a non-negative integer"}
	}
	if i > int64(limit) {
		return 0, &SchemaError{Path: path, Keyword: k, Msg: fmt.Sprintf("above the supported %d", limit)}
	}
	return int(i), nil
}

// ref compiles a $ref to a definition of the root schema as a rule, made
// once per target so that recursive definitions are recursive rules.
func (c *compiler) ref(v any, path string) (*expr, error) {
	target, ok := v.(string)
	if !ok {
		return nil, &SchemaError{Path: path, Keyword: "$ref", Msg: "must be a string"}
	}
	if r, ok := c.refs[target]; ok {
		return ref(r), nil
	}
	sub, err := c.resolve(target, path)
	if err != nil {
		return nil, err
	}
	r := c.b.newRule()
	c.refs[target] = r
	if c.b.names == nil {
		c.b.names = map[int32]string{}
	}
	c.b.names[r] = target
	e, err := c.schema(sub, target)
	if err != nil {
		return nil, err
	}
	c.b.define(r, e)
	return ref(r), nil
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func unescapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

// truncate shortens s to at most n bytes for a message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
