package grammar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxMergeDepth bounds the $refs and allOfs followed while merging.
const maxMergeDepth = 64

// hasConstraints reports whether s has a keyword that constrains the text
// besides the ones named.
func hasConstraints(s *oobject, except ...string) bool {
	for _, k := range s.keys {
		if !slices.Contains(annotations, k) && !slices.Contains(except, k) {
			return true
		}
	}
	return false
}

// allOfSchema merges s's allOf sub-schemas (following $refs) and s's own
// keywords into one schema: properties and required are unions (a
// property in several is the allOf of its schemas), lower bounds take the
// largest, upper bounds the smallest, types and enums intersect, and any
// other keyword must agree where it appears twice. What cannot be merged is
// a *SchemaError naming the keyword.
func (c *compiler) allOfSchema(s *oobject, path string) (*oobject, error) {
	var parts []*oobject
	if err := c.flatten(s, path, 0, &parts); err != nil {
		return nil, err
	}
	m := &oobject{vals: map[string]any{}}
	for _, p := range parts {
		for _, k := range p.keys {
			if err := mergeKey(m, k, p.vals[k], path); err != nil {
				return nil, err
			}
		}
	}
	// additionalProperties of one part constrains the properties the
	// other parts add: false excludes them, a schema applies to them too.
	all, _ := m.get("properties")
	allProps, _ := all.(*oobject)
	for _, p := range parts {
		ap, ok := p.get("additionalProperties")
		if !ok || ap == true || allProps == nil {
			continue
		}
		own, _ := p.get("properties")
		ownProps, _ := own.(*oobject)
		for _, name := range allProps.keys {
			if ownProps != nil && ownProps.vals[name] != nil {
				continue
			}
			if ap == false {
				return nil, &SchemaError{Path: path, Keyword: "allOf", Msg: fmt.Sprintf("additionalProperties false in one sub-schema excludes property %q of another", name)}
			}
			allProps.vals[name] = &oobject{keys: []string{"allOf"}, vals: map[string]any{"allOf": []any{allProps.vals[name], ap}}}
		}
	}
	return m, nil
}

// mergedSchema compiles the conjunction of s's allOf, $ref and sibling
// keywords. The $refs it follows stay marked while the merged schema
// compiles, so that a recursive one is an error rather than an endless
// unfolding.
func (c *compiler) mergedSchema(s *oobject, path string) (*expr, error) {
	start := len(c.followed)
	m, err := c.allOfSchema(s, path)
	if err != nil {
		return nil, err
	}
	targets := slices.Clone(c.followed[start:])
	c.followed = c.followed[:start]
	if c.merging == nil {
		c.merging = map[string]bool{}
	}
	var marked []string
	for _, t := range targets {
		if !c.merging[t] {
			c.merging[t] = true
			marked = append(marked, t)
		}
	}
	defer func() {
		for _, t := range marked {
			delete(c.merging, t)
		}
	}()
	return c.schema(m, path)
}

// flatten appends the schemas s is the conjunction of: s without allOf and
// $ref, the targets of its $ref and its allOf members, recursively.
func (c *compiler) flatten(s *oobject, path string, depth int, out *[]*oobject) error {
	if depth > maxMergeDepth {
		return &SchemaError{Path: path, Keyword: "allOf", Msg: fmt.Sprintf("$refs and allOfs nest more than %d deep", maxMergeDepth)}
	}
	rest := without(without(s, "allOf"), "$ref")
	*out = append(*out, rest)
	if r, ok := s.get("$ref"); ok {
		target, ok := r.(string)
		if !ok {
			return &SchemaError{Path: path, Keyword: "$ref", Msg: "must be a string"}
		}
		if c.merging[target] {
			return &SchemaError{Path: path, Keyword: "$ref", Msg: fmt.Sprintf("%q is merged into itself (a recursive $ref beside other keywords, in allOf or in anyOf with sibling keywords)", truncate(target, 200))}
		}
		sub, err := c.resolve(target, path)
		if err != nil {
			return err
		}
		c.followed = append(c.followed, target)
		if err := c.flattenAny(sub, target, depth+1, out); err != nil {
			return err
		}
	}
	if v, ok := s.get("allOf"); ok {
		subs, ok := v.([]any)
		if !ok || len(subs) == 0 {
			return &SchemaError{Path: path, Keyword: "allOf", Msg: "must be a non-empty array"}
		}
		for i, sub := range subs {
			if err := c.flattenAny(sub, fmt.Sprintf("%s/allOf/%d", path, i), depth+1, out); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *compiler) flattenAny(v any, path string, depth int, out *[]*oobject) error {
	switch s := v.(type) {
	case bool:
		if !s {
			return &SchemaError{Path: path, Msg: "schema false matches nothing"}
		}
		return nil
	case *oobject:
		return c.flatten(s, path, depth, out)
	}
	return &SchemaError{Path: path, Msg: "a schema must be an object or a boolean"}
}

var lowerBounds = []string{"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"}
var upperBounds = []string{"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"}

// mergeKey merges keyword k with value v into m.
func mergeKey(m *oobject, k string, v any, path string) error {
	old, had := m.get(k)
	set := func(x any) {
		if !had {
			m.keys = append(m.keys, k)
		}
		m.vals[k] = x
	}
	if !had {
		set(v)
		return nil
	}
	switch {
	case slices.Contains(annotations, k):
		return nil
	case k == "properties":
		a, ok1 := old.(*oobject)
		b, ok2 := v.(*oobject)
		if !ok1 || !ok2 {
			return &SchemaError{Path: path, Keyword: k, Msg: "must be an object"}
		}
		out := &oobject{keys: slices.Clone(a.keys), vals: map[string]any{}}
		for name, x := range a.vals {
			out.vals[name] = x
		}
		for _, name := range b.keys {
			if x, ok := out.vals[name]; ok {
				out.vals[name] = &oobject{keys: []string{"allOf"}, vals: map[string]any{"allOf": []any{x, b.vals[name]}}}
				continue
			}
			out.keys = append(out.keys, name)
			out.vals[name] = b.vals[name]
		}
		set(out)
	case k == "required":
		a, _ := old.([]any)
		b, _ := v.([]any)
		out := slices.Clone(a)
		for _, x := range b {
			if !slices.Contains(out, x) {
				out = append(out, x)
			}
		}
		set(out)
	case slices.Contains(lowerBounds, k), slices.Contains(upperBounds, k):
		a, ok1 := numberOf(old)
		b, ok2 := numberOf(v)
		if !ok1 || !ok2 {
			if sameJSON(old, v) {
				return nil
			}
			return &SchemaError{Path: path, Keyword: k, Msg: "allOf: differs between sub-schemas and is not a number"}
		}
		if (b > a) == slices.Contains(lowerBounds, k) {
			set(v)
		}
	case k == "type":
		t := intersectTypes(typeList(old), typeList(v))
		if len(t) == 0 {
			return &SchemaError{Path: path, Keyword: "allOf", Msg: "the sub-schemas' types have nothing in common"}
		}
		if len(t) == 1 {
			set(t[0])
		} else {
			set(t)
		}
	case k == "enum":
		a, _ := old.([]any)
		b, _ := v.([]any)
		var out []any
		for _, x := range a {
			if slices.ContainsFunc(b, func(y any) bool { return sameJSON(x, y) }) {
				out = append(out, x)
			}
		}
		if len(out) == 0 {
			return &SchemaError{Path: path, Keyword: "allOf", Msg: "the sub-schemas' enums have no value in common"}
		}
		set(out)
	default:
		if !sameJSON(old, v) {
			return &SchemaError{Path: path, Keyword: k, Msg: "allOf: the sub-schemas give it different values, which cannot be merged"}
		}
	}
	return nil
}

func numberOf(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return f, err == nil
}

func sameJSON(a, b any) bool { return bytes.Equal(appendCompact(nil, a), appendCompact(nil, b)) }

func typeList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// intersectTypes intersects two type lists (integer is within number).
func intersectTypes(a, b []any) []any {
	var out []any
	has := func(l []any, t any) bool { return slices.Contains(l, t) }
	for _, t := range a {
		switch {
		case has(b, t):
			out = append(out, t)
		case t == "integer" && has(b, "number"), t == "number" && has(b, "integer"):
			if !has(out, "integer") {
				out = append(out, "integer")
			}
		}
	}
	return out
}

// resolve returns the sub-schema a $ref names: a JSON pointer into the
// root schema ("#", "#/$defs/x", "#/properties/a/items", ...).
func (c *compiler) resolve(target, path string) (any, error) {
	if target != "#" && !strings.HasPrefix(target, "#/") {
		return nil, &SchemaError{Path: path, Keyword: "$ref", Msg: fmt.Sprintf("only references within the schema (#/...) are supported, not %q", truncate(target, 200))}
	}
	cur := c.root
	if target == "#" {
		return cur, nil
	}
	for _, seg := range strings.Split(target[2:], "/") {
		seg = unescapePointer(seg)
		switch x := cur.(type) {
		case *oobject:
			v, ok := x.get(seg)
			if !ok {
				return nil, &SchemaError{Path: path, Keyword: "$ref", Msg: fmt.Sprintf("%q is not defined", truncate(target, 200))}
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, &SchemaError{Path: path, Keyword: "$ref", Msg: fmt.Sprintf("%q is not defined", truncate(target, 200))}
			}
			cur = x[i]
		default:
			return nil, &SchemaError{Path: path, Keyword: "$ref", Msg: fmt.Sprintf("%q is not defined", truncate(target, 200))}
		}
	}
	return cur, nil
}
