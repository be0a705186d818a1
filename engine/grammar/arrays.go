package grammar

import (
	"fmt"
	"slices"
)

// maxUniqueOptions bounds the item values uniqueItems is enforced over.
const maxUniqueOptions = 64

// arrayType compiles an array schema: prefixItems (or draft 7's items
// array) for the first items, items (or additionalItems) for the rest,
// minItems/maxItems, and uniqueItems over a small finite item domain.
func (c *compiler) arrayType(s *oobject, path string) (*expr, error) {
	minItems, err := count(s, "minItems", 0, path)
	if err != nil {
		return nil, err
	}
	maxItems, err := count(s, "maxItems", -1, path)
	if err != nil {
		return nil, err
	}
	if maxItems >= 0 && maxItems < minItems {
		return nil, &SchemaError{Path: path, Keyword: "maxItems", Msg: "is below minItems"}
	}
	var prefix []any
	restKey := "items"
	if pv, ok := s.get("prefixItems"); ok {
		if prefix, ok = pv.([]any); !ok {
			return nil, &SchemaError{Path: path, Keyword: "prefixItems", Msg: "must be an array of schemas"}
		}
	} else if iv, ok := s.get("items"); ok {
		if l, isList := iv.([]any); isList { // draft 7 tuples
			prefix, restKey = l, "additionalItems"
		}
	}
	if u, ok := s.get("uniqueItems"); ok && u == true && !(maxItems >= 0 && maxItems <= 1) {
		if len(prefix) > 0 {
			return nil, &SchemaError{Path: path, Keyword: "uniqueItems", Msg: "not supported with prefixItems"}
		}
		return c.uniqueArray(s, minItems, maxItems, path)
	}
	rest := ref(c.anyValue())
	restAllowed := true
	if rv, ok := s.get(restKey); ok {
		switch rv {
		case false:
			restAllowed = false
		case true:
		default:
			e, err := c.schema(rv, path+"/"+restKey)
			if err != nil {
				return nil, err
			}
			// A rule, so that unrolled bounds repeat a call, not the item's states.
			r := c.b.newRule()
			c.b.define(r, e)
			rest = ref(r)
		}
	}
	if len(prefix) == 0 {
		if !restAllowed {
			if minItems > 0 {
				return nil, &SchemaError{Path: path, Keyword: "minItems", Msg: "no item is allowed"}
			}
			return lit("[]"), nil
		}
		return c.arrayOf(rest, minItems, maxItems), nil
	}
	if len(prefix) > maxUnroll {
		return nil, &SchemaError{Path: path, Keyword: "prefixItems", Msg: fmt.Sprintf("more than %d items", maxUnroll)}
	}
	elems := make([]*expr, len(prefix))
	for i, p := range prefix {
		e, err := c.schema(p, fmt.Sprintf("%s/prefixItems/%d", path, i))
		if err != nil {
			return nil, err
		}
		elems[i] = e
	}
	if !restAllowed && minItems > len(prefix) {
		return nil, &SchemaError{Path: path, Keyword: "minItems", Msg: "above the number of prefixItems, and no other item is allowed"}
	}
	// tail(i): the items from index i on, i already written.
	var tail func(i int) *expr
	tail = func(i int) *expr {
		if maxItems >= 0 && i >= maxItems {
			return emptyExpr()
		}
		sep := lit(",")
		if i == 0 {
			sep = emptyExpr()
		}
		if i >= len(prefix) {
			if !restAllowed {
				return emptyExpr()
			}
			if i == 0 {
				return c.listOf(rest, minItems, maxItems)
			}
			// i items written: between max(0, min-i) and max-i more.
			lo, hi := max(0, minItems-i), -1
			if maxItems >= 0 {
				hi = maxItems - i
			}
			if hi == 0 {
				return emptyExpr()
			}
			if lo == 0 {
				return opt(seq(sep, c.listOf(rest, 1, hi)))
			}
			return seq(sep, c.listOf(rest, lo, hi))
		}
		next := seq(sep, elems[i], tail(i+1))
		if i >= minItems {
			return opt(next)
		}
		return next
	}
	return seq(lit("["), tail(0), lit("]")), nil
}

// uniqueArray is an array of distinct items drawn from a small finite
// domain (the items' enum or const, or booleans), written in the domain's
// order: each value at most once, so every array is unique. It holds
// minItems of at most 1 and maxItems of at least the domain's size; other
// bounds, and item schemas of infinite domains, are refused.
func (c *compiler) uniqueArray(s *oobject, minItems, maxItems int, path string) (*expr, error) {
	iv, _ := s.get("items")
	var opts [][]byte
	if o, ok := iv.(*oobject); ok {
		if r, ok := o.get("$ref"); ok && !hasConstraints(o, "$ref") {
			if t, ok := r.(string); ok {
				if sub, err := c.resolve(t, path); err == nil {
					o, _ = sub.(*oobject)
				}
			}
		}
		if o != nil {
			if v, ok := o.get("enum"); ok {
				vals, _ := v.([]any)
				for _, x := range vals {
					b := appendCompact(nil, x)
					if !slices.ContainsFunc(opts, func(y []byte) bool { return string(y) == string(b) }) {
						opts = append(opts, b)
					}
				}
			} else if v, ok := o.get("const"); ok {
				opts = append(opts, appendCompact(nil, v))
			} else if t, _ := o.get("type"); t == "boolean" {
				opts = [][]byte{[]byte("true"), []byte("false")}
			}
		}
	}
	if len(opts) == 0 || len(opts) > maxUniqueOptions {
		return nil, &SchemaError{Path: path, Keyword: "uniqueItems", Msg: fmt.Sprintf("enforced only for items of an enum, const or boolean (at most %d values)", maxUniqueOptions)}
	}
	if minItems > 1 || maxItems >= 0 && maxItems < len(opts) {
		return nil, &SchemaError{Path: path, Keyword: "uniqueItems", Msg: "enforced only with minItems at most 1 and maxItems at least the number of item values"}
	}
	if minItems > len(opts) {
		return nil, &SchemaError{Path: path, Keyword: "minItems", Msg: "more than the distinct item values"}
	}
	members := make([]objProp, len(opts))
	for i, o := range opts {
		members[i] = objProp{key: o, val: emptyExpr()}
	}
	if minItems == 0 {
		return seq(lit("["), object(members), lit("]")), nil
	}
	// At least one: rule j is one or more of opts[j:], in order.
	next := int32(-1)
	for j := len(opts) - 1; j >= 0; j-- {
		r := c.b.newRule()
		first := litBytes(opts[j])
		if next >= 0 {
			c.b.define(r, alt(seq(first, opt(seq(lit(","), ref(next)))), ref(next)))
		} else {
			c.b.define(r, first)
		}
		next = r
	}
	return seq(lit("["), ref(next), lit("]")), nil
}
