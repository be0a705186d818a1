// Package chat renders Jinja2 chat templates the way Hugging Face
// transformers' apply_chat_template does, so that a model's own template
// (GGUF tokenizer.chat_template) produces the prompt it was trained on.
//
// The Jinja engine is github.com/nikolalohinski/gonja/v2, configured like
// transformers' sandboxed environment (trim_blocks, lstrip_blocks, trailing
// newline dropped) and extended with HF's globals and filters:
// raise_exception, strftime_now, and tojson as Python's json.dumps with
// ensure_ascii=False. Go maps forget key order while Python dicts keep it, so
// every dict handed to a template has its key order recorded (keyOrder) and
// tojson and the dict methods print keys in that order.
//
// Where gonja v2.9.1 departs from Jinja in ways real templates hit, this
// package overrides it rather than forking: lists index like Python's
// (pyList), str.split/strip/replace follow Python, |items and |trim behave as
// Jinja's, lstrip_blocks applies only at the start of a line (lstrip.go),
// and {% generation %} blocks render their body. The differences that remain
// are listed, with reasons, in golden_test.go and features_test.go.
//
// Tool call arguments arrive as JSON strings; whether a template wants them
// decoded into a dict is probed once per template (args.go).
package chat
