// Package toolcall turns a model's generated text into OpenAI tool calls.
//
// Models announce tool calls in their own dialects; a Parser understands one,
// selected by the name vLLM's --tool-call-parser uses (see Names):
//
//	llama3_json  optional <|python_tag|>, then {"name": ..., "parameters": {...}},
//	             several separated by ';'. A bare '{' opens a call only at the
//	             start of the output or right after a call; <|python_tag|> anywhere.
//	hermes       <tool_call>{"name": ..., "arguments": {...}}</tool_call>, several
//	             allowed, text before them is content. An unterminated last
//	             block is still a call if it holds one complete call (as vLLM).
//	qwen2.5      the same blocks as Qwen2.5 emits them (newline-padded JSON).
//	mistral      [TOOL_CALLS][{"name": ..., "arguments": {...}}, ...] and the
//	             newer [TOOL_CALLS]name{...} / [TOOL_CALLS]name[ARGS]{...}.
//	             Its IDs are 9 alphanumerics, because Mistral's chat templates
//	             reject any other tool-call id when the history is rendered back.
//	pythonic     [get_weather(city="Paris"), other(x=1)] at the start of the
//	             output; keyword arguments are Python literals (str, int, float,
//	             True/False/None, list, tuple, dict) and are converted to JSON.
//
// Every dialect accepts "arguments" or "parameters", given as an object, as a
// string holding a JSON object (some fine-tunes do that), or absent/null ({}).
// Arguments always come out as compact JSON object text with the model's key
// order kept. Other IDs are "call_" + 24 alphanumerics, as OpenAI's.
//
// Both Parse and Stream run the same segmenter (machine.go), which only ever
// decides on a piece of text once no later text can change the decision. That
// is what makes streaming safe: a held-back possible marker is released as
// content only when it turns out not to be one, a call is emitted only once it
// is complete and valid (so a malformed call is never shown as a tool call and
// never needs retracting), and the concatenated stream equals Parse exactly.
// The price is that a call's arguments arrive in one fragment, right after the
// delta carrying its index, id and name, rather than token by token.
//
// Malformed calls (truncated JSON, wrong types, a missing closing tag with
// nothing parseable after it, garbage after a marker) degrade to content: the
// text of the failed block is passed through verbatim. Whitespace at the start
// of the output, between calls and after the last call is dropped, so an
// answer made only of calls has empty Content; other text is kept verbatim.
//
// The markers <|python_tag|>, [TOOL_CALLS] and [ARGS] are special tokens:
// the text handed to a parser must be detokenized with special tokens kept,
// or these calls are invisible (the end-of-turn token itself is not needed).
//
// A Stream rescans the text it holds back on every Push. Held text is one
// call in progress (an unterminated block or unbalanced '{' is held to the
// end of generation), so this costs little next to a decode step.
package toolcall
