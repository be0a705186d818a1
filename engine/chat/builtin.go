package chat

import (
	"fmt"
	"slices"
	"strings"
)

// builtinSources are short templates for models whose GGUF lacks one, chosen
// with --chat-template NAME. Each renders plain conversations exactly as the
// named family's official HF template does (testdata and builtin_test.go show
// the strings); tool use needs the model's own template.
var builtinSources = map[string]string{
	// ChatML as in tiny-qwen2's metadata and llama.cpp's "chatml" format.
	// With tools it is kept short in the Hermes way (small models have
	// small contexts): the tools go into the system turn, an assistant's
	// calls are <tool_call> blocks, a tool's answer is a "tool" turn.
	"chatml": `{% if tools %}{{ '<|im_start|>system\n' }}{% if messages[0]['role'] == 'system' %}{{ messages[0]['content'] + '\n\n' }}{% endif %}` +
		`{{ 'Tools:\n<tools>\n' }}{% for tool in tools %}{{ tool | tojson }}{{ '\n' }}{% endfor %}` +
		`{{ '</tools>\nTo call one, reply <tool_call>\n{"name": <name>, "arguments": <arguments object>}\n</tool_call><|im_end|>\n' }}{% endif %}` +
		`{% for message in messages %}{% if not (tools and loop.first and message['role'] == 'system') %}` +
		`{{'<|im_start|>' + message['role'] + '\n'}}{% if message['content'] %}{{ message['content'] }}{% endif %}` +
		`{% if message['tool_calls'] is defined %}{% for call in message['tool_calls'] %}{% if not loop.first or message['content'] %}{{ '\n' }}{% endif %}` +
		`{{ '<tool_call>\n{"name": ' }}{{ call['function']['name'] | tojson }}{{ ', "arguments": ' }}` +
		`{% if call['function']['arguments'] is string %}{{ call['function']['arguments'] }}{% else %}{{ call['function']['arguments'] | tojson }}{% endif %}{{ '}\n</tool_call>' }}{% endfor %}{% endif %}` +
		`{{'<|im_end|>' + '\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`,

	// Llama-2-chat's HF template: the system prompt goes into the first
	// [INST] block inside <<SYS>> markers.
	"llama2": `{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}` +
		`{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}` +
		`{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}` +
		`{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}`,

	// Meta-Llama-3-8B-Instruct's template (Llama 3.1+ add a dated system
	// block and tools; use the GGUF's own template for those).
	"llama3": `{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}`,

	// Mistral-7B-Instruct-v0.2/v0.3 (no tools): the system prompt is
	// prepended to the first user turn.
	"mistral": `{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content'] %}{%- set loop_messages = messages[1:] %}{%- else %}{%- set loop_messages = messages %}{%- endif %}` +
		`{{- bos_token }}{%- for message in loop_messages %}{%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}{%- endif %}` +
		`{%- if message['role'] == 'user' %}{%- if loop.first and system_message is defined %}{{- ' [INST] ' + system_message + '\n\n' + message['content'] + ' [/INST]' }}{%- else %}{{- ' [INST] ' + message['content'] + ' [/INST]' }}{%- endif %}` +
		`{%- elif message['role'] == 'assistant' %}{{- ' ' + message['content'] + eos_token }}{%- else %}{{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}{%- endif %}{%- endfor %}`,

	// Qwen2-Instruct: ChatML with a default system prompt.
	"qwen2": `{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`,

	// Phi-3.5-mini-instruct's template.
	"phi3": `{% for message in messages %}{% if message['role'] == 'system' and message['content'] %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}`,

	// Gemma-2-it's template: no system role, assistant is "model".
	"gemma": `{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}`,
}

// BuiltinNames lists the names Builtin accepts, sorted.
func BuiltinNames() []string {
	names := make([]string, 0, len(builtinSources))
	for n := range builtinSources {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Builtin returns the built-in template of that name (see BuiltinNames).
func Builtin(name string) (*Template, error) {
	src, ok := builtinSources[name]
	if !ok {
		return nil, fmt.Errorf("chat: no built-in template %q (have %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	return Parse(name, src)
}
