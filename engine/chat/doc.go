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
package chat
