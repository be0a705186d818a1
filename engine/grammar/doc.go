// Package grammar constrains generation to a formal language: a JSON schema
// (response_format json_schema, guided_json, tool arguments), any JSON object
// (response_format json_object), one of a list of strings (guided_choice), a
// regular expression (guided_regex) or a GBNF / EBNF grammar (grammar,
// guided_grammar).
//
// A Grammar is a recursive transition network: one small byte-level NFA per
// rule, rules calling rules, so nested and recursive ($ref) schemas share
// their rules. A State is the set of live call stacks after the bytes
// consumed so far; sets rather than a single stack because anyOf branches
// may agree on a prefix. A Masker turns a State into the set of vocabulary
// tokens that may come next by walking a byte trie of the token pieces with
// the automaton, dropping a subtree at the first byte the grammar refuses.
// The Masker depends only on the vocabulary, so a server builds one per
// model and shares it; Grammars are immutable (but for a cache of the
// thread sets, transitions and masks their generations met, a lazy DFA
// that makes repeated masks a copy) and may be cached per schema; a State
// belongs to one generation.
//
// Limits. Schemas and patterns come from clients, so what one grammar may
// cost is bounded (Limits, a *LimitError past a bound, which a server
// answers 400 grammar_too_complex):
//
//   - memory: every state, edge, call and closure item is charged against
//     Limits.MaxBytes as it is built, and an expression (counted
//     repetition unrolls x{n,m} into copies of x) is charged before it is
//     built, from its size as a DAG, so (.{0,1000}){1000} is refused in
//     microseconds; an object's members are built once, so nesting is
//     linear. Compilation also stops when its context is done.
//   - depth: a call stack holds at most 128 frames. A grammar whose calls
//     nest deeper outside recursion (300 nested arrays, a chain of 200
//     $refs) is refused at compile time, as are schemas nested over 512
//     sub-schemas deep. A recursive grammar is held to the bound at run
//     time: a thread is kept only if its text can still be completed
//     within it (need, depth.go), so the bound never leaves a generation
//     stuck before a complete text.
//   - work: one step (a Mask over the vocabulary, or an Advance) does at
//     most Limits.StepWork units of work, each (state, stack) expanded
//     once per step; past the budget it stops with a *LimitError. A
//     grammar whose first step alone is over it is refused at compile
//     time; a live generation over it ends with the error.
//
// Use:
//
//	g, err := grammar.DefaultLimits().CompileSchema(ctx, schema) // *SchemaError, *LimitError -> HTTP 400
//	st := masker.NewState(g)
//	for {
//		err := st.Mask(allowed)   // allowed: grammar.NewBitset(vocab); *LimitError: end the request
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
// Supported schema keywords (README.md has the table): type, enum, const,
// nullable; properties, required, additionalProperties (also a schema beside
// properties: extra members after the known ones, keys none of them),
// patternProperties (one, without properties), minProperties and
// maxProperties where every written object meets them; items, prefixItems
// (and draft 7's items array, additionalItems), minItems, maxItems,
// uniqueItems over small finite item domains; minLength, maxLength,
// pattern (unanchored unless ^/$), format (formats.go); minimum, maximum,
// exclusiveMinimum, exclusiveMaximum (integers exact, numbers a sound
// approximation, numeric.go), multipleOf for integers; anyOf, oneOf (as
// anyOf), allOf (merged, allof.go), $ref to any JSON pointer of the
// document, recursion included; plus annotations (title, description,
// default, examples, discriminator, ...). Any other keyword, and any
// combination that is not enforced, is a *SchemaError naming the keyword.
//
// GBNF and EBNF (gbnf.go) compile llama.cpp grammars and Lark-style
// grammars into the same network; their syntax errors are *GrammarError
// with a line and column.
package grammar
