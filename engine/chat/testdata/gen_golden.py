#!/usr/bin/env python3
"""Renders every template of ../shared/templates with Python jinja2 set up as
Hugging Face transformers does (render_jinja_template: ImmutableSandboxedEnvironment,
trim_blocks, lstrip_blocks, loopcontrols, tojson = json.dumps(ensure_ascii=False),
raise_exception, strftime_now), over a few conversations, and writes
golden.jsonl, one line per (template, conversation): the inputs in the\nformat of ../shared/testdata/chat-*.jsonl plus template, and prompt or error.

Usage: python3 gen_golden.py ../../../../shared/templates > golden.jsonl
"""
import json, os, sys
from datetime import datetime, timezone

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

NOW = datetime(2025, 2, 20, 12, 0, 0, tzinfo=timezone.utc)

def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

def strftime_now(fmt):
    return NOW.strftime(fmt)

class AssistantTracker(Extension):
    """transformers' {% generation %} block, reduced to rendering its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now

WEATHER = {"type": "function", "function": {"name": "get_current_weather",
    "description": "Get the current weather in a given location",
    "parameters": {"type": "object", "properties": {
        "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["location"]}}}

CALL = {"id": "abcDEF123", "type": "function", "function": {"name": "get_current_weather",
    "arguments": {"location": "Paris, France", "unit": "celsius"}}}

CONVERSATIONS = [
    ("plain", {"messages": [{"role": "user", "content": "Hello! Who are you?"}], "add_generation_prompt": True}),
    ("system", {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                             {"role": "user", "content": "What is 2+2?"}], "add_generation_prompt": True}),
    ("multi_turn", {"messages": [{"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": "Hi"},
                                 {"role": "assistant", "content": "Hello! How can I help?"},
                                 {"role": "user", "content": "Tell me a joke about \"quotes\" & ünïcödé 🚀"}],
                    "add_generation_prompt": True}),
    ("ends_with_assistant", {"messages": [{"role": "user", "content": "  spaced  \n"},
                                          {"role": "assistant", "content": "ok"}], "add_generation_prompt": False}),
    ("tools", {"messages": [{"role": "user", "content": "What is the weather like in Paris?"}],
               "tools": [WEATHER], "add_generation_prompt": True}),
    ("tool_round_trip", {"messages": [{"role": "user", "content": "What is the weather like in Paris?"},
                                      {"role": "assistant", "content": None, "tool_calls": [CALL]},
                                      {"role": "tool", "tool_call_id": "abcDEF123", "name": "get_current_weather",
                                       "content": "{\"temperature\": 22, \"unit\": \"celsius\"}"}],
                         "tools": [WEATHER], "add_generation_prompt": True}),
    ("not_alternating", {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
                         "add_generation_prompt": True}),
]

# The same round trip with the arguments as the JSON string OpenAI clients send.
_rt = CONVERSATIONS[5][1]
CONVERSATIONS.insert(6, ("tool_round_trip_string_args", dict(_rt, messages=[
    _rt["messages"][0],
    dict(_rt["messages"][1], tool_calls=[dict(CALL, function=dict(CALL["function"],
        arguments=json.dumps(CALL["function"]["arguments"], ensure_ascii=False)))]),
    _rt["messages"][2]])))

# Variables some templates need beyond HF's standard ones.
EXTRA_VARS = {
    "fireworks-ai-llama-3-firefunction-v2.jinja": {
        "functions": json.dumps([WEATHER["function"]], indent=4), "datetime": "2025-02-20"},
}

def main(tdir):
    for fn in sorted(os.listdir(tdir)):
        if not fn.endswith(".jinja"):
            continue
        src = open(os.path.join(tdir, fn), encoding="utf-8").read()
        tpl = env.from_string(src)
        for cname, conv in CONVERSATIONS:
            kw = dict(messages=conv["messages"], tools=conv.get("tools"), documents=None,
                      add_generation_prompt=conv["add_generation_prompt"],
                      bos_token="<s>", eos_token="</s>", **EXTRA_VARS.get(fn, {}))
            rec = {"template": fn, "name": cname, "messages": conv["messages"], "tools": conv.get("tools"),
                   "add_generation_prompt": conv["add_generation_prompt"], "extra_vars": EXTRA_VARS.get(fn, {}),
                   "strftime_now_utc": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"), "bos_token": "<s>", "eos_token": "</s>"}
            try:
                rec["prompt"] = tpl.render(**kw)
            except Exception as e:  # raise_exception or a runtime error
                rec["error"] = f"{type(e).__name__}: {e}"
            print(json.dumps(rec, ensure_ascii=False))

if __name__ == "__main__":
    main(sys.argv[1])
