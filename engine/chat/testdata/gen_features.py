#!/usr/bin/env python3
"""Renders the snippets of features-cases.json (one Jinja feature each) with
the transformers-like environment of gen_golden.py and writes features.jsonl:
{src, vars, want}; want is "ERROR <message>" when rendering raised.

Usage: python3 gen_features.py > features.jsonl
"""
import json, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_golden import env  # noqa: E402

MESSAGES = [{"role": "system", "content": "S"}, {"role": "user", "content": "U1"},
            {"role": "assistant", "content": "A"},
            {"role": "user", "content": [{"type": "text", "text": "part"}]}]

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for c in json.load(open(os.path.join(here, "features-cases.json"), encoding="utf-8")):
        try:
            want = env.from_string(c["src"]).render(messages=MESSAGES, **c.get("vars", {}))
        except Exception as e:
            want = "ERROR " + str(e)
        print(json.dumps({"src": c["src"], "vars": c.get("vars", {}), "want": want}, ensure_ascii=False))

if __name__ == "__main__":
    main()
