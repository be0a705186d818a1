// Package grammar constrains generation to a formal language: a JSON schema
// (response_format json_schema, guided_json, tool arguments), any JSON object
// (response_format json_object), one of a list of strings (guided_choice) or
// a regular expression (guided_regex).
//
// A Grammar is a recursive transition network: one small byte-level NFA per
// rule, rules calling rules, so nested and recursive ($ref) schemas need no
// depth limit in the grammar itself. A State is the set of live call stacks
// after the bytes consumed so far; sets rather than a single stack because
// anyOf branches may agree on a prefix. A Masker turns a State into the set
// of vocabulary tokens that may come next by walking a byte trie of the
// token pieces with the automaton, dropping a subtree at the first byte the
// grammar refuses. The Masker depends only on the vocabulary, so a server
// builds one per model and shares it; Grammars are immutable and may be
// cached per schema; a State belongs to one generation.
//
// Use:
//
//	g, err := grammar.CompileSchema(schema) // *SchemaError -> HTTP 400
//	st := masker.NewState(g)
//	for {
//		st.Mask(allowed)          // allowed: grammar.NewBitset(vocab)
//		allowed.Filter(logits)    // disallowed logits -> -Inf
//		id := sample(logits)
//		st.Advance(id)            // EOG only when st.Accepting()
//	}
//
// Output is compact JSON: no whitespace between tokens. That is still valid
// JSON, and every position with fewer choices makes the mask cheaper and
// keeps a weak model from wandering into runs of spaces. Objects carry their
// properties in schema order, optional ones possibly left out, never any
// other property (so additionalProperties is always honoured). Numbers have
// at most 15 integer and 15 fraction digits and a two-digit exponent, so
// they survive float64 and int64.
//
// Supported schema keywords: type (one or a list), properties, required,
// additionalProperties (false, true or a schema for objects without
// properties), enum, const, items, minItems, maxItems, minLength,
// maxLength, anyOf, oneOf (as anyOf), allOf with one sub-schema, $ref to
// #, #/$defs/... or #/definitions/..., nullable, plus annotations (title,
// description, default, examples, ...). Any other keyword (pattern, format,
// minimum, maximum, prefixItems, ...) is a *SchemaError naming it.
package grammar
