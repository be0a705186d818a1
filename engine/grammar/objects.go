package grammar

import (
	"fmt"
	"unicode/utf8"
)

// objectType compiles an object schema. Known properties come first, in
// schema order; an additionalProperties schema beside them adds members
// after them whose keys are none of the known ones (and hold no escapes, so
// that no spelling of a known key slips through); patternProperties (one
// pattern, without properties) gives the keys of the members.
func (c *compiler) objectType(s *oobject, path string) (*expr, error) {
	pv, hasProps := s.get("properties")
	if rv, ok := s.get("required"); ok && !hasProps {
		// Required names without properties: properties of any value.
		list, _ := rv.([]any)
		props := &oobject{vals: map[string]any{}}
		for _, x := range list {
			if name, ok := x.(string); ok && props.vals[name] == nil {
				props.keys = append(props.keys, name)
				props.vals[name] = true
			}
		}
		if len(props.keys) > 0 {
			pv, hasProps = props, true
		}
	}
	ap, hasAP := s.get("additionalProperties")
	pp, hasPP := s.get("patternProperties")
	if hasPP {
		if hasProps {
			return nil, &SchemaError{Path: path, Keyword: "patternProperties", Msg: "supported only without properties"}
		}
		return c.patternObject(s, pp, path)
	}
	keyExpr := ref(strRule)
	if pn, ok := s.get("propertyNames"); ok {
		if hasProps || hasPP {
			return nil, &SchemaError{Path: path, Keyword: "propertyNames", Msg: "supported only for objects without properties or patternProperties"}
		}
		// The keys are strings: the names' schema with type string.
		str := &oobject{keys: []string{"type"}, vals: map[string]any{"type": "string"}}
		both := &oobject{keys: []string{"allOf"}, vals: map[string]any{"allOf": []any{pn, str}}}
		e, err := c.schema(both, path+"/propertyNames")
		if err != nil {
			return nil, err
		}
		keyExpr = e
	}
	if !hasProps {
		var val *expr
		switch {
		case !hasAP || ap == true:
			val = ref(c.anyValue())
		case ap == false:
			if err := c.checkPropertyCount(s, 0, 0, false, path); err != nil {
				return nil, err
			}
			return lit("{}"), nil
		default:
			e, err := c.schema(ap, path+"/additionalProperties")
			if err != nil {
				return nil, err
			}
			val = e
		}
		return c.dictOf(s, seq(keyExpr, lit(":"), val), path)
	}
	props, ok := pv.(*oobject)
	if !ok {
		return nil, &SchemaError{Path: path, Keyword: "properties", Msg: "must be an object"}
	}
	required := map[string]bool{}
	if rv, ok := s.get("required"); ok {
		list, ok := rv.([]any)
		if !ok {
			return nil, &SchemaError{Path: path, Keyword: "required", Msg: "must be an array of strings"}
		}
		for _, x := range list {
			name, ok := x.(string)
			if !ok {
				return nil, &SchemaError{Path: path, Keyword: "required", Msg: "must be an array of strings"}
			}
			if _, ok := props.get(name); !ok {
				return nil, &SchemaError{Path: path, Keyword: "required", Msg: fmt.Sprintf("property %q is not in properties", name)}
			}
			required[name] = true
		}
	}
	var members []objProp
	for _, name := range props.keys {
		val, err := c.schema(props.vals[name], path+"/properties/"+escapePointer(name))
		if err != nil {
			return nil, err
		}
		key := append(appendString(nil, name), ':')
		members = append(members, objProp{key: key, val: val, required: required[name]})
	}
	e := object(members)
	extraAllowed := false
	if hasAP && ap != false && ap != true {
		val, err := c.schema(ap, path+"/additionalProperties")
		if err != nil {
			return nil, err
		}
		r := c.b.newRule() // built twice by compileObj: a call, not the states
		c.b.define(r, seq(otherKey(props.keys), lit(":"), val))
		e.subs = []*expr{ref(r)}
		extraAllowed = true
	}
	if err := c.checkPropertyCount(s, len(required), len(members), extraAllowed, path); err != nil {
		return nil, err
	}
	return seq(lit("{"), e, lit("}")), nil
}

// checkPropertyCount accepts minProperties and maxProperties when every
// object the grammar writes meets them anyway (it writes between nreq and
// nall members, more when extra members are allowed); counting optional
// members is not built, so other bounds are refused.
func (c *compiler) checkPropertyCount(s *oobject, nreq, nall int, extra bool, path string) error {
	if _, ok := s.get("minProperties"); ok {
		lo, err := count(s, "minProperties", 0, path)
		if err != nil {
			return err
		}
		if lo > nreq {
			return &SchemaError{Path: path, Keyword: "minProperties", Msg: fmt.Sprintf("enforced only when the required properties (%d) meet it", nreq)}
		}
	}
	if _, ok := s.get("maxProperties"); ok {
		hi, err := count(s, "maxProperties", 0, path)
		if err != nil {
			return err
		}
		if extra || hi < nall {
			return &SchemaError{Path: path, Keyword: "maxProperties", Msg: fmt.Sprintf("enforced only when the object cannot have more (it may have %d)", nall)}
		}
	}
	return nil
}

// dictOf is an object of any number of members: between minProperties
// (at most 1: members may repeat a key, which a decoder counts once) and
// maxProperties.
func (c *compiler) dictOf(s *oobject, member *expr, path string) (*expr, error) {
	lo, err := count(s, "minProperties", 0, path)
	if err != nil {
		return nil, err
	}
	hi, err := count(s, "maxProperties", -1, path)
	if err != nil {
		return nil, err
	}
	if lo > 1 {
		return nil, &SchemaError{Path: path, Keyword: "minProperties", Msg: "above 1 is enforced only for objects with properties"}
	}
	if hi >= 0 && hi < lo {
		return nil, &SchemaError{Path: path, Keyword: "maxProperties", Msg: "is below minProperties"}
	}
	r := c.b.newRule()
	c.b.define(r, member)
	return seq(lit("{"), c.listOf(ref(r), lo, hi), lit("}")), nil
}

// patternObject is an object whose members' keys match the one pattern of
// patternProperties (members with other keys are never written, which
// additionalProperties allows in any case).
func (c *compiler) patternObject(s *oobject, pp any, path string) (*expr, error) {
	o, ok := pp.(*oobject)
	if !ok || len(o.keys) != 1 {
		return nil, &SchemaError{Path: path, Keyword: "patternProperties", Msg: "supported with exactly one pattern"}
	}
	pat := o.keys[0]
	key, err := c.patternString(&oobject{keys: []string{"pattern"}, vals: map[string]any{"pattern": pat}}, path+"/patternProperties")
	if err != nil {
		return nil, err
	}
	val, err := c.schema(o.vals[pat], path+"/patternProperties/"+escapePointer(pat))
	if err != nil {
		return nil, err
	}
	return c.dictOf(s, seq(key, lit(":"), val), path)
}

// otherKey is a JSON string that is none of keys. It walks a trie of the
// keys' UTF-8 bytes, written literally (no escapes), and leaves it at the
// first ASCII character that is no child (or a non-ASCII one where no key
// goes on with one); once off the trie the decoded key differs from every
// known key, so the rest is any string body. Escapes are not written on
// the trie, so the part of a key after a character it would need to escape
// is never reached, and a key cannot be spelled some other way there.
func otherKey(keys []string) *expr {
	type node struct {
		kids     map[byte]*node
		order    []byte
		end, mid bool // mid: inside a multi-byte character
		nonASCII bool // some child is a non-ASCII byte
	}
	root := &node{kids: map[byte]*node{}}
	for _, k := range keys {
		n := root
		complete := true
		for i := 0; i < len(k); {
			if k[i] < 0x20 || k[i] == '"' || k[i] == '\\' {
				complete = false // written with an escape: the trie stops here
				break
			}
			_, size := utf8.DecodeRuneInString(k[i:])
			for j := 0; j < size; j++ {
				c := k[i+j]
				nx, found := n.kids[c]
				if !found {
					nx = &node{kids: map[byte]*node{}, mid: j < size-1}
					n.kids[c] = nx
					n.order = append(n.order, c)
					if c >= 0x80 {
						n.nonASCII = true
					}
				}
				n = nx
			}
			i += size
		}
		if complete {
			n.end = true
		}
	}
	free := &expr{kind: eStrRest}
	var walk func(n *node) *expr
	walk = func(n *node) *expr {
		var alts []*expr
		if !n.mid {
			if !n.end {
				alts = append(alts, lit(`"`))
			}
			var off []byteRange
			for c := 0x20; c < 0x80; c++ {
				if c == '"' || c == '\\' || n.kids[byte(c)] != nil {
					continue
				}
				if l := len(off); l > 0 && int(off[l-1].hi)+1 == c {
					off[l-1].hi = byte(c)
				} else {
					off = append(off, one(byte(c)))
				}
			}
			offChar := class(off...)
			if !n.nonASCII {
				offChar = alt(offChar, utf8Multi())
			}
			alts = append(alts, seq(offChar, free))
		}
		for _, c := range n.order {
			alts = append(alts, seq(litBytes([]byte{c}), walk(n.kids[c])))
		}
		return alt(alts...)
	}
	return seq(lit(`"`), walk(root))
}
