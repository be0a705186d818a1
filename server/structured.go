package server

import (
	"encoding/json"

	"github.com/kiln-llm/kiln/server/openai"
)

// checkStructured validates response_format, tools and tool_choice, and
// answers a clear 400 for any that would change the output until
// constrained decoding and tool calling are wired in.
func checkStructured(p *openai.Sampling) error {
	if rf := p.ResponseFormat; rf != nil {
		switch rf.Type {
		case "text":
		case "json_object":
			return notImplemented("response_format", "response_format json_object (constrained decoding)")
		case "json_schema":
			if isNull(rf.JSONSchema) {
				return badParam("response_format.json_schema", "response_format.json_schema: required when type is json_schema")
			}
			return notImplemented("response_format", "response_format json_schema (constrained decoding)")
		default:
			return badParam("response_format.type", "response_format.type: %q; want text, json_object or json_schema", rf.Type)
		}
	}
	for i, t := range p.Tools {
		if t.Type != "function" {
			return badParam("tools", "tools[%d].type: %q; want function", i, t.Type)
		}
		if t.Function == nil || t.Function.Name == "" {
			return badParam("tools", "tools[%d].function.name: required", i)
		}
	}
	if !isNull(p.ToolChoice) {
		var s string
		var obj struct {
			Type     string `json:"type"`
			Function *struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		switch {
		case json.Unmarshal(p.ToolChoice, &s) == nil:
			if s != "none" && s != "auto" && s != "required" {
				return badParam("tool_choice", `tool_choice: %q; want "none", "auto", "required" or a function`, s)
			}
			if s == "required" {
				return notImplemented("tool_choice", "tool_choice required (tool calling)")
			}
		case json.Unmarshal(p.ToolChoice, &obj) == nil && obj.Type == "function" && obj.Function != nil && obj.Function.Name != "":
			return notImplemented("tool_choice", "tool_choice (tool calling)")
		default:
			return badParam("tool_choice", `tool_choice: want "none", "auto", "required" or {"type":"function","function":{"name":...}}`)
		}
	}
	if len(p.Tools) > 0 {
		return notImplemented("tools", "tools (tool calling)")
	}
	return nil
}
